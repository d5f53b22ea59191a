//! Password-protected key files the user gives (`--key` with a password, `--p12`):
//! `ksef_crypto::CertificateKey::from_encrypted_pkcs8_der` and `Pkcs12::from_der`. Their key
//! derivation parameters come from the file, so a hostile file could ask for 2^31 PBKDF2
//! iterations or gigabytes of scrypt memory.
//!
//! Invariants: nothing panics; every input ends quickly (the cost caps: `MAX_PBKDF2_ITERATIONS`,
//! `MAX_SCRYPT_MEMORY` for PKCS#8, p12-keystore's own for PKCS#12), which the fuzzer's per-input
//! timeout checks; a key that decrypts exports to PKCS#8 DER that parses again to the same public
//! key.
#![no_main]

use ksef_crypto::{CertificateKey, Pkcs12};
use libfuzzer_sys::fuzz_target;

/// The password every seed of this target is encrypted with (fuzz/seed.sh).
const PASSWORD: &str = "fuzz";

fn check(key: &CertificateKey) {
    let der = key.to_pkcs8_der().expect("a decrypted key exports");
    let again = CertificateKey::from_pkcs8_der(&der).expect("an exported key parses");
    assert_eq!(
        key.public_key_der().expect("public key"),
        again.public_key_der().expect("public key")
    );
}

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = CertificateKey::from_encrypted_pkcs8_der(data, PASSWORD.as_bytes()) {
        check(&key);
    }
    if let Ok(p12) = Pkcs12::from_der(data, PASSWORD) {
        check(p12.key());
    }
});
