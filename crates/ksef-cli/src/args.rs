//! The command line: global flags and every subcommand, declared with clap's derive API.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// `ksef`: the command-line tool for KSeF API 2.0, the Polish national e-invoicing system.
///
/// Secrets are never taken as arguments: the KSeF token comes from `--token-file`,
/// `--token-stdin` or the `KSEF_TOKEN` environment variable.
#[derive(Debug, Parser)]
#[command(name = "ksef", version, about, long_about = None)]
pub(crate) struct Cli {
    /// Options every command understands.
    #[command(flatten)]
    pub(crate) global: Global,
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options every command understands.
#[derive(Debug, Args)]
pub(crate) struct Global {
    /// The KSeF environment to talk to.
    #[arg(
        long,
        global = true,
        value_enum,
        env = "KSEF_ENV",
        conflicts_with = "base_url"
    )]
    pub(crate) env: Option<EnvName>,
    /// A custom API base URL ending in /v2 (e.g. a local `ksef sim`).
    #[arg(long, global = true, env = "KSEF_BASE_URL", value_name = "URL")]
    pub(crate) base_url: Option<String>,
    /// Where config.toml and the profiles' session files are kept [default: $XDG_STATE_HOME/ksef
    /// or ~/.local/state/ksef].
    #[arg(long, global = true, env = "KSEF_HOME", value_name = "DIR")]
    pub(crate) home: Option<PathBuf>,
    /// The profile: one login (context and tokens) per profile.
    #[arg(long, global = true, default_value = "default", value_name = "NAME")]
    pub(crate) profile: String,
    /// Print one JSON document on stdout instead of human-readable output.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// More detail on stderr: each KSeF request traced (operation, path template, status,
    /// duration; never tokens or bodies). `KSEF_LOG=target=level,...` sets the levels instead.
    #[arg(short, long, global = true, conflicts_with = "quiet")]
    pub(crate) verbose: bool,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,
}

/// The KSeF environments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum EnvName {
    /// The test environment (fictitious data).
    Test,
    /// The demo (pre-production) environment.
    Demo,
    /// Production.
    Prod,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the whole invoice lifecycle against an in-process simulator, narrating each step.
    Demo(DemoArgs),
    /// Serve a local KSeF simulator until SIGINT/SIGTERM.
    Sim(SimArgs),
    /// Log in and out, inspect the stored session.
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Send, download and query invoices.
    #[command(subcommand)]
    Invoice(InvoiceCommand),
    /// Inspect sessions, their invoices and UPOs.
    #[command(subcommand)]
    Session(SessionCommand),
    /// Send invoices in a batch session, or package them offline.
    #[command(subcommand)]
    Batch(BatchCommand),
    /// KSeF tokens: generate, list, status, revoke.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Certificates: KSeF certificates (limits, enrollment, retrieval, revocation) and
    /// self-signed test certificates.
    #[command(subcommand)]
    Cert(CertCommand),
    /// Permissions: grant, revoke, query, operation status.
    #[command(subcommand)]
    Permissions(PermissionsCommand),
    /// The effective limits of the context and the subject, and the API rate limits.
    Limits,
    /// Whether KSeF is available, from the Ministry's Lighthouse status service (unofficial),
    /// with its announcements. Exit 0 when KSeF is AVAILABLE, 1 when it is not (maintenance,
    /// failure, an unknown status) or the Lighthouse cannot be reached: switch to offline
    /// invoicing then.
    Status(StatusArgs),
    /// The TEST environment's test-data API.
    Testdata(TestdataArgs),
    /// Collective identifiers: one payment identifier for several invoices of one seller.
    #[command(subcommand)]
    Collective(CollectiveCommand),
    /// Defaults (nip, env, base-url) kept in config.toml in the home directory.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// KSeF QR codes (KOD I for invoices, KOD II for offline certificates).
    #[command(subcommand)]
    Qr(QrCommand),
    /// XAdES signatures of XML documents (e.g. an AuthTokenRequest), offline.
    #[command(subcommand)]
    Xades(XadesCommand),
    /// Print a shell completion script.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// The invoice range `invoice query` and `invoice export` select.
