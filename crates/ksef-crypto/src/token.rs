//! KSeF-token encryption for `POST /auth/ksef-token`.
//!
//! The payload is the UTF-8 text `"{token}|{challengeTimestampMs}"`, where the timestamp is the
//! challenge's `timestampMs` in decimal, encrypted with RSAES-OAEP (SHA-256, MGF1-SHA-256, empty
//! label) under the Ministry certificate listed for [`PublicKeyCertificateUsage::KsefTokenEncryption`].
//! Only RSA keys are supported: an EC key gives [`Error::UnsupportedKeyType`]; the crate
//! documentation ("RSA only") says why the EC variant is not implemented.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::certificate::MinistryCertificate;
use crate::error::{Error, Result};
use crate::keys::{PrivateKey, PublicKey};
use ksef_model::types::PublicKeyCertificateUsage;

/// Encrypts a KSeF token and the challenge's `timestampMs` for `/auth/ksef-token`, with a Ministry
/// certificate listed for [`PublicKeyCertificateUsage::KsefTokenEncryption`].
///
/// # Errors
///
/// [`Error::WrongCertificateUsage`] if the certificate is not listed for token encryption,
/// [`Error::UnsupportedKeyType`] if its key is not RSA, [`Error::MessageTooLong`] if the token does
/// not fit the key, [`Error::RsaEncryption`] if encryption fails.
pub fn encrypt_ksef_token(
    certificate: &MinistryCertificate,
    token: &str,
    challenge_timestamp_ms: i64,
) -> Result<EncryptedKsefToken> {
    certificate.require_usage(PublicKeyCertificateUsage::KsefTokenEncryption)?;
    let mut encrypted =
        encrypt_ksef_token_with_key(certificate.public_key(), token, challenge_timestamp_ms)?;
    encrypted.public_key_id = certificate.public_key_id().map(str::to_owned);
    Ok(encrypted)
}

/// Like [`encrypt_ksef_token`], with a bare public key (no usage check, no `publicKeyId`).
///
/// # Errors
///
/// The errors of [`PublicKey::encrypt_oaep`].
pub fn encrypt_ksef_token_with_key(
    public_key: &PublicKey,
    token: &str,
    challenge_timestamp_ms: i64,
) -> Result<EncryptedKsefToken> {
    let payload = Zeroizing::new(format!("{token}|{challenge_timestamp_ms}"));
    Ok(EncryptedKsefToken {
        ciphertext: public_key.encrypt_oaep(payload.as_bytes())?,
        public_key_id: None,
    })
}

/// Decrypts an `encryptedToken` (the simulator's side): the token and the challenge timestamp.
///
/// The payload is split at its last `|`, so tokens that themselves contain `|` come back whole.
///
/// # Errors
///
/// [`Error::RsaDecryption`] for a wrong key or damaged ciphertext,
/// [`Error::MalformedTokenPayload`] if the plaintext is not `"{token}|{timestampMs}"`.
pub fn decrypt_ksef_token(
    private_key: &PrivateKey,
    ciphertext: &[u8],
) -> Result<DecryptedKsefToken> {
    let plaintext = private_key.decrypt_oaep(ciphertext)?;
    let text = std::str::from_utf8(&plaintext).map_err(|_| Error::MalformedTokenPayload {
        reason: "the payload is not UTF-8",
    })?;
    let (token, timestamp) = text.rsplit_once('|').ok_or(Error::MalformedTokenPayload {
        reason: "the payload has no '|' separator",
    })?;
    if token.is_empty() {
        return Err(Error::MalformedTokenPayload {
            reason: "the token is empty",
        });
    }
    let well_formed = !timestamp.is_empty()
        && timestamp
            .strip_prefix('-')
            .unwrap_or(timestamp)
            .bytes()
            .all(|b| b.is_ascii_digit());
    let challenge_timestamp_ms = timestamp
        .parse::<i64>()
        .ok()
        .filter(|_| well_formed)
        .ok_or(Error::MalformedTokenPayload {
            reason: "the timestamp is not a decimal integer of milliseconds",
        })?;
    Ok(DecryptedKsefToken {
        token: Zeroizing::new(token.to_owned()),
        challenge_timestamp_ms,
    })
}

/// An encrypted KSeF token, ready for the `encryptedToken` and `publicKeyId` fields.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EncryptedKsefToken {
    /// The RSA-OAEP ciphertext.
    pub ciphertext: Vec<u8>,
    /// The `publicKeyId` of the certificate it was encrypted for, if known.
    pub public_key_id: Option<String>,
}

