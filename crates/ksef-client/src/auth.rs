//! Logging in and out.
//!
//! Every KSeF authentication has the same tail: the server answers the start of an
//! authentication with a reference number and an authentication token, the client polls
//! `GET /auth/{referenceNumber}` until the status is no longer 100, and then redeems the access
//! and refresh tokens. [`Client::login_with_ksef_token`] starts one with a KSeF token;
//! [`Client::complete_authentication`] is the shared tail, so a login with a XAdES-signed
//! `AuthTokenRequest` sends the signed document and hands the answer to it:
//! [`Client::login_with_certificate`] signs with a [`Signer`]; [`Client::unsigned_auth_request`]
//! and [`Client::login_with_signed_request`] split the login for signing elsewhere.

use std::fmt;

use chrono::{DateTime, FixedOffset, Utc};
use ksef_crypto::encrypt_ksef_token;
use ksef_model::operations::{
    AuthenticateWithKsefToken, AuthenticateWithXadesSignature, GetAuthStatus, GetChallenge,
    RedeemToken, RefreshAccessToken, RevokeCurrentAuthSession,
};
use ksef_model::types::PublicKeyCertificateUsage;
use ksef_model::types::{
    AuthenticationContextIdentifier, AuthenticationContextIdentifierType,
    AuthenticationInitResponse, InitTokenAuthenticationRequest, TokenInfo,
};
use ksef_model::values::{Challenge, InternalId, Nip, NipVatUe, PeppolId, ReferenceNumber};
use ksef_transport::{Token, TokenKind};
use ksef_xades::Signer;
use ksef_xades::request::{AuthTokenRequest, ContextIdentifier, SubjectIdentifierType};
use ksef_xades::xades::{SignOptions, sign_with};

use crate::client::Client;
use crate::error::Error;

/// KSeF error code: the `publicKeyId` is unknown or withdrawn.
pub(crate) const UNKNOWN_PUBLIC_KEY_ID: i64 = 21470;

/// Whom the client acts for: the context of an authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthContext {
    /// A taxpayer by NIP.
    Nip(Nip),
    /// An internal identifier (NIP + `-` + 5 digits).
    InternalId(InternalId),
    /// A NIP combined with an EU VAT number.
    NipVatUe(NipVatUe),
    /// A Peppol service provider.
    PeppolId(PeppolId),
}

impl AuthContext {
    /// The identifier as the authentication request carries it.
    pub fn to_identifier(&self) -> AuthenticationContextIdentifier {
        let (kind, value) = match self {
            AuthContext::Nip(v) => (AuthenticationContextIdentifierType::Nip, v.as_str()),
            AuthContext::InternalId(v) => {
                (AuthenticationContextIdentifierType::InternalId, v.as_str())
            }
            AuthContext::NipVatUe(v) => (AuthenticationContextIdentifierType::NipVatUe, v.as_str()),
            AuthContext::PeppolId(v) => (AuthenticationContextIdentifierType::PeppolId, v.as_str()),
        };
        AuthenticationContextIdentifier::new(kind, value)
    }
}

impl From<Nip> for AuthContext {
    fn from(nip: Nip) -> Self {
        AuthContext::Nip(nip)
    }
}

impl From<InternalId> for AuthContext {
    fn from(id: InternalId) -> Self {
        AuthContext::InternalId(id)
    }
}

impl From<NipVatUe> for AuthContext {
    fn from(id: NipVatUe) -> Self {
        AuthContext::NipVatUe(id)
    }
}

impl From<PeppolId> for AuthContext {
    fn from(id: PeppolId) -> Self {
        AuthContext::PeppolId(id)
    }
}

/// A KSeF token (the secret returned once by `POST /tokens`). Its `Debug` output is redacted.
#[derive(Clone)]
pub struct KsefToken(String);

impl KsefToken {
    /// Wraps the secret.
    pub fn new(secret: impl Into<String>) -> Self {
        KsefToken(secret.into())
    }

    /// The secret itself. Do not log it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for KsefToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KsefToken(<redacted>)")
    }
}

impl From<String> for KsefToken {
    fn from(secret: String) -> Self {
        KsefToken(secret)
    }
}

impl From<&str> for KsefToken {
    fn from(secret: &str) -> Self {
        KsefToken(secret.to_owned())
    }
}

