//! Interoperability with an independent implementation: the `openssl` command line tool.
//!
//! Oracles per mode (`KSEF_ORACLES`, see `common`): every openssl run on deterministic input (fixed
//! session keys, recorded certificates) is replayed from the golden file by default and run live
//! otherwise. RSA-OAEP encryption is random by design, so `openssl_unwraps_our_session_key_and_token`
//! checks our ciphertexts by default with an OAEP decoder written here over the raw RSA
//! permutation (not our decryption path), and adds `openssl pkeyutl -decrypt` in live mode.

mod common;

use std::io::{Read as _, Write as _};

use chrono::Duration;
use common::{
    TempDir, WithKeyId as _, fixed_session_key, hex, live, openssl, openssl_live, openssl_sha256,
    pseudo_random, rsa_cert,
};
use ksef_crypto::{
    DecryptingReader, EncryptingWriter, MinistryCertificate, PrivateKey, SessionKey,
    WrappedSessionKey, decrypt_ksef_token, encrypt_ksef_token,
};
use ksef_model::types::PublicKeyCertificateUsage;

const LENGTHS: [usize; 9] = [0, 1, 15, 16, 17, 31, 32, 16037, 200_003];

const OAEP_SHA256: [&str; 6] = [
    "-pkeyopt",
    "rsa_padding_mode:oaep",
    "-pkeyopt",
    "rsa_oaep_md:sha256",
    "-pkeyopt",
    "rsa_mgf1_md:sha256",
];

/// The hex SHA-256 of what `openssl enc` makes of `input` (outputs are up to 200 kB).
fn openssl_aes(dir: &TempDir, key: &SessionKey, decrypt: bool, input: &[u8]) -> String {
    let key_hex = hex(key.key());
    let iv_hex = hex(key.iv());
    let mut args = vec!["enc"];
    if decrypt {
        args.push("-d");
    }
    args.extend(["-aes-256-cbc", "-K", &key_hex, "-iv", &iv_hex]);
    openssl_sha256(dir.path(), &args, input)
}

fn sha256_hex(bytes: &[u8]) -> String {
    ksef_oracle::sha256_hex(bytes)
}

#[test]
fn openssl_decrypts_our_aes_cbc() {
    let dir = TempDir::new();
    let key = fixed_session_key(1);
    for (i, &len) in LENGTHS.iter().enumerate() {
        let plaintext = pseudo_random(len, i as u64 + 1);
        let mut writer = EncryptingWriter::new(Vec::new(), &key);
        for piece in plaintext.chunks(7777) {
            writer.write_all(piece).unwrap();
        }
        let (ciphertext, metadata) = writer.finish().unwrap();
        assert_eq!(ciphertext.len(), (len / 16 + 1) * 16);
        assert_eq!(metadata.ciphertext.size, ciphertext.len() as u64);
        assert_eq!(
            openssl_aes(&dir, &key, true, &ciphertext),
            sha256_hex(&plaintext),
            "len {len}"
        );
    }
}

#[test]
fn we_decrypt_openssl_aes_cbc() {
    let dir = TempDir::new();
    let key = fixed_session_key(2);
    for (i, &len) in LENGTHS.iter().enumerate() {
        let plaintext = pseudo_random(len, i as u64 + 100);
        let theirs = openssl_aes(&dir, &key, false, &plaintext);
        // Ours hashes to openssl's output, so below `ciphertext` is openssl's, byte for byte.
        let ciphertext = key.encrypt_to_vec(&plaintext).0;
        assert_eq!(sha256_hex(&ciphertext), theirs, "len {len}");
        // Raw CBC output: no salt header, no IV prefix.
        assert_eq!(ciphertext.len(), (len / 16 + 1) * 16);

        let (decrypted, metadata) = key.decrypt_to_vec(&ciphertext).unwrap();
        assert_eq!(decrypted, plaintext);
        assert_eq!(metadata.plaintext, ksef_crypto::file_metadata(&plaintext));
        assert_eq!(metadata.ciphertext, ksef_crypto::file_metadata(&ciphertext));

        let mut reader = DecryptingReader::new(ciphertext.as_slice(), &key);
        let mut streamed = Vec::new();
        reader.read_to_end(&mut streamed).unwrap();
        assert_eq!(streamed, plaintext);
        assert_eq!(reader.metadata(), Some(metadata));

        // The two-thread path (export parts) gives the same bytes and metadata.
        let mut piped = Vec::new();
        let piped_metadata = key
            .decrypt_stream(ciphertext.as_slice(), &mut piped)
            .unwrap();
        assert_eq!(piped, plaintext, "len {len}");
        assert_eq!(piped_metadata, metadata, "len {len}");
    }
}