#[derive(Debug, Args)]
pub(crate) struct InvoiceRangeArgs {
    /// Start of the date range (RFC 3339, or YYYY-MM-DD).
    #[arg(long, value_name = "T")]
    pub(crate) from: String,
    /// End of the date range (RFC 3339, or YYYY-MM-DD).
    #[arg(long, value_name = "T")]
    pub(crate) to: Option<String>,
    /// Whose invoices: subject1 (seller), subject2 (buyer), subject3, authorized.
    #[arg(long, value_enum, default_value = "subject1")]
    pub(crate) subject_type: SubjectTypeArg,
    /// Which date the range applies to.
    #[arg(long, value_enum, default_value = "permanent-storage")]
    pub(crate) date_type: DateTypeArg,
}

/// `ksef demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Where to save the UPO (default: a new temporary directory).
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,
}

/// `ksef sim`.
#[derive(Debug, Args)]
pub(crate) struct SimArgs {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub(crate) listen: SocketAddr,
    /// Keep the simulator's state in DIR across restarts (KSeF tokens, invoices, test data,
    /// permissions, certificates; not logins or open sessions). The directory is created 0700:
    /// it holds token secrets.
    #[arg(long, value_name = "DIR")]
    pub(crate) data: Option<PathBuf>,
    /// Answer this share of requests (0 to 1) with HTTP 500/503 without processing them.
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub(crate) fault_5xx: Option<f64>,
    /// Answer this share of requests with HTTP 429 (Retry-After: 1).
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub(crate) fault_429: Option<f64>,
    /// Process this share of requests, then drop the connection without answering.
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub(crate) fault_reset: Option<f64>,
    /// Process this share of requests, then send only half of the body.
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub(crate) fault_truncate: Option<f64>,
    /// Delay every faultable request by this many milliseconds.
    #[arg(long, value_name = "MS")]
    pub(crate) fault_latency_ms: Option<u64>,
    /// Seed the fault generator (the same requests then meet the same faults).
    #[arg(long, value_name = "N")]
    pub(crate) fault_seed: Option<u64>,
    /// Inject faults only into this operation id, e.g. sessions.online.send_invoice
    /// (repeatable; default: every operation).
    #[arg(long = "fault-operation", value_name = "ID")]
    pub(crate) fault_operations: Vec<String>,
    /// Trust a certificate by fingerprint in a context, as NIP=SHA256HEX (repeatable): it can
    /// then log in with `--subject fingerprint`.
    #[arg(long, value_name = "NIP=SHA256HEX")]
    pub(crate) trust_fingerprint: Vec<String>,
    /// Which KSeF environment to behave like: `test` accepts a self-signed seal or personal
    /// certificate carrying any NIP as that NIP's owner (as KSeF's TEST does); `prod-like`
    /// lets only the seeded subject, --trust-fingerprint and granted identifiers log in.
    #[arg(long, value_enum, default_value = "test")]
    pub(crate) mode: SimModeArg,
}

/// `ksef sim --mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SimModeArg {
    /// Like KSeF's TEST environment (self-signed certificates accepted).
    Test,
    /// Like production: only trusted or seeded subjects log in.
    #[value(name = "prod-like")]
    ProdLike,
}

/// A fault rate: a number from 0 to 1.
/// A SHA-256 in standard base64 (`--corrects`).
fn parse_invoice_hash(text: &str) -> Result<String, String> {
    let text = text.trim();
    ksef_client::offline::check_invoice_hash(text)
        .map(|()| text.to_owned())
        .map_err(|e| e.to_string())
}

/// `ksef status`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// The Lighthouse base URL (`/status` and `/messages` below it). Default: the selected
    /// environment's (TEST or production; DEMO has none known), or for a loopback --base-url (a
    /// `ksef sim`) its `/lighthouse`.
    #[arg(long, env = "KSEF_LIGHTHOUSE_URL", value_name = "URL")]
    pub(crate) lighthouse_url: Option<String>,
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(rate),
        _ => Err(format!("{text:?} is not a rate from 0 to 1")),
    }
}