/// A finished login: the tokens are in the client's token store.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoginSession {
    /// The authentication's reference number (what `auth().revoke_session` takes).
    pub reference_number: ReferenceNumber,
    /// When the access token expires (it is refreshed automatically).
    pub access_valid_until: DateTime<FixedOffset>,
    /// When the refresh token expires; log in again after that.
    pub refresh_valid_until: DateTime<FixedOffset>,
}

/// The context as an `AuthTokenRequest` carries it.
fn xades_context(context: &AuthContext) -> Result<ContextIdentifier, Error> {
    Ok(match context {
        AuthContext::Nip(v) => ContextIdentifier::Nip(v.clone()),
        AuthContext::InternalId(v) => ContextIdentifier::InternalId(v.clone()),
        AuthContext::NipVatUe(v) => ContextIdentifier::NipVatUe(v.clone()),
        AuthContext::PeppolId(_) => {
            return Err(Error::Xades {
                source: ksef_xades::Error::InvalidRequest {
                    reason: "a PeppolId context is not supported in a signed AuthTokenRequest"
                        .to_owned(),
                },
            });
        }
    })
}

/// A failure with an unknown outcome of a login that cannot start again by itself, as
/// [`Error::LoginNotRepeatable`]; every other failure as it is.
fn not_repeatable(error: Error) -> Error {
    if error.outcome_unknown() {
        Error::LoginNotRepeatable {
            source: Box::new(error),
        }
    } else {
        error
    }
}

fn token_of(info: &TokenInfo) -> Token {
    Token::new(info.token.clone()).with_valid_until(info.valid_until.with_timezone(&Utc))
}

impl Client {
    /// Logs in with a KSeF token in `context`: fetches a challenge, encrypts
    /// `token|timestampMs` for the Ministry's `KsefTokenEncryption` certificate (cached per
    /// client, fetched again if KSeF reports 21470), starts the authentication, waits for it and
    /// redeems the tokens into the token store. When a step ends with an unknown outcome (a
    /// reset or a cut-off answer after KSeF may have processed it, a 5xx), the login starts again
    /// from a new challenge, at most the client's `ceremony_attempts` times.
    ///
    /// # Errors
    ///
    /// [`Error::AuthenticationFailed`] with KSeF's status if the authentication was refused,
    /// [`Error::PollTimeout`] if it did not finish in time, [`Error::Transport`] and
    /// [`Error::Crypto`] for failures along the way.
    pub async fn login_with_ksef_token(
        &self,
        context: impl Into<AuthContext>,
        token: impl Into<KsefToken>,
    ) -> Result<LoginSession, Error> {
        let context = context.into().to_identifier();
        let token = token.into();
        self.repeat_login(|| self.ksef_token_login_once(&context, &token))
            .await
    }

