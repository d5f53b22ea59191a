crate::macros::boxed_response_future! {
    /// The response future of [`super::Retry`].
}