/// Where the KSeF token comes from.
#[derive(Debug, Args)]
pub(crate) struct TokenSourceArgs {
    /// Read the KSeF token from this file (first line).
    #[arg(long, value_name = "FILE", conflicts_with = "token_stdin")]
    pub(crate) token_file: Option<PathBuf>,
    /// Read the KSeF token from standard input (first line).
    #[arg(long)]
    pub(crate) token_stdin: bool,
}

/// How the subject is identified from a signing certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SubjectArg {
    /// From the identifiers in the certificate's subject (NIP, PESEL).
    Subject,
    /// From the certificate's SHA-256 fingerprint (granted permissions in KSeF).
    Fingerprint,
}

/// A signing certificate and its private key.
#[derive(Debug, Args)]
pub(crate) struct SigningKeyArgs {
    /// The certificate (PEM or DER).
    #[arg(long, value_name = "FILE", requires = "key", conflicts_with_all = ["token_file", "token_stdin"])]
    pub(crate) cert: Option<PathBuf>,
    /// The private key (PKCS#8 PEM, plain or encrypted).
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub(crate) key: Option<PathBuf>,
    /// A file whose first line is the password of an encrypted key.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub(crate) key_password_file: Option<PathBuf>,
}

/// `ksef auth ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum AuthCommand {
    /// Log in with a KSeF token (from --token-file, --token-stdin or KSEF_TOKEN), or with a
    /// certificate and its key (--cert, --key: a XAdES-signed AuthTokenRequest).
    Login {
        /// The context NIP [default: `nip` from `ksef config`].
        #[arg(long)]
        nip: Option<String>,
        /// Where the token comes from.
        #[command(flatten)]
        token: TokenSourceArgs,
        /// Sign in with a certificate instead of a token.
        #[command(flatten)]
        signing: SigningKeyArgs,
        /// With --cert: how KSeF identifies the subject.
        #[arg(long, value_enum, default_value = "subject", requires = "cert")]
        subject: SubjectArg,
    },
    /// Log in with an AuthTokenRequest signed elsewhere: --generate writes the unsigned request,
    /// --submit sends the signed one.
    #[command(group(clap::ArgGroup::new("phase").required(true).args(["generate", "submit"])))]
    LoginExternal {
        /// Write the unsigned AuthTokenRequest to --output.
        #[arg(long, requires = "output")]
        generate: bool,
        /// Submit the signed AuthTokenRequest from --input.
        #[arg(long, requires = "input", conflicts_with_all = ["generate", "nip", "output"])]
        submit: bool,
        /// With --generate: the context NIP [default: `nip` from `ksef config`].
        #[arg(long)]
        nip: Option<String>,
        /// With --generate: how KSeF identifies the subject.
        #[arg(long, value_enum, default_value = "subject")]
        subject: SubjectArg,
        /// With --generate: where to write the unsigned request.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// With --submit: the signed request.
        #[arg(long, value_name = "FILE", conflicts_with = "generate")]
        input: Option<PathBuf>,
    },
    /// The status of an authentication [default: the profile's login].
    Status {
        /// The authentication's reference number.
        reference: Option<String>,
    },
    /// Show what the session file holds (context, expiry; no secrets).
    Whoami,
    /// Refresh the access token now.
    Refresh,
    /// Revoke the current authentication session and delete the session file.
    Logout,
    /// Ask KSeF for an authentication challenge.
    Challenge,
    /// Authentication sessions.
    #[command(subcommand)]
    Sessions(AuthSessionsCommand),
}

/// `ksef auth sessions ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum AuthSessionsCommand {
    /// List the active authentication sessions of the context.
    List,
    /// Revoke an authentication session (its refresh token stops working).
    Revoke {
        /// The authentication's reference number.
        #[arg(required_unless_present = "current", conflicts_with = "current")]
        reference: Option<String>,
        /// Revoke the profile's own session and forget it locally.
        #[arg(long)]
        current: bool,
    },
}