#[test]
fn openssl_unwraps_our_session_key_and_token() {
    let dir = TempDir::new();
    let cert = rsa_cert(&dir, "mf");
    let now = common::now();
    let entry = cert
        .entry(
            now - Duration::days(1),
            now + Duration::days(30),
            &[
                PublicKeyCertificateUsage::SymmetricKeyEncryption,
                PublicKeyCertificateUsage::KsefTokenEncryption,
            ],
        )
        .with_public_key_id("bCLIk+crwFEhRWdsWVy/MqwpR/8KiEmr+2cFZf1bPv0=");
    let certificate = MinistryCertificate::from_entry(&entry).unwrap();
    let key_path = cert.key_path.to_str().unwrap();
    let mut decrypt_args = vec!["pkeyutl", "-decrypt", "-inkey", key_path];
    decrypt_args.extend(OAEP_SHA256);

    let session = SessionKey::generate().unwrap();
    let wrapped = session.wrap(&certificate).unwrap();
    assert_eq!(wrapped.encrypted_key.len(), 256);
    let info = wrapped.to_encryption_info();
    assert_eq!(
        info.public_key_id.as_deref(),
        Some("bCLIk+crwFEhRWdsWVy/MqwpR/8KiEmr+2cFZf1bPv0=")
    );
    let independent = ksef_oracle::oaep_sha256_decrypt(&cert.key_pem, &wrapped.encrypted_key);
    assert_eq!(independent.as_slice(), session.key());
    if live() {
        let unwrapped = openssl_live(dir.path(), &decrypt_args, &wrapped.encrypted_key);
        assert!(unwrapped.status.success(), "{unwrapped:?}");
        assert_eq!(unwrapped.stdout.as_slice(), session.key());
    }

    let token = "20250625-EC-2FDC223000-C2BFC98A9C-4E|nip-5265877635|feedface";
    let encrypted = encrypt_ksef_token(&certificate, token, 1_752_236_636_015).unwrap();
    assert_eq!(
        encrypted.public_key_id.as_deref(),
        Some("bCLIk+crwFEhRWdsWVy/MqwpR/8KiEmr+2cFZf1bPv0=")
    );
    let expected = format!("{token}|1752236636015").into_bytes();
    assert_eq!(
        ksef_oracle::oaep_sha256_decrypt(&cert.key_pem, &encrypted.ciphertext),
        expected
    );
    if live() {
        let payload = openssl_live(dir.path(), &decrypt_args, &encrypted.ciphertext);
        assert!(payload.status.success(), "{payload:?}");
        assert_eq!(payload.stdout, expected);
    }

    // And our own private-key side agrees.
    let private = PrivateKey::from_pkcs8_pem(&cert.key_pem).unwrap();
    let back = WrappedSessionKey::from_encryption_info(&info)
        .unwrap()
        .unwrap_with(&private)
        .unwrap();
    assert_eq!(back.key(), session.key());
    let token_back = encrypted.decrypt(&private).unwrap();
    assert_eq!(token_back.token(), token);
    assert_eq!(token_back.challenge_timestamp_ms(), 1_752_236_636_015);
}

