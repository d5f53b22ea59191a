//! The simulator's key material: the two Ministry-like encryption certificates and the JWT signing key.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Datelike, Duration, Utc};
use ksef_crypto::{Certificate, CertificateKey, PrivateKey, PublicKey, SignatureAlgorithm};
use ksef_model::types::{
    PublicKeyCertificate, PublicKeyCertificateParams, PublicKeyCertificateUsage,
};
use rsa::sha2::{Digest as _, Sha256};
use serde::{Deserialize, Serialize};

use crate::SimError;

/// RSA keys are slow to generate in debug builds: every simulator of a process shares one set.
static KEYS: OnceLock<Arc<Keys>> = OnceLock::new();
static KEYS_INIT: Mutex<()> = Mutex::new(());

/// The private keys behind the served certificates, and the key that signs JWTs.
pub(crate) struct Keys {
    pub(crate) token_encryption: PrivateKey,
    pub(crate) symmetric_key_encryption: PrivateKey,
    /// RS256: RSA PKCS#1 v1.5 with SHA-256.
    jwt_signing: CertificateKey,
    jwt_verifying: PublicKey,
}

impl Keys {
    /// The process-wide key set, generated on first use.
    pub(crate) fn shared() -> Result<Arc<Keys>, SimError> {
        if let Some(keys) = KEYS.get() {
            return Ok(keys.clone());
        }
        let _guard = KEYS_INIT.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(keys) = KEYS.get() {
            return Ok(keys.clone());
        }
        let (a, b, c) = std::thread::scope(|scope| {
            let a = scope.spawn(|| PrivateKey::generate(2048));
            let b = scope.spawn(|| PrivateKey::generate(2048));
            let c = PrivateKey::generate(2048);
            (a.join(), b.join(), c)
        });
        let joined = |r: std::thread::Result<ksef_crypto::Result<PrivateKey>>| {
            r.map_err(|_| SimError::Keys("key generation panicked".into()))?
                .map_err(|e| SimError::Keys(e.to_string()))
        };
        let token_encryption = joined(a)?;
        let symmetric_key_encryption = joined(b)?;
        let jwt = CertificateKey::from(c.map_err(|e| SimError::Keys(e.to_string()))?);
        let jwt_public = jwt.public_key();
        let keys = Arc::new(Keys {
            token_encryption,
            symmetric_key_encryption,
            jwt_signing: jwt,
            jwt_verifying: jwt_public,
        });
        // Set under the lock: no one else can have set it meanwhile.
        let _ = KEYS.set(keys.clone());
        Ok(keys)
    }

    /// Signs `claims` as an RS256 JWT, with the claim names and encodings KSeF's access tokens
    /// use ([`WireClaims`]).
    pub(crate) fn sign_jwt(&self, claims: &Claims) -> Result<String, SimError> {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let wire = WireClaims::of(claims).map_err(|e| SimError::Keys(e.to_string()))?;
        let body = serde_json::to_vec(&wire).map_err(|e| SimError::Keys(e.to_string()))?;
        let signing_input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(body));
        let signature = self
            .jwt_signing
            .sign(signing_input.as_bytes())
            .map_err(|e| SimError::Keys(e.to_string()))?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }

    /// Verifies an RS256 JWT of this simulator and returns its claims if the signature holds and
    /// it has not expired at `now`.
    pub(crate) fn verify_jwt(&self, token: &str, now: DateTime<Utc>) -> Option<Claims> {
        let mut parts = token.split('.');
        let (header, body, signature) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
        if header.get("alg")?.as_str()? != "RS256" {
            return None;
        }
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        let signing_input = &token[..header_len(token)?];
        self.jwt_verifying
            .verify(
                SignatureAlgorithm::RsaSha256,
                signing_input.as_bytes(),
                &signature,
            )
            .ok()?;
        let wire: WireClaims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).ok()?).ok()?;
        let claims = wire.into_claims()?;
        (claims.exp > now.timestamp()).then_some(claims)
    }
}

/// Length of `header.body` (the JWT signing input).
fn header_len(token: &str) -> Option<usize> {
    token.rfind('.')
}

/// The kind of JWT: which operations accept it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum TokenType {
    Authentication,
    Access,
    Refresh,
}

/// What the simulator's JWTs say, as its handlers read them (see [`WireClaims`] for how they
/// are written into the token).
#[derive(Debug, Clone)]
pub(crate) struct Claims {
    /// Token kind.
    pub(crate) typ: TokenType,
    /// Reference number of the authentication operation the token belongs to.
    pub(crate) ref_: String,
    /// Context NIP.
    pub(crate) ctx: String,
    /// Permissions of the authenticated subject in the context.
    pub(crate) per: Vec<String>,
    /// Issued at (seconds since the epoch).
    pub(crate) iat: i64,
    /// Expiry (seconds since the epoch).
    pub(crate) exp: i64,
    /// Unique token id.
    pub(crate) jti: String,
    /// The authentication method (`AuthenticationMethod`: `Token`, `QualifiedSeal`, ...).
    pub(crate) aum: String,
    /// The authenticated subject's details as a JSON object (XAdES and token logins), if known.
    pub(crate) sud: Option<serde_json::Value>,
    /// The KSeF token's reference number, for logins with a KSeF token.
    pub(crate) trn: Option<String>,
}

/// The issuer (`iss`) of the simulator's JWTs.
pub(crate) const ISSUER: &str = "ksef-sim";
/// The audience (`aud`) of the simulator's JWTs.
pub(crate) const AUDIENCE: &str = "ksef-api";