/// `ksef invoice ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum InvoiceCommand {
    /// Send FA(3) invoices in one online session.
    Send {
        /// The invoice XML files.
        #[arg(required = true, value_name = "FILES")]
        files: Vec<PathBuf>,
        /// The invoice schema (the session's form).
        #[arg(long, value_enum, default_value = "FA3")]
        schema: SchemaArg,
        /// Wait until KSeF processed them (KSeF numbers, final statuses).
        #[arg(long)]
        wait: bool,
        /// Save each invoice's UPO in this directory (implies --wait).
        #[arg(long, value_name = "DIR")]
        upo_dir: Option<PathBuf>,
        /// Send without validating first (KSeF then judges each invoice).
        #[arg(long)]
        no_validate: bool,
        /// The invoices were issued in an offline mode (offline24, KSeF unavailable, failure):
        /// send them with offlineMode, so KSeF records them as offline invoices. Each one's KOD I
        /// link is printed too.
        #[arg(long)]
        offline: bool,
        /// Send the one FILE as the technical correction of an offline invoice KSeF rejected for
        /// technical reasons: HASH is the SHA-256 of the originally rejected file in standard
        /// base64 (its invoiceHash). Implies --offline.
        #[arg(long, value_name = "HASH", value_parser = parse_invoice_hash)]
        corrects: Option<String>,
    },
    /// Check invoices offline against their schema (FA(2), FA(3), FA_RR(1), picked from each
    /// document) and the rules KSeF applies beyond it; exit 1 naming every invalid file.
    Validate {
        /// The invoice XML files.
        #[arg(required = true, value_name = "FILES")]
        files: Vec<PathBuf>,
        /// Also require this form (the one of the session the invoices are meant for).
        #[arg(long, value_enum)]
        schema: Option<SchemaArg>,
    },
    /// Download an invoice by its KSeF number.
    Get {
        /// The KSeF number.
        ksef_number: String,
        /// Write the XML here instead of to stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Query invoice metadata.
    Query {
        #[command(flatten)]
        range: InvoiceRangeArgs,
    },
    /// Export invoices as an encrypted package KSeF builds, then download, check, decrypt and
    /// unpack it: one XML per invoice plus _metadata.json.
    Export {
        #[command(flatten)]
        range: InvoiceRangeArgs,
        /// Only _metadata.json, without the invoices.
        #[arg(long)]
        only_metadata: bool,
        /// The directory to write to (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Bring a directory up to date with KSeF (incremental, resumable): one {ksefNumber}.xml and
    /// {ksefNumber}.json per invoice; the checkpoints live in DIR/.ksef-sync.json.
    Sync {
        /// The directory to keep the invoices in.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// The roles to sync (repeatable) [default: subject1, subject2, subject3].
        #[arg(long, value_enum)]
        subject_type: Vec<SubjectTypeArg>,
        /// Where to start for a role that has no checkpoint yet (RFC 3339 or YYYY-MM-DD)
        /// [default: 30 days ago].
        #[arg(long, value_name = "T")]
        since: Option<String>,
        /// How to read from KSeF: export packages (recommended) or metadata queries plus one
        /// download per invoice (small volumes only).
        #[arg(long, value_enum, default_value = "export")]
        source: SyncSourceArg,
    },
}

/// `--source` of `invoice sync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SyncSourceArg {
    /// Encrypted export packages (up to 10 000 invoices each).
    Export,
    /// Metadata queries and single downloads.
    Query,
}

/// `--subject-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SubjectTypeArg {
    /// The seller.
    Subject1,
    /// The buyer.
    Subject2,
    /// Another party (Podmiot3).
    Subject3,
    /// An authorized subject.
    Authorized,
}

/// `--date-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DateTypeArg {
    /// The issue date (P_1).
    Issue,
    /// When KSeF received the invoice.
    Invoicing,
    /// When it was stored permanently.
    PermanentStorage,
}

/// `ksef session ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum SessionCommand {
    /// List sessions.
    List {
        /// Which kind of sessions.
        #[arg(long = "type", value_enum, default_value = "online")]
        kind: SessionKindArg,
    },
    /// A session's status.
    Status {
        /// The session's reference number.
        reference: String,
    },
    /// The invoices of a session with their statuses.
    Invoices {
        /// The session's reference number.
        reference: String,
    },
    /// Download the session UPO.
    Upo {
        /// The session's reference number.
        reference: String,
        /// Where to save the UPO pages (default: the current directory).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

/// `--type` of `session list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SessionKindArg {
    /// Online (interactive) sessions.
    Online,
    /// Batch sessions.
    Batch,
}

