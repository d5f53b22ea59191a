//! Where a signing key comes from (`auth login` and `xades sign`): a certificate with its PKCS#8
//! key file, a PKCS#12 file, or a key on a PKCS#11 token (smart card, HSM), with the token's PIN
//! from `--pin-stdin`, `KSEF_PKCS11_PIN` or a no-echo prompt, never from argv.

use std::path::Path;

use ksef_crypto::{Certificate, KeySigner, SignatureAlgorithm, Signer};

use crate::args::Pkcs11Args;
use crate::context::UsageError;
use crate::files::read_p12_signer;

/// The environment variable that may hold the PIN of a PKCS#11 token.
#[cfg(feature = "pkcs11")]
pub(crate) const PKCS11_PIN_ENV: &str = "KSEF_PKCS11_PIN";

/// A signer from any of the key sources.
pub(crate) enum CliSigner {
    /// A key in memory (from PKCS#8 or PKCS#12).
    Key(KeySigner),
    /// A key that stays on a PKCS#11 token.
    #[cfg(feature = "pkcs11")]
    Pkcs11(ksef_crypto::Pkcs11Signer),
}

impl CliSigner {
    /// The signing certificate.
    pub(crate) fn certificate(&self) -> &Certificate {
        match self {
            Self::Key(signer) => signer.certificate(),
            #[cfg(feature = "pkcs11")]
            Self::Pkcs11(signer) => signer.certificate(),
        }
    }

    fn inner(&self) -> &(dyn Signer + Sync) {
        match self {
            Self::Key(signer) => signer,
            #[cfg(feature = "pkcs11")]
            Self::Pkcs11(signer) => signer,
        }
    }
}

impl Signer for CliSigner {
    fn algorithm(&self) -> SignatureAlgorithm {
        self.inner().algorithm()
    }

    fn certificate_der(&self) -> &[u8] {
        self.inner().certificate_der()
    }

    fn sign(&self, data: &[u8]) -> ksef_crypto::Result<Vec<u8>> {
        self.inner().sign(data)
    }
}

/// The key arguments shared by `auth login` and `xades sign`.
pub(crate) struct KeySource<'a> {
    pub(crate) cert: Option<&'a Path>,
    pub(crate) key: Option<&'a Path>,
    pub(crate) key_password_file: Option<&'a Path>,
    pub(crate) p12: Option<&'a Path>,
    pub(crate) password_stdin: bool,
    pub(crate) pkcs11: &'a Pkcs11Args,
}

/// The signer the arguments name, or `None` when they name no key (a token login).
pub(crate) fn signer(source: KeySource<'_>) -> anyhow::Result<Option<CliSigner>> {
    if let Some(module) = &source.pkcs11.pkcs11_module {
        return pkcs11_signer(module, &source).map(Some);
    }
    match (source.cert, source.key, source.p12) {
        (Some(cert), Some(key), _) => Ok(Some(CliSigner::Key(crate::auth::load_signer(
            cert,
            key,
            source.key_password_file,
        )?))),
        (Some(_), None, _) => {
            Err(UsageError("--cert needs --key (or --pkcs11-module)".to_owned()).into())
        }
        (None, Some(_), _) => {
            Err(UsageError("--key needs --cert (or --pkcs11-module)".to_owned()).into())
        }
        (None, None, Some(p12)) => Ok(Some(CliSigner::Key(read_p12_signer(
            p12,
            source.password_stdin,
        )?))),
        (None, None, None) => Ok(None),
    }
}

/// A key id written in hex (`01`, `a0b1`), as PKCS#11 tools print `CKA_ID`.
#[cfg(feature = "pkcs11")]
fn parse_key_id(hex: &str) -> Result<Vec<u8>, UsageError> {
    let bad = || {
        UsageError(format!(
            "--key-id {hex:?} is not an even number of hex digits"
        ))
    };
    if hex.is_empty() || !hex.len().is_multiple_of(2) {
        return Err(bad());
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(bad)
        })
        .collect()
}

