//! The per-session AES-256 key and IV, and their RSA-OAEP wrapping for the Ministry.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ksef_model::types::EncryptionInfo;
use rsa::rand_core::{OsRng, RngCore as _};
use zeroize::Zeroize;

use crate::certificate::MinistryCertificate;
use crate::error::{Error, Result};
use crate::keys::{PrivateKey, PublicKey};
use ksef_model::types::PublicKeyCertificateUsage;

/// Length of the AES-256 key in bytes.
pub const KEY_LEN: usize = 32;
/// Length of the AES-CBC initialization vector in bytes.
pub const IV_LEN: usize = 16;

/// A symmetric session key: an AES-256 key and the CBC initialization vector used with it.
///
/// KSeF uses one key and IV per session (or export): every invoice of an online session and every
/// part of a batch package is encrypted under it. Both are zeroized on drop, and `Debug` prints
/// neither.
pub struct SessionKey {
    key: [u8; KEY_LEN],
    iv: [u8; IV_LEN],
}

impl SessionKey {
    /// A fresh random key and IV from the operating system's random number generator.
    ///
    /// # Errors
    ///
    /// [`Error::Random`] if the operating system's generator fails.
    pub fn generate() -> Result<Self> {
        let mut session = Self {
            key: [0; KEY_LEN],
            iv: [0; IV_LEN],
        };
        OsRng
            .try_fill_bytes(&mut session.key)
            .and_then(|()| OsRng.try_fill_bytes(&mut session.iv))
            .map_err(|e| Error::Random {
                source: Box::new(e),
            })?;
        Ok(session)
    }

    /// A session key from existing bytes (for decryption, or tests).
    pub fn from_bytes(key: [u8; KEY_LEN], iv: [u8; IV_LEN]) -> Self {
        Self { key, iv }
    }

    /// A session key from slices, checking their lengths.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidLength`] unless the key is 32 bytes and the IV 16.
    pub fn from_slices(key: &[u8], iv: &[u8]) -> Result<Self> {
        let key = <[u8; KEY_LEN]>::try_from(key).map_err(|_| Error::InvalidLength {
            what: "AES-256 key",
            expected: KEY_LEN,
            actual: key.len(),
        })?;
        let iv = <[u8; IV_LEN]>::try_from(iv).map_err(|_| Error::InvalidLength {
            what: "initialization vector",
            expected: IV_LEN,
            actual: iv.len(),
        })?;
        Ok(Self { key, iv })
    }

    /// The secret AES-256 key. Handle with care: never log it.
    pub fn key(&self) -> &[u8; KEY_LEN] {
        &self.key
    }

    /// The initialization vector.
    pub fn iv(&self) -> &[u8; IV_LEN] {
        &self.iv
    }

    /// Wraps the key for KSeF with a Ministry certificate listed for
    /// [`PublicKeyCertificateUsage::SymmetricKeyEncryption`]: RSAES-OAEP (SHA-256, MGF1-SHA-256, empty
    /// label) of the 32 key bytes, plus the IV and the certificate's `publicKeyId`.
    ///
    /// # Errors
    ///
    /// [`Error::WrongCertificateUsage`] if the certificate is not listed for symmetric-key
    /// encryption, [`Error::UnsupportedKeyType`] if its key is not RSA, otherwise the errors of
    /// [`PublicKey::encrypt_oaep`].
    pub fn wrap(&self, certificate: &MinistryCertificate) -> Result<WrappedSessionKey> {
        certificate.require_usage(PublicKeyCertificateUsage::SymmetricKeyEncryption)?;
        let mut wrapped = self.wrap_with_key(certificate.public_key())?;
        wrapped.public_key_id = certificate.public_key_id().map(str::to_owned);
        Ok(wrapped)
    }

    /// Wraps the key with a bare public key (no usage check, no `publicKeyId`).
    ///
    /// # Errors
    ///
    /// The errors of [`PublicKey::encrypt_oaep`].
    pub fn wrap_with_key(&self, public_key: &PublicKey) -> Result<WrappedSessionKey> {
        Ok(WrappedSessionKey {
            encrypted_key: public_key.encrypt_oaep(&self.key)?,
            iv: self.iv,
            public_key_id: None,
        })
    }
}

impl Clone for SessionKey {
    fn clone(&self) -> Self {
        Self {
            key: self.key,
            iv: self.iv,
        }
    }
}

impl Drop for SessionKey {
    fn drop(&mut self) {
        self.key.zeroize();
        self.iv.zeroize();
    }
}

impl zeroize::ZeroizeOnDrop for SessionKey {}

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey { .. }")
    }
}

/// A session key wrapped for KSeF: what the spec's `EncryptionInfo` carries, as bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WrappedSessionKey {
    /// The RSA-OAEP ciphertext of the AES key.
    pub encrypted_key: Vec<u8>,
    /// The initialization vector (not secret).
    pub iv: [u8; IV_LEN],
    /// The `publicKeyId` of the certificate the key was wrapped for, if known.
    pub public_key_id: Option<String>,
}

impl WrappedSessionKey {
    /// The spec's `EncryptionInfo`: the key and the IV in base64, and the `publicKeyId` when
    /// known.
    pub fn to_encryption_info(&self) -> EncryptionInfo {
        let info = EncryptionInfo::new(
            STANDARD.encode(&self.encrypted_key),
            STANDARD.encode(self.iv),
        );
        match &self.public_key_id {
            Some(id) => info.with_public_key_id(id.clone()),
            None => info,
        }
    }

