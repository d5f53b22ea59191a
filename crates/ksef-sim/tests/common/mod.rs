//! A tiny HTTP client over hyper and the client-side KSeF steps, for the simulator's tests.
#![allow(dead_code, unreachable_pub)]

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::header::HeaderMap;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use ksef_crypto::{EncryptingWriter, MinistryCertificates, SessionKey};
use ksef_model::types::{
    AuthenticationChallengeResponse, AuthenticationContextIdentifier,
    AuthenticationContextIdentifierType, AuthenticationInitResponse,
    AuthenticationOperationStatusResponse, AuthenticationTokensResponse, EncryptionInfo, FormCode,
    InitTokenAuthenticationRequest, OpenOnlineSessionRequest, OpenOnlineSessionResponse,
    PublicKeyCertificate, PublicKeyCertificateUsage, SendInvoiceRequest, SendInvoiceResponse,
    SessionInvoiceStatusResponse,
};
use ksef_sim::Simulator;
use serde::de::DeserializeOwned;

/// The Ministry's fixtures: `$KSEF_SPEC_DIR`, else the repository's `fixtures/ksef-spec/`.
pub fn spec_dir() -> PathBuf {
    std::env::var_os("KSEF_SPEC_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/ksef-spec"),
        PathBuf::from,
    )
}

/// The path of the fixture at `rel` (relative to [`spec_dir`]); a missing file fails naming it.
pub fn fixture_path(rel: &str) -> PathBuf {
    let path = spec_dir().join(rel);
    assert!(
        path.is_file(),
        "{} is missing (the Ministry's fixtures; set KSEF_SPEC_DIR)",
        path.display()
    );
    path
}

/// The text of the fixture at `rel` (relative to [`spec_dir`]); a missing file fails naming it.
pub fn fixture(rel: &str) -> String {
    let path = spec_dir().join(rel);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (set KSEF_SPEC_DIR)", path.display()))
}

pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{e}: status {} body {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The first exception code of a legacy error body.
    pub fn exception_code(&self) -> i64 {
        let value: serde_json::Value = self.json();
        value["exception"]["exceptionDetailList"][0]["exceptionCode"]
            .as_i64()
            .unwrap_or_else(|| panic!("no exception code in {}", self.text()))
    }
}

#[derive(Clone)]
pub struct Http {
    client: HyperClient<HttpConnector, Full<Bytes>>,
    pub base: String,
}

