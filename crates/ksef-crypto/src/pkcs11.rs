//! Signing with a key that stays on a PKCS#11 token (a smart card, an HSM, SoftHSM): the
//! [`Pkcs11Signer`] (feature `pkcs11`).
//!
//! The module (`.so`/`.dll`) is loaded at run time through `cryptoki`; nothing of it is linked at
//! build time. A module is initialised once per process and path, shared by every signer that uses
//! it, and finalised when the last of them is dropped.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use sha2::Digest as _;

use crate::error::{Error, Result};
use crate::keys::KeyAlgorithm;
use crate::signer::{SignatureAlgorithm, Signer};
use crate::x509::Certificate;

/// The DER of the named curve P-256 (`prime256v1`), as `CKA_EC_PARAMS` holds it.
const P256_PARAMS: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// How the key (and, with it, the certificate) is found on the token.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeySelector {
    /// By `CKA_LABEL`.
    Label(String),
    /// By `CKA_ID` (bytes; on the command line written in hex).
    Id(Vec<u8>),
}

impl std::fmt::Display for KeySelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Label(label) => write!(f, "label {label:?}"),
            Self::Id(id) => {
                f.write_str("id ")?;
                id.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }
    }
}

/// A module loaded and initialised in this process: the context and how many signers use it.
struct Loaded {
    context: Pkcs11,
    users: usize,
    /// Whether we initialised it (and so finalise it when the last user goes).
    ours: bool,
}

static MODULES: Mutex<Option<HashMap<PathBuf, Loaded>>> = Mutex::new(None);

fn modules() -> MutexGuard<'static, Option<HashMap<PathBuf, Loaded>>> {
    MODULES.lock().unwrap_or_else(|e| e.into_inner())
}

/// One user's hold on a loaded module; the module is finalised when the last hold is dropped.
struct Module {
    path: PathBuf,
    context: Pkcs11,
}

impl Module {
    fn load(path: &Path) -> Result<Module> {
        let mut guard = modules();
        let map = guard.get_or_insert_with(HashMap::new);
        if let Some(loaded) = map.get_mut(path) {
            loaded.users += 1;
            return Ok(Module {
                path: path.to_path_buf(),
                context: loaded.context.clone(),
            });
        }
        let load_error = |source: CkError| Error::Pkcs11ModuleLoad {
            path: path.to_path_buf(),
            source: Box::new(source),
        };
        let context = Pkcs11::new(path).map_err(load_error)?;
        let ours = match context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) => true,
            Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => false,
            Err(e) => return Err(load_error(e)),
        };
        map.insert(
            path.to_path_buf(),
            Loaded {
                context: context.clone(),
                users: 1,
                ours,
            },
        );
        Ok(Module {
            path: path.to_path_buf(),
            context,
        })
    }
}

impl Drop for Module {
    fn drop(&mut self) {
        let mut guard = modules();
        let Some(map) = guard.as_mut() else { return };
        let Some(loaded) = map.get_mut(&self.path) else {
            return;
        };
        loaded.users -= 1;
        if loaded.users == 0
            && let Some(loaded) = map.remove(&self.path)
            && loaded.ours
        {
            // Best effort: a module that fails to finalise is unloaded all the same.
            let _ = loaded.context.finalize();
        }
    }
}

/// A [`Signer`] whose private key stays on a PKCS#11 token: RSA (PKCS#1 v1.5 with SHA-256,
/// `CKM_SHA256_RSA_PKCS`) or ECDSA P-256 (`CKM_ECDSA` over a SHA-256 digest computed here; the
/// token's `R || S` is what XAdES wants).
///
/// The token is chosen by its label, the key by label or id ([`KeySelector`]); the certificate is
/// read from the token (the `CKO_CERTIFICATE` object with the key's id, or else its label) unless
/// one is given. The PIN is used once to log in and is not kept, except for a key marked
/// `CKA_ALWAYS_AUTHENTICATE` (a qualified-signature key on many cards), which wants a
/// context-specific login (`CKU_CONTEXT_SPECIFIC`) right after each `C_SignInit`: the signer keeps
/// the PIN in memory (wiped on drop) and signs such a key in multiple parts (`C_SignUpdate`,
/// `C_SignFinal`; ECDSA then with `CKM_ECDSA_SHA256`), since the one-call `C_Sign` leaves no
/// room for the login. Each signature is checked with
/// the certificate's public key before it is returned, so a certificate of another key is an error
/// ([`Error::KeyCertificateMismatch`]), never a signature KSeF would reject.
///
/// `Debug` shows the token, the key's selector and the certificate's subject, never the PIN.
pub struct Pkcs11Signer {
    // Declared before `module`: the session closes before the module may be finalised.
    session: Mutex<Session>,
    /// The PIN, kept only for a key with `CKA_ALWAYS_AUTHENTICATE` (a context-specific login
    /// before each signature); `AuthPin` wipes it on drop.
    context_pin: Option<AuthPin>,
    key: ObjectHandle,
    token: String,
    selector: KeySelector,
    algorithm: SignatureAlgorithm,
    certificate: Certificate,
    module: Module,
}