/// `--schema`: the invoice schema (form code) of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SchemaArg {
    /// FA(3).
    #[value(name = "FA3")]
    Fa3,
    /// FA(2).
    #[value(name = "FA2")]
    Fa2,
    /// FA_RR(1).
    #[value(name = "FA_RR")]
    FaRr,
}

/// `--compression`: the archive format of a batch package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CompressionArg {
    /// A ZIP archive (KSeF's default).
    Zip,
    /// A gzip-compressed tar archive.
    #[value(name = "tar-gz")]
    TarGz,
}

/// `ksef batch ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum BatchCommand {
    /// Send invoices in one batch session (with --wait: and report each invoice's outcome).
    Send(BatchSendArgs),
    /// Package invoices offline: encrypted parts plus batch.json with the session-open request.
    Pack {
        /// The directory of invoice XML files (*.xml).
        dir: PathBuf,
        /// The Ministry's symmetric-key encryption certificate (PEM or DER).
        #[arg(long, value_name = "PEM")]
        public_cert: PathBuf,
        /// Where to write the parts and batch.json (created; must be empty if it exists).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// The invoice schema.
        #[arg(long, value_enum, default_value = "FA3")]
        schema: SchemaArg,
        /// The largest part in bytes, before encryption (default: KSeF's limit, 100 MB).
        #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1024..))]
        part_size: Option<u64>,
    },
}

/// `ksef batch send`.
#[derive(Debug, Args)]
pub(crate) struct BatchSendArgs {
    /// Invoice XML files, or directories whose *.xml files are sent.
    #[arg(required = true, value_name = "DIR|FILES")]
    pub(crate) inputs: Vec<PathBuf>,
    /// The invoice schema.
    #[arg(long, value_enum, default_value = "FA3")]
    pub(crate) schema: SchemaArg,
    /// The largest part in bytes, before encryption (default: KSeF's limit, 100 MB).
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1024..))]
    pub(crate) part_size: Option<u64>,
    /// The archive format of the package (`compressionType`).
    #[arg(long, value_enum, default_value = "zip")]
    pub(crate) compression: CompressionArg,
    /// Parts uploaded at once.
    #[arg(long, value_name = "N", default_value = "4", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub(crate) jobs: u16,
    /// Wait until KSeF processed the session and report each invoice's outcome (without
    /// it: print the session's reference number once the session is closed).
    #[arg(long)]
    pub(crate) wait: bool,
    /// Save the session UPO and each accepted invoice's UPO in this directory (needs
    /// --wait).
    #[arg(long, value_name = "DIR", requires = "wait")]
    pub(crate) upo_dir: Option<PathBuf>,
    /// Send without validating first (KSeF then judges each invoice).
    #[arg(long)]
    pub(crate) no_validate: bool,
}

/// `ksef token ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Generate a KSeF token; it is shown once (stdout, or --out written 0600).
    Generate {
        /// What the token is for (5 to 256 characters).
        #[arg(long)]
        description: String,
        /// A permission: InvoiceRead, InvoiceWrite, CredentialsRead, CredentialsManage,
        /// SubunitManage, EnforcementOperations, Introspection, CollectiveIdentifierManage
        /// (repeat or comma-separate).
        #[arg(long = "permission", required = true, value_delimiter = ',')]
        permissions: Vec<String>,
        /// Write the token to this file (0600) instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// List the context's KSeF tokens.
    List,
    /// A token's status.
    Status {
        /// The token's reference number.
        reference: String,
    },
    /// Revoke a token.
    Revoke {
        /// The token's reference number.
        reference: String,
    },
}