    /// Decodes the base64 fields of an `EncryptionInfo` (the simulator's side).
    ///
    /// # Errors
    ///
    /// [`Error::Base64`] for undecodable fields, [`Error::InvalidLength`] if the IV is not 16
    /// bytes.
    pub fn from_encryption_info(info: &EncryptionInfo) -> Result<Self> {
        let encrypted_key = STANDARD
            .decode(&info.encrypted_symmetric_key)
            .map_err(|e| Error::base64("encryptedSymmetricKey", e))?;
        let iv = STANDARD
            .decode(&info.initialization_vector)
            .map_err(|e| Error::base64("initializationVector", e))?;
        let iv = <[u8; IV_LEN]>::try_from(iv.as_slice()).map_err(|_| Error::InvalidLength {
            what: "initialization vector",
            expected: IV_LEN,
            actual: iv.len(),
        })?;
        Ok(Self {
            encrypted_key,
            iv,
            public_key_id: info.public_key_id.clone(),
        })
    }

    /// Unwraps the session key with the private key matching the certificate it was wrapped for.
    ///
    /// # Errors
    ///
    /// [`Error::RsaDecryption`] for a wrong key or damaged ciphertext, [`Error::InvalidLength`] if
    /// the decrypted key is not 32 bytes.
    pub fn unwrap_with(&self, private_key: &PrivateKey) -> Result<SessionKey> {
        let key = private_key.decrypt_oaep(&self.encrypted_key)?;
        if key.len() != KEY_LEN {
            return Err(Error::InvalidLength {
                what: "decrypted session key",
                expected: KEY_LEN,
                actual: key.len(),
            });
        }
        SessionKey::from_slices(&key, &self.iv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_fresh() {
        let a = SessionKey::generate().unwrap();
        let b = SessionKey::generate().unwrap();
        assert_ne!(a.key(), b.key());
        assert_ne!(a.iv(), b.iv());
        assert_ne!(a.key(), &[0; KEY_LEN]);
    }

    #[test]
    fn debug_shows_no_key_material() {
        let key = SessionKey::from_bytes([0xAB; KEY_LEN], [0xCD; IV_LEN]);
        let text = format!("{key:?} {:?}", key.clone());
        assert_eq!(text, "SessionKey { .. } SessionKey { .. }");
        assert!(!text.contains("171") && !text.to_lowercase().contains("ab"));
    }

    #[test]
    fn from_slices_checks_lengths() {
        assert!(SessionKey::from_slices(&[1; 32], &[2; 16]).is_ok());
        match SessionKey::from_slices(&[1; 31], &[2; 16]) {
            Err(Error::InvalidLength {
                expected: 32,
                actual: 31,
                ..
            }) => {}
            other => panic!("unexpected {other:?}"),
        }
        match SessionKey::from_slices(&[1; 32], &[2; 12]) {
            Err(Error::InvalidLength {
                what: "initialization vector",
                expected: 16,
                actual: 12,
            }) => {}
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn wrap_and_unwrap_round_trip() {
        let private = PrivateKey::generate(1024).unwrap();
        let session = SessionKey::generate().unwrap();
        let wrapped = session.wrap_with_key(&private.public_key()).unwrap();
        assert_eq!(wrapped.encrypted_key.len(), 128);
        assert_eq!(wrapped.public_key_id, None);

        let info = wrapped.to_encryption_info();
        assert_eq!(info.initialization_vector.len(), 24);
        let back = WrappedSessionKey::from_encryption_info(&info).unwrap();
        assert_eq!(back, wrapped);
        let unwrapped = back.unwrap_with(&private).unwrap();
        assert_eq!(unwrapped.key(), session.key());
        assert_eq!(unwrapped.iv(), session.iv());

        // OAEP is randomized: wrapping twice gives different ciphertexts.
        let again = session.wrap_with_key(&private.public_key()).unwrap();
        assert_ne!(again.encrypted_key, wrapped.encrypted_key);
    }

    #[test]
    fn unwrap_failures_are_typed() {
        let private = PrivateKey::generate(1024).unwrap();
        let other = PrivateKey::generate(1024).unwrap();
        let session = SessionKey::generate().unwrap();
        let wrapped = session.wrap_with_key(&private.public_key()).unwrap();
        assert!(matches!(
            wrapped.unwrap_with(&other),
            Err(Error::RsaDecryption {
                ciphertext_len: 128
            })
        ));
        let mut damaged = wrapped.clone();
        damaged.encrypted_key[5] ^= 1;
        assert!(matches!(
            damaged.unwrap_with(&private),
            Err(Error::RsaDecryption { .. })
        ));
        let mut short = wrapped.clone();
        short.encrypted_key.truncate(3);
        assert!(matches!(
            short.unwrap_with(&private),
            Err(Error::RsaDecryption { ciphertext_len: 3 })
        ));
        // A 16-byte "key" wrapped correctly is rejected for its length.
        let short_key = WrappedSessionKey {
            encrypted_key: private.public_key().encrypt_oaep(&[7; 16]).unwrap(),
            iv: [0; IV_LEN],
            public_key_id: None,
        };
        assert!(matches!(
            short_key.unwrap_with(&private),
            Err(Error::InvalidLength {
                what: "decrypted session key",
                expected: 32,
                actual: 16
            })
        ));

        let bad = EncryptionInfo::new("not base64!", "AAAAAAAAAAAAAAAAAAAAAA==");
        assert!(matches!(
            WrappedSessionKey::from_encryption_info(&bad),
            Err(Error::Base64 {
                field: "encryptedSymmetricKey",
                ..
            })
        ));
        let bad_iv = EncryptionInfo::new("AAAA", "AAAA");
        assert!(matches!(
            WrappedSessionKey::from_encryption_info(&bad_iv),
            Err(Error::InvalidLength { actual: 3, .. })
        ));
    }
}
