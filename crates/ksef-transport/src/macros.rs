//! Small helpers shared by the layers.

/// Defines a layer's `ResponseFuture`: a named, boxed future of a complete response.
macro_rules! boxed_response_future {
    ($(#[$doc:meta])*) => {
        $(#[$doc])*
        pub struct ResponseFuture {
            inner: ::std::pin::Pin<
                Box<
                    dyn ::std::future::Future<
                            Output = Result<::http::Response<::bytes::Bytes>, crate::error::Error>,
                        > + Send,
                >,
            >,
        }

        impl ResponseFuture {
            pub(crate) fn new(
                future: impl ::std::future::Future<
                    Output = Result<::http::Response<::bytes::Bytes>, crate::error::Error>,
                > + Send
                + 'static,
            ) -> ResponseFuture {
                ResponseFuture {
                    inner: Box::pin(future),
                }
            }
        }

        impl ::std::future::Future for ResponseFuture {
            type Output = Result<::http::Response<::bytes::Bytes>, crate::error::Error>;

            fn poll(
                mut self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<Self::Output> {
                self.inner.as_mut().poll(cx)
            }
        }

        impl ::std::fmt::Debug for ResponseFuture {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct("ResponseFuture").finish_non_exhaustive()
            }
        }
    };
}

pub(crate) use boxed_response_future;