/// `ksef collective ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum CollectiveCommand {
    /// Generate a collective identifier for invoices of one seller (at least 2 KSeF numbers).
    Create {
        /// The invoices' KSeF numbers.
        #[arg(required = true, num_args = 2.., value_name = "KSEF_NUMBER")]
        ksef_numbers: Vec<String>,
        /// A payment description for every invoice (up to 512 characters).
        #[arg(long)]
        description: Option<String>,
        /// A payment amount for every invoice (needs --currency).
        #[arg(long, requires = "currency")]
        amount: Option<f64>,
        /// The payment currency code, e.g. PLN (needs --amount).
        #[arg(long, requires = "amount")]
        currency: Option<String>,
    },
    /// List the context's collective identifiers (newest first).
    List {
        /// Created from (RFC 3339 or YYYY-MM-DD); default 30 days ago.
        #[arg(long, value_name = "T")]
        from: Option<String>,
        /// Created up to (RFC 3339 or YYYY-MM-DD); default now.
        #[arg(long, value_name = "T")]
        to: Option<String>,
    },
    /// The collective identifiers an invoice belongs to.
    Show {
        /// The invoice's KSeF number.
        ksef_number: String,
    },
    /// The invoices of up to 10 collective identifiers.
    Invoices {
        /// The collective identifier numbers (at most 10).
        #[arg(required = true, value_name = "ID")]
        numbers: Vec<String>,
    },
}

/// A request body as JSON: `--body FILE`, or `-` for stdin.
#[derive(Debug, Args)]
pub(crate) struct BodyArgs {
    /// The request body as JSON, in the API's shape (a file, or - for stdin).
    #[arg(long, value_name = "FILE")]
    pub(crate) body: Option<PathBuf>,
}

/// `ksef permissions ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum PermissionsCommand {
    /// Grant permissions (asynchronous: prints the operation's reference number).
    Grant {
        /// What kind of grant.
        #[arg(value_enum)]
        kind: GrantKind,
        /// The grant request.
        #[command(flatten)]
        body: BodyArgs,
    },
    /// Revoke a granted permission by its id.
    Revoke {
        /// The permission id (from `ksef permissions query`).
        permission_id: String,
        /// The id is of an entity authorization (self-invoicing, tax representative, PEF).
        #[arg(long)]
        authorization: bool,
    },
    /// The status of a grant or revocation operation.
    Status {
        /// The operation's reference number.
        reference: String,
    },
    /// Query permissions (every page).
    Query {
        /// Which permissions.
        #[arg(value_enum)]
        kind: QueryKind,
        /// The query filters (default: none; `persons` defaults to the permissions in the current
        /// context, `authorizations` to those granted).
        #[command(flatten)]
        body: BodyArgs,
    },
}

/// Kinds of permission grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum GrantKind {
    /// To persons (PersonPermissionsGrantRequest).
    Persons,
    /// To entities (EntityPermissionsGrantRequest).
    Entities,
    /// Entity authorizations (EntityAuthorizationPermissionsGrantRequest).
    Authorizations,
    /// Indirect, through an intermediary (IndirectPermissionsGrantRequest).
    Indirect,
    /// Subunit administrators (SubunitPermissionsGrantRequest).
    Subunits,
    /// EU entity administration (EuEntityAdministrationPermissionsGrantRequest).
    EuEntityAdministration,
    /// EU entity representatives (EuEntityPermissionsGrantRequest).
    EuEntityRepresentatives,
}

/// Kinds of permission queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum QueryKind {
    /// The caller's own permissions.
    Personal,
    /// Permissions granted to persons.
    Persons,
    /// Subunit administrators.
    Subunits,
    /// The context's entity roles.
    EntityRoles,
    /// Roles of subordinate entities.
    SubordinateEntityRoles,
    /// Entity authorizations.
    Authorizations,
    /// Permissions granted to entities.
    Entities,
    /// EU entity permissions.
    EuEntities,
    /// Whether the context may send invoices with attachments.
    Attachments,
}

/// `ksef testdata OPERATION [--body FILE]`.
#[derive(Debug, Args)]
pub(crate) struct TestdataArgs {
    /// The test-data operation.
    #[arg(value_enum)]
    pub(crate) operation: TestdataOp,
    /// certificate-update: the certificate's serial number (16 hexadecimal digits).
    #[arg(long, value_name = "SERIAL")]
    pub(crate) serial: Option<String>,
    /// certificate-update: its new end of validity (RFC 3339 or YYYY-MM-DD), not later than the
    /// current one.
    #[arg(long, value_name = "T")]
    pub(crate) valid_to: Option<String>,
    /// Its request body, where it takes one.
    #[command(flatten)]
    pub(crate) body: BodyArgs,
}