impl EncryptedKsefToken {
    /// The ciphertext in standard base64, for `encryptedToken`.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(&self.ciphertext)
    }

    /// Decodes an `encryptedToken` field (the simulator's side).
    ///
    /// # Errors
    ///
    /// [`Error::Base64`] if the text is not base64.
    pub fn from_base64(encrypted_token: &str, public_key_id: Option<String>) -> Result<Self> {
        let ciphertext = STANDARD
            .decode(encrypted_token)
            .map_err(|e| Error::base64("encryptedToken", e))?;
        Ok(Self {
            ciphertext,
            public_key_id,
        })
    }

    /// Decrypts with the private key matching the certificate; see [`decrypt_ksef_token`].
    ///
    /// # Errors
    ///
    /// The errors of [`decrypt_ksef_token`].
    pub fn decrypt(&self, private_key: &PrivateKey) -> Result<DecryptedKsefToken> {
        decrypt_ksef_token(private_key, &self.ciphertext)
    }
}

/// A decrypted KSeF-token payload. The token is zeroized on drop and `Debug` does not print it.
#[derive(Clone)]
pub struct DecryptedKsefToken {
    token: Zeroizing<String>,
    challenge_timestamp_ms: i64,
}

impl DecryptedKsefToken {
    /// The secret KSeF token. Handle with care: never log it.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The challenge's `timestampMs` the token was encrypted with.
    pub fn challenge_timestamp_ms(&self) -> i64 {
        self.challenge_timestamp_ms
    }
}

impl std::fmt::Debug for DecryptedKsefToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecryptedKsefToken")
            .field("token", &"<redacted>")
            .field("challenge_timestamp_ms", &self.challenge_timestamp_ms)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> PrivateKey {
        PrivateKey::generate(1024).unwrap()
    }

    #[test]
    fn round_trip_keeps_pipes_inside_the_token() {
        let private = PrivateKey::generate(2048).unwrap();
        // KSeF tokens themselves contain '|'; the timestamp is after the last one.
        let token = "20251010-EC-0123456789-ABCDEF0123-45|nip-5265877635|0123abcd";
        let encrypted =
            encrypt_ksef_token_with_key(&private.public_key(), token, 1_752_236_636_015).unwrap();
        let raw = private.decrypt_oaep(&encrypted.ciphertext).unwrap();
        assert_eq!(raw.as_slice(), format!("{token}|1752236636015").as_bytes());
        let back = EncryptedKsefToken::from_base64(&encrypted.to_base64(), None)
            .unwrap()
            .decrypt(&private)
            .unwrap();
        assert_eq!(back.token(), token);
        assert_eq!(back.challenge_timestamp_ms(), 1_752_236_636_015);
        let debug = format!("{back:?}");
        assert!(!debug.contains("nip-5265877635"), "{debug}");
        assert!(debug.contains("1752236636015"));
    }

    #[test]
    fn malformed_payloads_are_typed_errors() {
        let private = key();
        let public = private.public_key();
        for (payload, reason) in [
            (&b"no separator"[..], "separator"),
            (b"|123", "empty"),
            (b"token|", "timestamp"),
            (b"token|12x", "timestamp"),
            (b"token|+12", "timestamp"),
            (b"token|99999999999999999999", "timestamp"),
            (b"tok\xffen|123", "UTF-8"),
        ] {
            let ciphertext = public.encrypt_oaep(payload).unwrap();
            match decrypt_ksef_token(&private, &ciphertext) {
                Err(e @ Error::MalformedTokenPayload { .. }) => {
                    assert!(e.to_string().contains(reason), "{e}");
                    assert!(!e.to_string().contains("token|"), "{e}");
                }
                other => panic!("unexpected {other:?} for {payload:?}"),
            }
        }
        let negative = public.encrypt_oaep(b"t|-5").unwrap();
        assert_eq!(
            decrypt_ksef_token(&private, &negative)
                .unwrap()
                .challenge_timestamp_ms(),
            -5
        );
    }

    #[test]
    fn too_long_tokens_are_rejected_before_encrypting() {
        let private = key();
        let token = "x".repeat(100);
        match encrypt_ksef_token_with_key(&private.public_key(), &token, 1) {
            Err(e @ Error::MessageTooLong { len: 102, max: 62 }) => {
                assert!(!e.to_string().contains("xxx"));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            EncryptedKsefToken::from_base64("***", None),
            Err(Error::Base64 {
                field: "encryptedToken",
                ..
            })
        ));
    }
}