/// The JWT body as KSeF writes it: the claim names real KSeF access tokens carry, with their
/// encodings. `sud` and `ipp` are JSON objects inside strings; `per`, `pec`, `rol` and `pep`
/// are JSON arrays of strings inside strings; `trn` is present for KSeF-token logins only.
/// Clients in the field parse exactly this (the Ministry's `PersonTokenService` among them).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct WireClaims {
    /// Issuer.
    iss: String,
    /// Audience.
    aud: String,
    /// Issued at (seconds since the epoch).
    iat: i64,
    /// Expiry (seconds since the epoch).
    exp: i64,
    /// Unique token id.
    jti: String,
    /// Token kind.
    typ: TokenType,
    /// Context identifier type (`Nip`).
    cit: String,
    /// Context identifier value.
    civ: String,
    /// Authentication method.
    aum: String,
    /// Authentication (operation) reference number.
    arn: String,
    /// Subject details: a JSON object in a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sud: Option<String>,
    /// IP policy: a JSON object in a string (the simulator enforces none: `{}`).
    ipp: String,
    /// Permissions granted: a JSON array of strings in a string.
    per: String,
    /// Permissions excluded: a JSON array of strings in a string.
    pec: String,
    /// Roles: a JSON array of strings in a string.
    rol: String,
    /// Effective permissions (granted less excluded): a JSON array of strings in a string.
    pep: String,
    /// The KSeF token's reference number (KSeF-token logins only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trn: Option<String>,
}

impl WireClaims {
    fn of(claims: &Claims) -> Result<Self, serde_json::Error> {
        let per = serde_json::to_string(&claims.per)?;
        Ok(WireClaims {
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            iat: claims.iat,
            exp: claims.exp,
            jti: claims.jti.clone(),
            typ: claims.typ,
            cit: "Nip".to_owned(),
            civ: claims.ctx.clone(),
            aum: claims.aum.clone(),
            arn: claims.ref_.clone(),
            sud: claims.sud.as_ref().map(serde_json::to_string).transpose()?,
            ipp: "{}".to_owned(),
            pep: per.clone(),
            per,
            pec: "[]".to_owned(),
            rol: "[]".to_owned(),
            trn: claims.trn.clone(),
        })
    }

    /// The claims of a token of this simulator (`None` if they do not decode).
    fn into_claims(self) -> Option<Claims> {
        if self.iss != ISSUER || self.aud != AUDIENCE || self.cit != "Nip" {
            return None;
        }
        let per: Vec<String> = serde_json::from_str(&self.per).ok()?;
        let sud = match &self.sud {
            Some(text) => Some(serde_json::from_str(text).ok()?),
            None => None,
        };
        Some(Claims {
            typ: self.typ,
            ref_: self.arn,
            ctx: self.civ,
            per,
            iat: self.iat,
            exp: self.exp,
            jti: self.jti,
            aum: self.aum,
            sud,
            trn: self.trn,
        })
    }
}

/// One served certificate.
pub(crate) struct ServedCertificate {
    pub(crate) listing: PublicKeyCertificate,
}

/// Builds a self-signed certificate of `key` for `usage`, valid from a day before `now` for two years.
pub(crate) fn certificate(
    key: &PrivateKey,
    usage: PublicKeyCertificateUsage,
    now: DateTime<Utc>,
) -> Result<ServedCertificate, SimError> {
    let err = |e: &dyn std::fmt::Display| SimError::Keys(e.to_string());
    let der = key.to_pkcs8_der().map_err(|e| err(&e))?;
    let key_pair = rcgen::KeyPair::try_from(&der[..]).map_err(|e| err(&e))?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| err(&e))?;
    let mut name = rcgen::DistinguishedName::new();
    name.push(rcgen::DnType::CommonName, "Ministerstwo Finansów");
    name.push(rcgen::DnType::OrganizationName, "ksef-sim");
    name.push(rcgen::DnType::CountryName, "PL");
    params.distinguished_name = name;
    let from = now - Duration::days(1);
    let to = from + Duration::days(730);
    let (y, m, d) = ymd(from)?;
    params.not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = ymd(to + Duration::days(1))?;
    params.not_after = rcgen::date_time_ymd(y, m, d);
    let cert = params.self_signed(&key_pair).map_err(|e| err(&e))?;
    let cert_der = cert.der().to_vec();
    let parsed = Certificate::from_der(&cert_der).map_err(|e| err(&e))?;
    let spki = parsed.public_key_der();
    let public_key_id = STANDARD.encode(Sha256::digest(spki));
    let certificate_id = STANDARD.encode(Sha256::digest(&cert_der));
    let day = |d: DateTime<Utc>| -> Result<DateTime<Utc>, SimError> {
        d.date_naive()
            .and_hms_opt(0, 0, 0)
            .map(|n| n.and_utc())
            .ok_or_else(|| SimError::Keys("date out of range".into()))
    };
    let listing = PublicKeyCertificate::new(PublicKeyCertificateParams {
        certificate: STANDARD.encode(&cert_der),
        certificate_id,
        public_key_id,
        valid_from: day(from)?.fixed_offset(),
        valid_to: day(to)?.fixed_offset(),
        usage: vec![usage],
    });
    Ok(ServedCertificate { listing })
}

fn ymd(d: DateTime<Utc>) -> Result<(i32, u8, u8), SimError> {
    let month = u8::try_from(d.month()).map_err(|e| SimError::Keys(e.to_string()))?;
    let day = u8::try_from(d.day()).map_err(|e| SimError::Keys(e.to_string()))?;
    Ok((d.year(), month, day))
}