/// The test-data operations (TEST environment only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TestdataOp {
    /// Create a test subject (SubjectCreateRequest).
    SubjectCreate,
    /// Remove a test subject (SubjectRemoveRequest).
    SubjectRemove,
    /// Create a test person (PersonCreateRequest).
    PersonCreate,
    /// Remove a test person (PersonRemoveRequest).
    PersonRemove,
    /// Grant test permissions (TestDataPermissionsGrantRequest).
    PermissionsGrant,
    /// Revoke test permissions (TestDataPermissionsRevokeRequest).
    PermissionsRevoke,
    /// Allow invoices with attachments (AttachmentPermissionGrantRequest).
    AttachmentsEnable,
    /// Disallow invoices with attachments (AttachmentPermissionRevokeRequest).
    AttachmentsRevoke,
    /// Block authentication in a context (BlockContextAuthenticationRequest).
    ContextBlock,
    /// Unblock authentication in a context (UnblockContextAuthenticationRequest).
    ContextUnblock,
    /// Change the session limits (SetSessionLimitsRequest).
    SessionLimitsSet,
    /// Restore the default session limits.
    SessionLimitsReset,
    /// Change the certificate limits (SetSubjectLimitsRequest).
    CertificateLimitsSet,
    /// Restore the default certificate limits.
    CertificateLimitsReset,
    /// Shorten a KSeF certificate's validity (--serial, --valid-to; or --body
    /// TestDataUpdateCertificateRequest).
    CertificateUpdate,
    /// Change the API rate limits (SetRateLimitsRequest).
    RateLimitsSet,
    /// Restore the default API rate limits.
    RateLimitsReset,
    /// Use production's API rate limits.
    RateLimitsProduction,
}

/// `--type` of a KSeF certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum KsefCertTypeArg {
    /// For authentication (XAdES login).
    Authentication,
    /// For offline invoices (KOD II).
    Offline,
}

/// `--reason` of a revocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RevocationReasonArg {
    /// No reason given.
    Unspecified,
    /// Replaced by another certificate.
    Superseded,
    /// The private key leaked.
    KeyCompromise,
}

/// `ksef cert ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum CertCommand {
    /// How many certificates the subject may still enroll and hold.
    Limits,
    /// The subject names KSeF puts into a certificate for the current login.
    EnrollmentData,
    /// Enroll a KSeF certificate: generates the key (written 0600) and the CSR, sends it, waits
    /// until KSeF issues the certificate and saves it.
    Enroll {
        /// The certificate's name (5 to 100 characters).
        #[arg(long)]
        name: String,
        /// The certificate's type.
        #[arg(long = "type", value_enum)]
        kind: KsefCertTypeArg,
        /// Where to write the new private key (PKCS#8 PEM, 0600).
        #[arg(long, value_name = "FILE")]
        key_out: PathBuf,
        /// Where to write the issued certificate (PEM); by default next to the key, named
        /// after its serial number.
        #[arg(long, value_name = "FILE")]
        cert_out: Option<PathBuf>,
        /// An ECDSA P-256 key instead of RSA 2048.
        #[arg(long)]
        ec: bool,
    },
    /// The status of an enrollment (with the certificate's serial number once issued).
    Status {
        /// The enrollment's reference number.
        reference: String,
    },
    /// Download certificates by serial number.
    Get {
        /// Serial numbers.
        #[arg(required = true)]
        serials: Vec<String>,
        /// Save each certificate as SERIAL.pem in this directory.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// List the subject's KSeF certificates.
    List {
        /// Only certificates in this status: Active, Blocked, Revoked, Expired.
        #[arg(long)]
        status: Option<String>,
        /// Only certificates of this type.
        #[arg(long = "type", value_enum)]
        kind: Option<KsefCertTypeArg>,
    },
    /// Revoke a KSeF certificate.
    Revoke {
        /// The serial number.
        serial: String,
        /// Why.
        #[arg(long, value_enum, default_value = "unspecified")]
        reason: RevocationReasonArg,
    },
    /// A self-signed certificate for KSeF's TEST environment (worthless elsewhere).
    #[command(group(clap::ArgGroup::new("who").required(true).args(["nip", "pesel"])))]
    SelfSigned {
        /// A company seal for this NIP.
        #[arg(long)]
        nip: Option<String>,
        /// A personal certificate for this PESEL.
        #[arg(long)]
        pesel: Option<String>,
        /// An ECDSA P-256 key instead of RSA 2048.
        #[arg(long)]
        ec: bool,
        /// The organization (with --nip) [default: "Test company NIP"].
        #[arg(long, conflicts_with = "pesel")]
        organization: Option<String>,
        /// The given name (with --pesel).
        #[arg(long, default_value = "Jan", conflicts_with = "nip")]
        given_name: String,
        /// The surname (with --pesel).
        #[arg(long, default_value = "Testowy", conflicts_with = "nip")]
        surname: String,
        /// Where to write the certificate (PEM).
        #[arg(long, value_name = "FILE")]
        cert_out: PathBuf,
        /// Where to write the private key (PKCS#8 PEM, 0600).
        #[arg(long, value_name = "FILE")]
        key_out: PathBuf,
    },
}