impl Http {
    pub fn new(base: &str) -> Self {
        Http {
            client: HyperClient::builder(TokioExecutor::new()).build_http(),
            base: base.to_owned(),
        }
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Resp {
        self.try_send(method, path, bearer, body, headers)
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// Like [`Http::send`], but a failed exchange (no answer, a body cut short) is an `Err`
    /// describing where it failed.
    pub async fn try_send(
        &self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Result<Resp, String> {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let mut builder = hyper::Request::builder().method(method).uri(url);
        if let Some(token) = bearer {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        if body.is_some() {
            builder = builder.header("content-type", "application/json");
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .unwrap();
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| format!("no response: {e:?}"))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("body cut short after status {status}: {e:?}"))?
            .to_bytes();
        Ok(Resp {
            status,
            headers,
            body,
        })
    }

    pub async fn get(&self, path: &str, bearer: Option<&str>) -> Resp {
        self.send("GET", path, bearer, None, &[]).await
    }

    pub async fn post<T: serde::Serialize>(
        &self,
        path: &str,
        bearer: Option<&str>,
        body: &T,
    ) -> Resp {
        self.send(
            "POST",
            path,
            bearer,
            Some(serde_json::to_vec(body).unwrap()),
            &[],
        )
        .await
    }

    pub async fn post_empty(&self, path: &str, bearer: Option<&str>) -> Resp {
        self.send("POST", path, bearer, None, &[]).await
    }

    pub async fn delete(&self, path: &str, bearer: Option<&str>) -> Resp {
        self.send("DELETE", path, bearer, None, &[]).await
    }
}

pub async fn certificates(http: &Http) -> (Vec<PublicKeyCertificate>, MinistryCertificates) {
    let resp = http.get("/security/public-key-certificates", None).await;
    assert_eq!(resp.status, 200);
    let listing: Vec<PublicKeyCertificate> = resp.json();
    let parsed = MinistryCertificates::from_entries(&listing).unwrap();
    (listing, parsed)
}

pub struct Login {
    pub reference: String,
    pub authentication_token: String,
    pub access: String,
    pub refresh: String,
}

/// Starts a token authentication and returns the 202 response.
pub async fn start_auth(http: &Http, nip: &str, token: &str) -> Resp {
    let (_, certs) = certificates(http).await;
    let challenge: AuthenticationChallengeResponse =
        http.post_empty("/auth/challenge", None).await.json();
    let cert = certs
        .select(
            PublicKeyCertificateUsage::KsefTokenEncryption,
            chrono::Utc::now(),
        )
        .unwrap();
    let encrypted = ksef_crypto::encrypt_ksef_token(cert, token, challenge.timestamp_ms).unwrap();
    let mut request = InitTokenAuthenticationRequest::new(
        challenge.challenge,
        AuthenticationContextIdentifier::new(AuthenticationContextIdentifierType::Nip, nip),
        encrypted.to_base64(),
    );
    request.public_key_id = cert.public_key_id().map(str::to_owned);
    http.post("/auth/ksef-token", None, &request).await
}

/// Polls `GET /auth/{ref}` until the status is no longer 100.
pub async fn wait_auth(
    http: &Http,
    reference: &str,
    token: &str,
) -> AuthenticationOperationStatusResponse {
    for _ in 0..100 {
        let resp = http.get(&format!("/auth/{reference}"), Some(token)).await;
        assert_eq!(resp.status, 200, "{}", resp.text());
        let status: AuthenticationOperationStatusResponse = resp.json();
        if status.status.code != 100 {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("authentication did not finish");
}

pub async fn login(http: &Http, nip: &str, token: &str) -> Login {
    let resp = start_auth(http, nip, token).await;
    finish_login(http, resp)
        .await
        .unwrap_or_else(|code| panic!("authentication ended with status {code}"))
}

/// Waits for the authentication that `resp` (its 202 answer) started and redeems its tokens:
/// the login, or the final status code when it is not 200.
pub async fn finish_login(http: &Http, resp: Resp) -> Result<Login, i32> {
    assert_eq!(resp.status, 202, "{}", resp.text());
    let init: AuthenticationInitResponse = resp.json();
    let reference = init.reference_number.to_string();
    let auth_token = init.authentication_token.token;
    let status = wait_auth(http, &reference, &auth_token).await;
    if status.status.code != 200 {
        return Err(status.status.code);
    }
    let tokens: AuthenticationTokensResponse = http
        .post_empty("/auth/token/redeem", Some(&auth_token))
        .await
        .json();
    Ok(Login {
        reference,
        authentication_token: auth_token,
        access: tokens.access_token.token,
        refresh: tokens.refresh_token.token,
    })
}

/// Like [`finish_login`]: the final status code, and the access token on success.
pub async fn finish_auth(http: &Http, resp: Resp) -> (i32, Option<String>) {
    match finish_login(http, resp).await {
        Ok(login) => (200, Some(login.access)),
        Err(code) => (code, None),
    }
}

/// The final status code of a token authentication of `nip` with `token`.
pub async fn auth_code(http: &Http, nip: &str, token: &str) -> i32 {
    finish_auth(http, start_auth(http, nip, token).await)
        .await
        .0
}

/// Posts a signed XAdES document to `/auth/xades-signature`.
pub async fn post_xades(http: &Http, body: Vec<u8>) -> Resp {
    // `send` marks any body as JSON; the simulator reads the raw bytes either way, and the
    // explicit header states what a real client sends.
    http.send(
        "POST",
        "/auth/xades-signature",
        None,
        Some(body),
        &[("content-type", "application/xml")],
    )
    .await
}

pub fn fa3_form_code() -> FormCode {
    FormCode::new(ksef_model::types::FormCodeParams {
        system_code: "FA (3)".into(),
        schema_version: "1-0E".into(),
        value: "FA".into(),
    })
}

pub struct OnlineSession {
    pub reference: String,
    pub key: SessionKey,
}

pub async fn open_session(http: &Http, access: &str) -> OnlineSession {
    let (_, certs) = certificates(http).await;
    let cert = certs
        .select(
            PublicKeyCertificateUsage::SymmetricKeyEncryption,
            chrono::Utc::now(),
        )
        .unwrap();
    let key = SessionKey::generate().unwrap();
    let info = key.wrap(cert).unwrap().to_encryption_info();
    let mut encryption =
        EncryptionInfo::new(info.encrypted_symmetric_key, info.initialization_vector);
    encryption.public_key_id = info.public_key_id;
    let resp = http
        .post(
            "/sessions/online",
            Some(access),
            &OpenOnlineSessionRequest::new(fa3_form_code(), encryption),
        )
        .await;
    assert_eq!(resp.status, 201, "{}", resp.text());
    let opened: OpenOnlineSessionResponse = resp.json();
    OnlineSession {
        reference: opened.reference_number.to_string(),
        key,
    }
}

/// The official FA(3) template with its placeholders filled in and today's issue date.
pub fn fa3_invoice(nip: &str, number: &str) -> Vec<u8> {
    let template = fixture("invoice-templates/invoice-template-fa-3.xml");
    let today = chrono::Utc::now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    template
        .replace("#nip#", nip)
        .replace("#invoice_number#", number)
        .replace("<P_1>2025-09-01</P_1>", &format!("<P_1>{today}</P_1>"))
        .into_bytes()
}

pub fn encrypt(key: &SessionKey, plaintext: &[u8]) -> SendInvoiceRequest {
    let mut writer = EncryptingWriter::new(Vec::new(), key);
    writer.write_all(plaintext).unwrap();
    let (ciphertext, metadata) = writer.finish().unwrap();
    SendInvoiceRequest::new(
        metadata.plaintext.sha256_base64(),
        i64::try_from(metadata.plaintext.size).unwrap(),
        metadata.ciphertext.sha256_base64(),
        i64::try_from(metadata.ciphertext.size).unwrap(),
        STANDARD.encode(&ciphertext),
    )
}

pub async fn send(http: &Http, access: &str, session: &str, request: &SendInvoiceRequest) -> Resp {
    http.post(
        &format!("/sessions/online/{session}/invoices"),
        Some(access),
        request,
    )
    .await
}

pub async fn send_ok(
    http: &Http,
    access: &str,
    session: &OnlineSession,
    plaintext: &[u8],
) -> String {
    let resp = send(
        http,
        access,
        &session.reference,
        &encrypt(&session.key, plaintext),
    )
    .await;
    assert_eq!(resp.status, 202, "{}", resp.text());
    let sent: SendInvoiceResponse = resp.json();
    sent.reference_number.to_string()
}

/// Polls an invoice until its status is final.
pub async fn wait_invoice(
    http: &Http,
    access: &str,
    session: &str,
    invoice: &str,
) -> SessionInvoiceStatusResponse {
    for _ in 0..200 {
        let resp = http
            .get(
                &format!("/sessions/{session}/invoices/{invoice}"),
                Some(access),
            )
            .await;
        assert_eq!(resp.status, 200, "{}", resp.text());
        let status: SessionInvoiceStatusResponse = resp.json();
        if !matches!(status.status.code, 100 | 150) {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("invoice processing did not finish");
}

pub async fn start() -> (Simulator, Http) {
    start_with(Simulator::builder().processing_delays(Duration::from_millis(50))).await
}

/// Starts the simulator `builder` configures, and a client of it.
pub async fn start_with(builder: ksef_sim::SimulatorBuilder) -> (Simulator, Http) {
    let sim = builder.start().await.unwrap();
    let http = Http::new(sim.base_url());
    (sim, http)
}

/// Fixed values (after the Ministry's UPO example) for the UPO fields that vary from run to run
/// (clock, random references and keys): a UPO with these in place is the same document every run.
/// `{n}` is the occurrence number (as 6 hex digits), which keeps values the schema requires to be
/// unique distinct.
const UPO_VARIABLE_FIELDS: &[(&str, &str)] = &[
    (
        "NumerReferencyjnySesji",
        "36950822-93-9D5A28BFDA-47C899773E-5C",
    ),
    (
        "NumerReferencyjnyTokenaKSeF",
        "36950822-93-9D5A28BFDA-47C899773E-5C",
    ),
    (
        "SkrotDokumentuUwierzytelniajacego",
        "kyqH+QUgP8ATWd/95IY632mP4uqibwG66Oqclq9+qno=",
    ),
    ("Nip", "5265877635"),
    ("NipSprzedawcy", "5265877635"),
    ("NumerKSeFDokumentu", "5265877635-20250916-{n}D6723E-C2"),
    ("NumerFaktury", "FA/{n}/2025"),
    ("DataWystawieniaFaktury", "2025-09-16"),
    ("DataPrzeslaniaDokumentu", "2025-09-16T11:05:40.841+02:00"),
    ("DataNadaniaNumeruKSeF", "2025-09-16T11:05:41.045+02:00"),
    (
        "SkrotDokumentu",
        "{n}zs3krF6URKgvaw77OOeG3nJ+WGziT5xguliQ8=",
    ),
];

/// The UPO with the text of every [`UPO_VARIABLE_FIELDS`] element (prefixed or not) replaced by
/// its fixed value; structure, element order and the fixed fields stay as the simulator wrote them.
pub fn normalize_upo(xml: &[u8]) -> Vec<u8> {
    let mut text = String::from_utf8(xml.to_vec()).expect("a UPO is UTF-8");
    for (name, value) in UPO_VARIABLE_FIELDS {
        let mut out = String::with_capacity(text.len());
        let mut rest = text.as_str();
        let open = format!("{name}>");
        let mut n = 0;
        while let Some(at) = rest.find(&open) {
            let before = &rest[..at];
            // `<Name>` or `<p:Name>` opens the element; anything else (`</Name>`, `<OtherName>`) is copied.
            let tag_start = before.rfind('<').filter(|&lt| {
                let tag = &before[lt + 1..];
                tag.is_empty()
                    || (tag.ends_with(':')
                        && !tag.starts_with('/')
                        && !tag.contains(['<', '>', ' ']))
            });
            let Some(lt) = tag_start else {
                out.push_str(&rest[..at + open.len()]);
                rest = &rest[at + open.len()..];
                continue;
            };
            let prefix = &before[lt + 1..];
            let content_start = at + open.len();
            let close = format!("</{prefix}{name}>");
            let content_end = content_start
                + rest[content_start..]
                    .find(&close)
                    .unwrap_or_else(|| panic!("unclosed {name} in the UPO"));
            out.push_str(&rest[..content_start]);
            n += 1;
            out.push_str(&value.replace("{n}", &format!("{n:06X}")));
            out.push_str(&close);
            rest = &rest[content_end + close.len()..];
        }
        out.push_str(rest);
        text = out;
    }
    text.into_bytes()
}

/// Validates a UPO with xmllint against the Ministry's schema (oracle `KSEF_ORACLES`, crate
/// `ksef-oracle`). The UPO carries the clock and random references, so the golden file records
/// xmllint's verdict on the UPO with those fields fixed ([`normalize_upo`]): by default the test
/// checks that verdict; live and record modes validate the real UPO as well.
pub fn xmllint_upo(xml: &[u8], name: &str) {
    let golden = ksef_oracle::Golden::open(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden"),
        &format!("xmllint-upo-{}", ksef_oracle::test_binary()),
    );
    let normalized = normalize_upo(xml);
    let validate = |doc: &[u8], tag: &str| -> Result<(), String> {
        let path =
            std::env::temp_dir().join(format!("ksef-sim-{}-{name}-{tag}.xml", std::process::id()));
        std::fs::write(&path, doc).unwrap();
        let mut command = ksef_oracle::XMLLINT.command();
        command
            .args(["--noout", "--schema"])
            .arg(fixture_path("xsd/upo/upo-v4-3.xsd"))
            .arg(&path);
        let output = ksef_oracle::XMLLINT.output(&mut command, b"");
        let _ = std::fs::remove_file(&path);
        if output.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    };
    if golden.mode().runs_tools()
        && let Err(stderr) = validate(xml, "real")
    {
        panic!(
            "UPO fails the schema: {stderr}\n{}",
            String::from_utf8_lossy(xml)
        );
    }
    let case = ksef_oracle::Case::new(
        format!("upo {name}"),
        &[b"xmllint --schema upo-v4-3.xsd", &normalized],
    );
    let verdict = golden.answer(&case, || match validate(&normalized, "normalized") {
        Ok(()) => "valid".to_owned(),
        Err(_) => "invalid".to_owned(),
    });
    assert_eq!(
        verdict,
        "valid",
        "UPO (variable fields fixed) fails the schema per {}:\n{}",
        golden.path().display(),
        String::from_utf8_lossy(&normalized)
    );
}

/// A packaged batch: the session key, the package metadata and the encrypted parts.
pub struct Batch {
    pub key: SessionKey,
    pub package: ksef_crypto::BatchPackage,
    pub parts: Vec<Vec<u8>>,
}

/// Packages `invoices` (name, bytes) with a fresh session key into memory.
pub fn package_batch(invoices: Vec<(String, Vec<u8>)>) -> Batch {
    package_batch_in_parts(invoices, None)
}

/// Packages `invoices` with parts of at most `part_size` bytes.
pub fn package_batch_in_parts(invoices: Vec<(String, Vec<u8>)>, part_size: Option<u64>) -> Batch {
    package_batch_with(ksef_crypto::BatchPackager::new(), invoices, part_size)
}

/// Packages `invoices` with `packager` (its compression) in parts of at most `part_size` bytes.
pub fn package_batch_with(
    mut packager: ksef_crypto::BatchPackager,
    invoices: Vec<(String, Vec<u8>)>,
    part_size: Option<u64>,
) -> Batch {
    if let Some(size) = part_size {
        let limits = packager.current_limits().with_max_part_size(size);
        packager = packager.limits(limits);
    }
    let key = SessionKey::generate().unwrap();
    let mut sink = ksef_crypto::MemorySink::new();
    let package = packager
        .package(
            &key,
            invoices
                .into_iter()
                .map(|(name, bytes)| ksef_crypto::BatchInvoice::from_bytes(name, bytes)),
            &mut sink,
        )
        .unwrap();
    Batch {
        key,
        package,
        parts: sink.into_parts(),
    }
}

/// The `POST /sessions/batch` body for a packaged batch.
pub async fn batch_open_request(
    http: &Http,
    batch: &Batch,
) -> ksef_model::types::OpenBatchSessionRequest {
    use ksef_model::types::{BatchFileInfo, BatchFilePartInfo, OpenBatchSessionRequest};
    let (_, certs) = certificates(http).await;
    let cert = certs
        .select(
            PublicKeyCertificateUsage::SymmetricKeyEncryption,
            chrono::Utc::now(),
        )
        .unwrap();
    let info = batch.key.wrap(cert).unwrap().to_encryption_info();
    let mut encryption =
        EncryptionInfo::new(info.encrypted_symmetric_key, info.initialization_vector);
    encryption.public_key_id = info.public_key_id;
    let parts = batch
        .package
        .parts
        .iter()
        .map(|p| {
            BatchFilePartInfo::new(
                i32::try_from(p.ordinal_number).unwrap(),
                i64::try_from(p.encrypted.size).unwrap(),
                p.encrypted.sha256_base64(),
            )
        })
        .collect::<Vec<_>>();
    let file = BatchFileInfo::new(
        i64::try_from(batch.package.archive.size).unwrap(),
        batch.package.archive.sha256_base64(),
        parts,
    );
    OpenBatchSessionRequest::new(fa3_form_code(), file, encryption)
}

/// Uploads one part as its upload request says.
pub async fn upload_part(
    http: &Http,
    request: &ksef_model::types::PartUploadRequest,
    bytes: Vec<u8>,
) -> Resp {
    let headers: Vec<(&str, &str)> = request
        .headers
        .iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (k.as_str(), v)))
        .collect();
    http.send(&request.method, &request.url, None, Some(bytes), &headers)
        .await
}

/// The `EncryptionInfo` for `key`, wrapped with the simulator's symmetric-key certificate.
pub async fn wrap_key(http: &Http, key: &SessionKey) -> EncryptionInfo {
    let (_, certs) = certificates(http).await;
    let cert = certs
        .select(
            PublicKeyCertificateUsage::SymmetricKeyEncryption,
            chrono::Utc::now(),
        )
        .unwrap();
    let info = key.wrap(cert).unwrap().to_encryption_info();
    let mut encryption =
        EncryptionInfo::new(info.encrypted_symmetric_key, info.initialization_vector);
    encryption.public_key_id = info.public_key_id;
    encryption
}

/// Sends `count` FA(3) invoices in a new online session and waits for their KSeF numbers;
/// returns (KSeF number, XML) in the order sent.
pub async fn send_invoices(
    http: &Http,
    access: &str,
    nip: &str,
    prefix: &str,
    count: usize,
) -> Vec<(String, Vec<u8>)> {
    let session = open_session(http, access).await;
    let mut sent = Vec::new();
    for n in 0..count {
        let xml = fa3_invoice(nip, &format!("{prefix}/{n}"));
        let reference = send_ok(http, access, &session, &xml).await;
        sent.push((reference, xml));
    }
    let mut out = Vec::new();
    for (reference, xml) in sent {
        let status = wait_invoice(http, access, &session.reference, &reference).await;
        assert_eq!(status.status.code, 200, "{:?}", status.status);
        out.push((status.ksef_number.unwrap().to_string(), xml));
    }
    out
}

/// The `rateLimits` of `/testdata/rate-limits` with every group set to `values`.
pub fn every_rate_limit_group(
    values: &serde_json::Value,
) -> serde_json::Map<String, serde_json::Value> {
    ksef_model::RateLimitGroup::OVERRIDABLE
        .iter()
        .map(|g| (g.as_str().to_owned(), values.clone()))
        .collect()
}