    /// Runs `login` (one whole ceremony, from a new challenge to the redeemed tokens) again while
    /// a step ends with an unknown outcome (a reset or a cut-off answer after KSeF may have
    /// processed the request, a 5xx), at most `ceremony_attempts` times. A started and abandoned
    /// authentication is harmless: its tokens are never redeemed or simply expire. A definite
    /// refusal (a 4xx, a failure status of the authentication) ends the login at once.
    async fn repeat_login<F, Fut>(&self, mut login: F) -> Result<LoginSession, Error>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<LoginSession, Error>>,
    {
        let attempts = self.inner.ceremony_attempts;
        let mut attempt = 1;
        loop {
            match login().await {
                Err(error) if error.outcome_unknown() && attempt < attempts => {
                    tracing::info!(
                        attempt,
                        error = %error,
                        "a login step ended with an unknown outcome; starting again from a new challenge"
                    );
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn ksef_token_login_once(
        &self,
        context: &AuthenticationContextIdentifier,
        token: &KsefToken,
    ) -> Result<LoginSession, Error> {
        let mut refetched = false;
        let init = loop {
            let challenge = self.execute(&GetChallenge::new()).await?;
            let certificate = self
                .ministry_certificate(PublicKeyCertificateUsage::KsefTokenEncryption)
                .await?;
            let encrypted =
                encrypt_ksef_token(&certificate, token.expose_secret(), challenge.timestamp_ms)?;
            let mut request = InitTokenAuthenticationRequest::new(
                challenge.challenge,
                context.clone(),
                encrypted.to_base64(),
            );
            if let Some(id) = encrypted.public_key_id {
                request = request.with_public_key_id(id);
            }
            match self.execute(&AuthenticateWithKsefToken::new(request)).await {
                Ok(init) => break init,
                Err(error) if error.has_code(UNKNOWN_PUBLIC_KEY_ID) && !refetched => {
                    tracing::info!("KSeF does not know the token encryption key; refetching");
                    self.invalidate_ministry_certificates().await;
                    refetched = true;
                }
                Err(error) => return Err(error),
            }
        };
        self.finish_authentication(init).await
    }

    /// Logs in with a certificate: fetches a challenge, builds the `AuthTokenRequest` for
    /// `context` identifying the subject by `subject_type`, signs it with `signer` (XAdES-BES,
    /// enveloped), sends it to `POST /auth/xades-signature`, waits for the authentication and
    /// redeems the tokens into the token store. Repeated from a new challenge like
    /// [`Client::login_with_ksef_token`].
    ///
    /// `signer` is typically a [`ksef_crypto::KeySigner`] (RSA or ECDSA P-256 key with its
    /// certificate); on KSeF's TEST environment self-signed certificates (`TestCertificate`,
    /// with the `test-util` feature) are accepted.
    ///
    /// # Errors
    ///
    /// [`Error::Xades`] if the request cannot be built or signed (a `PeppolId` context cannot be
    /// carried by an `AuthTokenRequest` of this library), [`Error::AuthenticationFailed`] with
    /// KSeF's status if the authentication was refused (e.g. 415 no permissions, 460 certificate
    /// error), [`Error::PollTimeout`], [`Error::Transport`] (e.g. 400 with 9105 invalid
    /// signature).
    pub async fn login_with_certificate(
        &self,
        context: impl Into<AuthContext>,
        signer: &(dyn Signer + Sync),
        subject_type: SubjectIdentifierType,
    ) -> Result<LoginSession, Error> {
        let context = &xades_context(&context.into())?;
        let subject_type = &subject_type;
        self.repeat_login(|| async move {
            let challenge = self.execute(&GetChallenge::new()).await?.challenge;
            let request = AuthTokenRequest::new(challenge, context.clone())
                .with_subject_identifier_type(*subject_type);
            let signed = sign_with(&request.to_xml()?, signer, &SignOptions::new())?;
            self.submit_signed_request(signed).await
        })
        .await
    }

    /// The first half of a login signed elsewhere (a qualified signature application, an
    /// external service): fetches a challenge and returns it with the unsigned
    /// `AuthTokenRequest` for `context` and `subject_type`. Sign the document, then pass the
    /// result and the challenge to [`Client::login_with_signed_request`] before the challenge
    /// expires (10 minutes on KSeF).
    ///
    /// # Errors
    ///
    /// [`Error::Xades`] for a context the request cannot carry (`PeppolId`),
    /// [`Error::Transport`].
    pub async fn unsigned_auth_request(
        &self,
        context: impl Into<AuthContext>,
        subject_type: SubjectIdentifierType,
    ) -> Result<(Challenge, Vec<u8>), Error> {
        let context = xades_context(&context.into())?;
        let challenge = self.execute(&GetChallenge::new()).await?.challenge;
        let request = AuthTokenRequest::new(challenge.clone(), context)
            .with_subject_identifier_type(subject_type);
        let unsigned = ksef_xades::external::unsigned_request(&request)?;
        Ok((challenge, unsigned))
    }

    /// The second half of a login signed elsewhere: checks locally that `signed` carries one
    /// valid XAdES signature and answers `expected_challenge` (the one
    /// [`Client::unsigned_auth_request`] returned), then submits it and completes the login
    /// like [`Client::login_with_certificate`].
    ///
    /// Unlike a login with a [`Signer`], this one cannot start again from a new challenge after
    /// a step ends with an unknown outcome: the signed request answers one challenge only and
    /// cannot be signed again here. It then fails with [`Error::LoginNotRepeatable`]; fetch a
    /// new request with [`Client::unsigned_auth_request`], sign it and submit it.
    ///
    /// # Errors
    ///
    /// [`Error::Xades`] if the local check fails (a broken signature, another challenge;
    /// nothing is sent), [`Error::LoginNotRepeatable`], then as for
    /// [`Client::login_with_certificate`].
    pub async fn login_with_signed_request(
        &self,
        signed: Vec<u8>,
        expected_challenge: &Challenge,
    ) -> Result<LoginSession, Error> {
        ksef_xades::external::check_signed_request(&signed, expected_challenge.as_str())?;
        self.submit_signed_request(signed)
            .await
            .map_err(not_repeatable)
    }

    async fn submit_signed_request(&self, signed: Vec<u8>) -> Result<LoginSession, Error> {
        let init = self
            .execute(&AuthenticateWithXadesSignature::new(signed))
            .await?;
        self.finish_authentication(init).await
    }

    /// The shared tail of every login: stores the authentication token, polls the
    /// authentication's status with backoff until it is no longer 100, and redeems the access
    /// and refresh tokens into the token store.
    ///
    /// This is the extension point for other ways to start an authentication: any
    /// [`AuthenticationInitResponse`] (e.g. of a XAdES-signed `AuthTokenRequest` sent with
    /// [`crate::services::AuthApi::xades_signature`]) can be passed here.
    ///
    /// A status read that fails in passing (a reset, a 5xx) is read again within the poll
    /// timeout. A redeem whose outcome is unknown cannot be repeated (KSeF redeems an
    /// authentication once) and this tail cannot start a new authentication: it then fails with
    /// [`Error::LoginNotRepeatable`] (the login methods of this client start again on their own).
    ///
    /// # Errors
    ///
    /// [`Error::AuthenticationFailed`], [`Error::PollTimeout`], [`Error::LoginNotRepeatable`],
    /// [`Error::Transport`], [`Error::TokenStore`].
    pub async fn complete_authentication(
        &self,
        init: AuthenticationInitResponse,
    ) -> Result<LoginSession, Error> {
        self.finish_authentication(init)
            .await
            .map_err(not_repeatable)
    }

    /// [`Client::complete_authentication`] with the failures as they are, for the ceremonies
    /// that start again from a new challenge themselves.
    async fn finish_authentication(
        &self,
        init: AuthenticationInitResponse,
    ) -> Result<LoginSession, Error> {
        let store = self.token_store();
        store.save(
            TokenKind::Authentication,
            token_of(&init.authentication_token),
        )?;
        let reference_number = init.reference_number;
        let mut backoff = self.inner.poll.start();
        loop {
            let read = self
                .execute(&GetAuthStatus::new(reference_number.clone()))
                .await;
            let what = || format!("authentication {reference_number}");
            let Some(status) = backoff.read(what, read).await? else {
                continue;
            };
            let status = status.status;
            match status.code {
                100 => {
                    backoff
                        .wait_or_time_out(|| format!("authentication {reference_number}"))
                        .await?;
                }
                200 => break,
                code => {
                    return Err(Error::AuthenticationFailed {
                        reference_number,
                        code,
                        description: status.description,
                        details: status.details.unwrap_or_default(),
                    });
                }
            }
        }
        let tokens = self.execute(&RedeemToken::new()).await?;
        store.save(TokenKind::Access, token_of(&tokens.access_token))?;
        store.save(TokenKind::Refresh, token_of(&tokens.refresh_token))?;
        Ok(LoginSession {
            reference_number,
            access_valid_until: tokens.access_token.valid_until,
            refresh_valid_until: tokens.refresh_token.valid_until,
        })
    }

    /// Refreshes the access token now and stores it. Not normally needed: the transport
    /// refreshes on its own shortly before the access token expires and after a 401.
    ///
    /// # Errors
    ///
    /// [`Error::Transport`] (e.g. no refresh token), [`Error::TokenStore`].
    pub async fn refresh_access_token(&self) -> Result<DateTime<FixedOffset>, Error> {
        let refreshed = self.execute(&RefreshAccessToken::new()).await?;
        self.token_store()
            .save(TokenKind::Access, token_of(&refreshed.access_token))?;
        Ok(refreshed.access_token.valid_until)
    }

    /// Revokes the current authentication session (its refresh token stops working; access
    /// tokens already issued stay valid until they expire) and clears the token store.
    ///
    /// # Errors
    ///
    /// [`Error::Transport`] if the revocation failed (the store is then left as it was),
    /// [`Error::TokenStore`].
    pub async fn logout(&self) -> Result<(), Error> {
        self.execute(&RevokeCurrentAuthSession::new()).await?;
        Ok(self.token_store().clear()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ksef_token_debug_is_redacted() {
        let token = KsefToken::from("20250101-EC-ABCDEF|nip-123|secret");
        assert!(!format!("{token:?}").contains("secret"));
        assert!(token.expose_secret().ends_with("secret"));
    }

    #[test]
    fn context_maps_to_the_wire_identifier() {
        let nip: Nip = "5265877635".parse().unwrap();
        let identifier = AuthContext::from(nip).to_identifier();
        assert_eq!(identifier.r#type, AuthenticationContextIdentifierType::Nip);
        assert_eq!(identifier.value, "5265877635");
    }
}