/// `ksef config ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Set a default: nip, env (test|demo|prod) or base-url.
    Set {
        /// The key.
        #[arg(value_enum)]
        key: ConfigKey,
        /// The value.
        value: String,
    },
    /// Print one default.
    Get {
        /// The key.
        #[arg(value_enum)]
        key: ConfigKey,
    },
    /// Remove a default.
    Unset {
        /// The key.
        #[arg(value_enum)]
        key: ConfigKey,
    },
    /// Print every default and where config.toml is.
    Show,
}

/// A key of config.toml.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ConfigKey {
    /// The default context NIP.
    Nip,
    /// The default environment.
    Env,
    /// The default API base URL.
    BaseUrl,
}

/// `ksef qr ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum QrCommand {
    /// KOD I: the verification link of an invoice (seller NIP and issue date read from the file).
    Invoice {
        /// The invoice XML file, exactly as sent to KSeF.
        file: PathBuf,
        /// The invoice's KSeF number (the caption under the code).
        #[arg(long, required_unless_present = "offline")]
        ksef_number: Option<String>,
        /// The invoice has no KSeF number yet: caption OFFLINE.
        #[arg(long, conflicts_with = "ksef_number")]
        offline: bool,
        /// Also write the code as a PNG image.
        #[arg(long, value_name = "FILE")]
        png: Option<PathBuf>,
        /// Also write the code as an SVG image.
        #[arg(long, value_name = "FILE")]
        svg: Option<PathBuf>,
    },
    /// KOD II: the certificate link of an offline invoice, signed with an Offline certificate's key.
    Cert {
        /// The invoice XML file, exactly as sent to KSeF.
        file: PathBuf,
        /// The Offline certificate's serial number (hexadecimal).
        #[arg(long, value_name = "HEX")]
        cert_serial: String,
        /// The Offline certificate's private key (PKCS#8 PEM).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// A file whose first line is the password of an encrypted key.
        #[arg(long, value_name = "FILE")]
        key_password_file: Option<PathBuf>,
        /// The context NIP the invoice was issued in [default: the seller's NIP].
        #[arg(long)]
        context_nip: Option<String>,
        /// Also write the code as a PNG image.
        #[arg(long, value_name = "FILE")]
        png: Option<PathBuf>,
        /// Also write the code as an SVG image.
        #[arg(long, value_name = "FILE")]
        svg: Option<PathBuf>,
    },
}

/// `ksef xades ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum XadesCommand {
    /// Sign an XML document (enveloped XAdES-BES) with a certificate and its key.
    Sign {
        /// The certificate (PEM or DER).
        #[arg(long, value_name = "FILE")]
        cert: PathBuf,
        /// The private key (PKCS#8 PEM, plain or encrypted).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// A file whose first line is the password of an encrypted key.
        #[arg(long, value_name = "FILE")]
        key_password_file: Option<PathBuf>,
        /// The XML document to sign.
        input: PathBuf,
        /// Where to write the signed document [default: stdout].
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Verify a XAdES-signed document and show who signed it.
    Verify {
        /// The signed XML document.
        file: PathBuf,
    },
}