#[cfg(not(feature = "pkcs11"))]
fn pkcs11_signer(_module: &Path, _source: &KeySource<'_>) -> anyhow::Result<CliSigner> {
    Err(
        UsageError("--pkcs11-module: this ksef was built without the `pkcs11` feature".to_owned())
            .into(),
    )
}

#[cfg(feature = "pkcs11")]
fn pkcs11_signer(module: &Path, source: &KeySource<'_>) -> anyhow::Result<CliSigner> {
    use crate::files::read_input;
    use anyhow::Context as _;
    use ksef_crypto::KeySelector;
    let token = source
        .pkcs11
        .pkcs11_token
        .as_deref()
        .ok_or_else(|| UsageError("--pkcs11-module needs --pkcs11-token LABEL".to_owned()))?;
    let key = match (source.key, &source.pkcs11.key_id) {
        (Some(label), None) => KeySelector::Label(
            label
                .to_str()
                .ok_or_else(|| UsageError("--key: the label is not UTF-8 text".to_owned()))?
                .to_owned(),
        ),
        (None, Some(hex)) => KeySelector::Id(parse_key_id(hex)?),
        _ => {
            return Err(
                UsageError("--pkcs11-module needs --key LABEL or --key-id HEX".to_owned()).into(),
            );
        }
    };
    let certificate = source
        .cert
        .map(|path| {
            Certificate::from_pem_or_der(&read_input(path, "the certificate")?)
                .with_context(|| format!("cannot read the certificate {}", path.display()))
        })
        .transpose()?;
    let pin = pkcs11_pin(source.pkcs11.pin_stdin, token)?;
    let signer = ksef_crypto::Pkcs11Signer::open(module, token, &pin, &key, certificate)
        .with_context(|| {
            format!("cannot sign with the key {key} on the PKCS#11 token {token:?}")
        })?;
    Ok(CliSigner::Pkcs11(signer))
}

/// The token's PIN, never from the command line: the first line of standard input with
/// `--pin-stdin`, else `KSEF_PKCS11_PIN`, else asked for on the terminal without echo. Wiped on
/// drop.
#[cfg(feature = "pkcs11")]
fn pkcs11_pin(from_stdin: bool, token: &str) -> anyhow::Result<zeroize::Zeroizing<String>> {
    use anyhow::Context as _;
    use std::io::IsTerminal as _;
    if from_stdin {
        return crate::files::stdin_line("the PIN")?.with_context(|| {
            format!(
                "--pin-stdin: standard input is empty; write the PIN of the token {token:?} to it"
            )
        });
    }
    if let Some(value) = std::env::var_os(PKCS11_PIN_ENV) {
        return Ok(zeroize::Zeroizing::new(value.into_string().map_err(
            |_| anyhow::anyhow!("{PKCS11_PIN_ENV} is not valid UTF-8 text"),
        )?));
    }
    if std::io::stdin().is_terminal() {
        return Ok(zeroize::Zeroizing::new(
            rpassword::prompt_password(format!("PIN of the token {token:?}: "))
                .context("cannot read the PIN")?,
        ));
    }
    anyhow::bail!(
        "no PIN for the PKCS#11 token {token:?}: pass --pin-stdin, set {PKCS11_PIN_ENV}, or run \
         in a terminal to be asked (PINs are never accepted as arguments)"
    )
}

#[cfg(all(test, feature = "pkcs11"))]
mod tests {
    use super::*;

    #[test]
    fn key_ids_are_hex_bytes() {
        assert_eq!(parse_key_id("01").unwrap(), vec![1]);
        assert_eq!(parse_key_id("A0b1").unwrap(), vec![0xa0, 0xb1]);
        for bad in ["", "1", "0g", "ąą"] {
            let error = parse_key_id(bad).unwrap_err();
            assert!(error.0.contains("--key-id"), "{bad}: {error}");
        }
    }
}