impl std::fmt::Debug for Pkcs11Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Signer")
            .field("module", &self.module.path)
            .field("token", &self.token)
            .field("key", &self.selector.to_string())
            .field("algorithm", &self.algorithm)
            .field("certificate", &self.certificate.subject())
            .finish()
    }
}

/// Maps a PKCS#11 failure of `operation` on `token` to our error: a removed token, a wrong or
/// locked PIN each get their own variant.
fn token_error(token: &str, operation: &'static str, error: CkError) -> Error {
    match error {
        CkError::Pkcs11(
            RvError::DeviceRemoved
            | RvError::TokenNotPresent
            | RvError::SessionHandleInvalid
            | RvError::SessionClosed,
            _,
        ) => Error::Pkcs11TokenRemoved {
            token: token.to_owned(),
        },
        CkError::Pkcs11(RvError::PinIncorrect, _) => Error::Pkcs11WrongPin {
            token: token.to_owned(),
        },
        CkError::Pkcs11(RvError::PinLocked, _) => Error::Pkcs11PinLocked {
            token: token.to_owned(),
        },
        other => Error::Pkcs11 {
            token: token.to_owned(),
            operation,
            source: Box::new(other),
        },
    }
}

impl Pkcs11Signer {
    /// Loads the PKCS#11 module at `module`, opens the token labelled `token`, logs in with
    /// `pin`, and finds the private key chosen by `key` and its certificate (`certificate`, or the
    /// token's own).
    ///
    /// # Errors
    ///
    /// [`Error::Pkcs11ModuleLoad`] (naming the path) if the module cannot be loaded or
    /// initialised; [`Error::Pkcs11TokenNotFound`] (listing the tokens present) if no token has
    /// that label; [`Error::Pkcs11WrongPin`] or [`Error::Pkcs11PinLocked`];
    /// [`Error::Pkcs11KeyNotFound`] if no private key matches; [`Error::Pkcs11CertificateNotFound`]
    /// if no certificate was given and the token holds none for the key;
    /// [`Error::Pkcs11UnsupportedKey`] for a key other than RSA or EC P-256;
    /// [`Error::KeyAlgorithmMismatch`] if the certificate is of another kind of key;
    /// [`Error::Pkcs11TokenRemoved`] if the token goes away meanwhile; [`Error::Pkcs11`] for any
    /// other failure the module reports.
    pub fn open(
        module: &Path,
        token: &str,
        pin: &str,
        key: &KeySelector,
        certificate: Option<Certificate>,
    ) -> Result<Self> {
        let module = Module::load(module)?;
        let fail = |operation: &'static str| move |e: CkError| token_error(token, operation, e);
        let slot = find_slot(&module.context, token)?;
        let session = module
            .context
            .open_ro_session(slot)
            .map_err(fail("open a session"))?;
        let pin = AuthPin::new(pin.into());
        match session.login(UserType::User, Some(&pin)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(e) => return Err(token_error(token, "log in", e)),
        }

        let by = |class: ObjectClass, selector: &KeySelector| {
            let mut template = vec![Attribute::Class(class)];
            template.push(match selector {
                KeySelector::Label(label) => Attribute::Label(label.as_bytes().to_vec()),
                KeySelector::Id(id) => Attribute::Id(id.clone()),
            });
            template
        };
        let keys = session
            .find_objects(&by(ObjectClass::PRIVATE_KEY, key))
            .map_err(fail("find the key"))?;
        let Some(&handle) = keys.first() else {
            return Err(Error::Pkcs11KeyNotFound {
                token: token.to_owned(),
                key: key.to_string(),
            });
        };
        let attributes = session
            .get_attributes(
                handle,
                &[
                    AttributeType::KeyType,
                    AttributeType::Id,
                    AttributeType::Label,
                    AttributeType::EcParams,
                    AttributeType::AlwaysAuthenticate,
                ],
            )
            .map_err(fail("read the key's attributes"))?;
        let (mut key_type, mut id, mut label, mut params) = (None, Vec::new(), Vec::new(), None);
        let mut always_authenticate = false;
        for attribute in attributes {
            match attribute {
                Attribute::KeyType(t) => key_type = Some(t),
                Attribute::Id(v) => id = v,
                Attribute::Label(v) => label = v,
                Attribute::EcParams(v) => params = Some(v),
                Attribute::AlwaysAuthenticate(v) => always_authenticate = v,
                _ => {}
            }
        }
        // A key that wants the PIN before each signature keeps it (wiped on drop); any other
        // key drops it now.
        let context_pin = always_authenticate.then_some(pin);
        let algorithm = match key_type {
            Some(KeyType::RSA) => SignatureAlgorithm::RsaSha256,
            Some(KeyType::EC) if params.as_deref() == Some(&P256_PARAMS[..]) => {
                SignatureAlgorithm::EcdsaP256Sha256
            }
            Some(KeyType::EC) => {
                return Err(Error::Pkcs11UnsupportedKey {
                    what: "an EC key on a curve other than P-256".to_owned(),
                });
            }
            other => {
                return Err(Error::Pkcs11UnsupportedKey {
                    what: format!(
                        "of type {}",
                        other.map_or_else(|| "unknown".to_owned(), |t| t.to_string())
                    ),
                });
            }
        };

        let certificate = match certificate {
            Some(certificate) => certificate,
            None => {
                let mut found = Vec::new();
                if !id.is_empty() {
                    found = session
                        .find_objects(&by(ObjectClass::CERTIFICATE, &KeySelector::Id(id)))
                        .map_err(fail("find the certificate"))?;
                }
                if found.is_empty() && !label.is_empty() {
                    let label = String::from_utf8_lossy(&label).into_owned();
                    found = session
                        .find_objects(&by(ObjectClass::CERTIFICATE, &KeySelector::Label(label)))
                        .map_err(fail("find the certificate"))?;
                }
                let Some(&cert_handle) = found.first() else {
                    return Err(Error::Pkcs11CertificateNotFound {
                        token: token.to_owned(),
                        key: key.to_string(),
                    });
                };
                let value = session
                    .get_attributes(cert_handle, &[AttributeType::Value])
                    .map_err(fail("read the certificate"))?;
                let der = value
                    .into_iter()
                    .find_map(|a| match a {
                        Attribute::Value(v) => Some(v),
                        _ => None,
                    })
                    .unwrap_or_default();
                Certificate::from_der(&der)?
            }
        };
        let matches = matches!(
            (algorithm, certificate.public_key().algorithm()),
            (SignatureAlgorithm::RsaSha256, KeyAlgorithm::Rsa { .. })
                | (SignatureAlgorithm::EcdsaP256Sha256, KeyAlgorithm::Ec { .. })
        );
        if !matches {
            return Err(Error::KeyAlgorithmMismatch {
                algorithm: algorithm.name(),
                key: certificate.public_key().algorithm().to_string(),
            });
        }
        Ok(Self {
            session: Mutex::new(session),
            context_pin,
            key: handle,
            token: token.to_owned(),
            selector: key.clone(),
            algorithm,
            certificate,
            module,
        })
    }