#[test]
fn we_decrypt_what_openssl_encrypted_with_oaep_sha256() {
    let dir = TempDir::new();
    let cert = rsa_cert(&dir, "sim");
    let cert_path = cert.cert_path.to_str().unwrap();
    // Hand the certificate to pkeyutl in PEM.
    openssl(
        dir.path(),
        &[
            "x509", "-inform", "DER", "-in", cert_path, "-out", "cert.pem",
        ],
        b"",
    );
    let mut encrypt_args = vec!["pkeyutl", "-encrypt", "-certin", "-inkey", "cert.pem"];
    encrypt_args.extend(OAEP_SHA256);

    let private = PrivateKey::from_pkcs8_pem(&cert.key_pem).unwrap();
    let session_bytes = pseudo_random(32, 7);
    let encrypted_key = openssl(dir.path(), &encrypt_args, &session_bytes);
    let wrapped = WrappedSessionKey::from_encryption_info(&ksef_model::types::EncryptionInfo::new(
        base64_encode(&encrypted_key),
        base64_encode(&[9; 16]),
    ))
    .unwrap();
    let session = wrapped.unwrap_with(&private).unwrap();
    assert_eq!(session.key().as_slice(), session_bytes.as_slice());
    assert_eq!(session.iv(), &[9; 16]);

    let payload = b"some-token|with|pipes|1752236636015";
    let encrypted_token = openssl(dir.path(), &encrypt_args, payload);
    let decrypted = decrypt_ksef_token(&private, &encrypted_token).unwrap();
    assert_eq!(decrypted.token(), "some-token|with|pipes");
    assert_eq!(decrypted.challenge_timestamp_ms(), 1_752_236_636_015);

    // PKCS#1 and DER encodings of the same key decrypt too.
    let key_path = cert.key_path.to_str().unwrap();
    let pkcs1_pem = openssl(dir.path(), &["rsa", "-in", key_path, "-traditional"], b"");
    let pkcs1_der = openssl(
        dir.path(),
        &["rsa", "-in", key_path, "-traditional", "-outform", "DER"],
        b"",
    );
    let pkcs8_der = openssl(
        dir.path(),
        &[
            "pkcs8", "-topk8", "-nocrypt", "-in", key_path, "-outform", "DER",
        ],
        b"",
    );
    for other in [
        PrivateKey::from_pkcs1_pem(std::str::from_utf8(&pkcs1_pem).unwrap()).unwrap(),
        PrivateKey::from_pkcs1_der(&pkcs1_der).unwrap(),
        PrivateKey::from_pkcs8_der(&pkcs8_der).unwrap(),
    ] {
        assert_eq!(
            decrypt_ksef_token(&other, &encrypted_token)
                .unwrap()
                .token(),
            "some-token|with|pipes"
        );
    }
    // Our PKCS#8 export reads back in openssl.
    let exported = private.to_pkcs8_der().unwrap();
    let modulus = openssl(
        dir.path(),
        &["pkey", "-inform", "DER", "-noout", "-text"],
        &exported,
    );
    assert!(String::from_utf8_lossy(&modulus).contains("2048 bit"));
}

#[test]
fn public_keys_from_openssl_spki_match_the_private_key() {
    let dir = TempDir::new();
    let cert = rsa_cert(&dir, "spki");
    let cert_path = cert.cert_path.to_str().unwrap();
    let spki = openssl(
        dir.path(),
        &[
            "x509", "-inform", "DER", "-in", cert_path, "-noout", "-pubkey",
        ],
        b"",
    );
    let spki_der = openssl(dir.path(), &["pkey", "-pubin", "-outform", "DER"], &spki);
    let public = ksef_crypto::PublicKey::from_spki_der(&spki_der).unwrap();
    let private = PrivateKey::from_pkcs8_pem(&cert.key_pem).unwrap();
    assert_eq!(public, private.public_key());
    assert_eq!(
        public.algorithm(),
        ksef_crypto::KeyAlgorithm::Rsa { bits: 2048 }
    );
    assert_eq!(public.max_oaep_message_len().unwrap(), 190);
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
