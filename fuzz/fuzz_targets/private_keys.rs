//! Private keys the user gives in files (`--key`, the offline certificate's key):
//! `ksef_crypto::CertificateKey::from_pem` (PEM of any kind `ksef` reads, unencrypted) and
//! `from_pkcs8_der`.
//!
//! Invariants: a key that parses exports to PKCS#8 DER that parses again to the same key (same
//! algorithm, same public key, same export); its PEM export parses to the same key; its public key
//! DER is stable. Encrypted keys (PKCS#8 PBES2, PKCS#12) have their own target, `encrypted_keys`.
#![no_main]

use ksef_crypto::CertificateKey;
use libfuzzer_sys::fuzz_target;

fn check(key: &CertificateKey) {
    let der = key.to_pkcs8_der().expect("a parsed key exports");
    let again = CertificateKey::from_pkcs8_der(&der).expect("an exported key parses");
    assert_eq!(key.algorithm(), again.algorithm());
    let public = key.public_key_der().expect("a parsed key has a public key");
    assert_eq!(public, again.public_key_der().expect("public key"));
    assert_eq!(*der, *again.to_pkcs8_der().expect("exports again"));
    let pem = key.to_pkcs8_pem().expect("PEM export");
    let from_pem = CertificateKey::from_pem(&pem, None).expect("the PEM export parses");
    assert_eq!(public, from_pem.public_key_der().expect("public key"));
}

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = CertificateKey::from_pkcs8_der(data) {
        check(&key);
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(key) = CertificateKey::from_pem(text, None)
    {
        check(&key);
    }
});