    /// The signing certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// The token's label.
    pub fn token(&self) -> &str {
        &self.token
    }
}

/// The slot holding the token labelled `label` (labels are compared without their padding).
fn find_slot(context: &Pkcs11, label: &str) -> Result<Slot> {
    let fail = |e: CkError| Error::Pkcs11 {
        token: label.to_owned(),
        operation: "list the tokens",
        source: Box::new(e),
    };
    let mut present = Vec::new();
    for slot in context.get_slots_with_initialized_token().map_err(fail)? {
        let info = match context.get_token_info(slot) {
            Ok(info) => info,
            // A token that went away between the listing and this call is not the one.
            Err(_) => continue,
        };
        let name = info.label().trim_end().to_owned();
        if name == label.trim_end() {
            return Ok(slot);
        }
        present.push(name);
    }
    Err(Error::Pkcs11TokenNotFound {
        token: label.to_owned(),
        present,
    })
}

impl Signer for Pkcs11Signer {
    fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    fn certificate_der(&self) -> &[u8] {
        self.certificate.der()
    }

    fn sign(&self, data: &[u8]) -> Result<Vec<u8>> {
        let session = self.session.lock().unwrap_or_else(|e| e.into_inner());
        let signature = match (&self.context_pin, self.algorithm) {
            (Some(pin), algorithm) => {
                let mechanism = match algorithm {
                    SignatureAlgorithm::RsaSha256 => Mechanism::Sha256RsaPkcs,
                    SignatureAlgorithm::EcdsaP256Sha256 => Mechanism::EcdsaSha256,
                };
                session.sign_init(&mechanism, self.key).and_then(|()| {
                    session
                        .login(UserType::ContextSpecific, Some(pin))
                        .and_then(|()| session.sign_update(data))
                        .and_then(|()| session.sign_final())
                })
            }
            (None, SignatureAlgorithm::RsaSha256) => {
                session.sign(&Mechanism::Sha256RsaPkcs, self.key, data)
            }
            (None, SignatureAlgorithm::EcdsaP256Sha256) => {
                let digest = sha2::Sha256::digest(data);
                session.sign(&Mechanism::Ecdsa, self.key, &digest)
            }
        }
        .map_err(|e| match e {
            // The key was found when the signer was opened: gone now, the token went with it.
            CkError::Pkcs11(RvError::KeyHandleInvalid | RvError::ObjectHandleInvalid, _) => {
                Error::Pkcs11TokenRemoved {
                    token: self.token.clone(),
                }
            }
            other => token_error(&self.token, "sign", other),
        })?;
        drop(session);
        self.certificate
            .public_key()
            .verify(self.algorithm, data, &signature)
            .map_err(|_| Error::KeyCertificateMismatch)?;
        Ok(signature)
    }
}
