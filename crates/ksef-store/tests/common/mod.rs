//! Setup shared by the store's tests: a store on each backend (a SQLite file in a temporary
//! directory; with the `postgres` feature, also a private PostgreSQL server started here with
//! initdb and pg_ctl on a free loopback port and stopped when the test ends), invoices from the
//! Ministry's FA(3) template, and the simulator.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use ksef_client::{Client, PollConfig};
use ksef_store::{Store, StoreLocation};

/// A fresh directory under the system's temporary directory, removed with what it holds when
/// the last holder drops it; kept (and named on stderr) when a test fails, to look into.
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    pub fn new(name: &str) -> Arc<ScratchDir> {
        let dir = std::env::temp_dir().join(format!(
            "ksef-store-{name}-{}-{}",
            std::process::id(),
            Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        Arc::new(ScratchDir(dir))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept for inspection: {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// The Ministry's fixtures: `$KSEF_SPEC_DIR`, else the repository's `fixtures/ksef-spec/`.
pub fn spec_dir() -> PathBuf {
    std::env::var_os("KSEF_SPEC_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/ksef-spec"),
        PathBuf::from,
    )
}

/// The Ministry's FA(3) template with the seller NIP, the invoice number and today's date.
pub fn fa3_invoice(nip: &str, number: &str) -> Vec<u8> {
    let path = spec_dir().join("invoice-templates/invoice-template-fa-3.xml");
    let template = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (set KSEF_SPEC_DIR)", path.display()));
    let today = Utc::now().date_naive().format("%Y-%m-%d").to_string();
    template
        .replace("#nip#", nip)
        .replace("#invoice_number#", number)
        .replace("<P_1>2025-09-01</P_1>", &format!("<P_1>{today}</P_1>"))
        .into_bytes()
}

/// The invoice number (`P_2`) [`fa3_invoice`] gives for `number`: the template wraps it.
pub fn full_number(number: &str) -> String {
    format!("FA/GRQMB-{number}/05/2025")
}

/// A NIP with valid check digits.
pub const NIP: &str = "5265877635";

/// A database for one test; dropping it stops a private server, then removes its directory
/// (fields drop in order: the server before the directory).
pub struct TestDb {
    pub name: &'static str,
    pub location: StoreLocation,
    #[cfg(feature = "postgres")]
    _server: Option<pg::PgServer>,
    _dir: Arc<ScratchDir>,
}

impl TestDb {
    pub async fn open(&self) -> Store {
        Store::open(&self.location).await.expect("the store opens")
    }

    /// Stops the private PostgreSQL server (immediately, as a crash would); no-op on SQLite.
    pub fn stop_server(&self) {
        #[cfg(feature = "postgres")]
        if let Some(server) = &self._server {
            server.stop();
        }
    }

    /// Starts the private PostgreSQL server again on its port; no-op on SQLite.
    pub fn start_server(&self) {
        #[cfg(feature = "postgres")]
        if let Some(server) = &self._server {
            server.start_again();
        }
    }
}

/// One database per backend this build has: SQLite, and PostgreSQL with the `postgres` feature.
pub fn databases(name: &str) -> Vec<TestDb> {
    let dir = ScratchDir::new(name);
    #[allow(unused_mut)]
    let mut all = vec![TestDb {
        name: "sqlite",
        location: StoreLocation::Sqlite(dir.path().join("outbox.sqlite")),
        #[cfg(feature = "postgres")]
        _server: None,
        _dir: dir.clone(),
    }];
    #[cfg(feature = "postgres")]
    {
        let server = pg::PgServer::start(&dir.path().join("pg"));
        all.push(TestDb {
            name: "postgres",
            location: server.url().parse().unwrap(),
            _server: Some(server),
            _dir: dir,
        });
    }
    all
}

/// A client against `base_url` with quick polling.
pub fn client_for(base_url: &str) -> Client {
    // The simulator's limits are off: no pacing, and quick retries (as ksef-soak's client).
    let retry = ksef_client::RetryConfig::default()
        .with_max_attempts(10)
        .with_backoff(Duration::from_millis(5), Duration::from_millis(100));
    Client::builder()
        .transport(|t| t.base_url(base_url).retry(retry).without_rate_limit())
        .poll(
            PollConfig::default()
                .with_backoff(Duration::from_millis(20), Duration::from_millis(200))
                .with_timeout(Duration::from_secs(30)),
        )
        .reconcile(
            PollConfig::reconcile_default()
                .with_backoff(Duration::from_millis(20), Duration::from_millis(100))
                .with_timeout(Duration::from_millis(500)),
        )
        .build()
        .expect("a client")
}

/// A worker run, bounded: a test fails instead of hanging.
pub async fn bounded<T>(run: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(180), run)
        .await
        .expect("the worker run did not finish within 180 s")
}

/// A client logged in to the simulator's seeded company with its KSeF token.
pub async fn logged_in(sim: &ksef_sim::Simulator) -> Client {
    let client = client_for(sim.base_url());
    client
        .login_with_ksef_token(
            sim.seeded_nip().parse::<ksef_model::values::Nip>().unwrap(),
            sim.seeded_token(),
        )
        .await
        .expect("token login");
    client
}

#[cfg(feature = "postgres")]
pub mod pg {
    //! A private PostgreSQL server: initdb into a temporary directory, pg_ctl start on a free
    //! loopback port, trust authentication for the test's own user; stopped on drop.

    use std::path::{Path, PathBuf};
    use std::process::Command;

    pub struct PgServer {
        bin: PathBuf,
        data: PathBuf,
        port: u16,
    }

    /// The directory holding initdb and pg_ctl: on PATH, /usr/local/bin, or Debian's
    /// /usr/lib/postgresql/<version>/bin (the highest version).
    fn bin_dir() -> PathBuf {
        let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default();
        candidates.push(PathBuf::from("/usr/local/bin"));
        if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
            let mut versions: Vec<PathBuf> =
                entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
            versions.sort();
            candidates.extend(versions.into_iter().rev().map(|v| v.join("bin")));
        }
        candidates
            .into_iter()
            .find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
            .expect(
                "initdb and pg_ctl not found (on PATH, /usr/local/bin or \
                 /usr/lib/postgresql/*/bin): install Debian's postgresql package",
            )
    }

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    /// PostgreSQL refuses to run as root: run its tools as `nobody` then (via runuser).
    fn command(bin: &Path, tool: &str) -> Command {
        let is_root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false);
        if is_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "nobody", "--"]).arg(bin.join(tool));
            c
        } else {
            Command::new(bin.join(tool))
        }
    }

    impl PgServer {
        pub fn start(data: &Path) -> PgServer {
            let bin = bin_dir();
            std::fs::create_dir_all(data).unwrap();
            let is_root = Command::new("id")
                .arg("-u")
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
                .unwrap_or(false);
            if is_root {
                let mut dir = Some(data);
                // nobody needs to reach the data directory.
                while let Some(d) = dir {
                    let _ = Command::new("chmod").arg("o+rx").arg(d).status();
                    dir = d.parent().filter(|p| p != &Path::new("/"));
                }
                let status = Command::new("chown")
                    .args(["-R", "nobody"])
                    .arg(data)
                    .status()
                    .unwrap();
                assert!(status.success());
            }
            let out = command(&bin, "initdb")
                .args(["-A", "trust", "-U", "ksef", "--no-sync", "-D"])
                .arg(data)
                .output()
                .expect("initdb runs");
            assert!(
                out.status.success(),
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let port = free_port();
            let server = PgServer {
                bin,
                data: data.to_owned(),
                port,
            };
            server.start_again();
            server
        }

        /// Starts the server (again) on its data directory and port.
        pub fn start_again(&self) {
            let (bin, data, port) = (&self.bin, &self.data, self.port);
            let out = command(bin, "pg_ctl")
                .arg("-D")
                .arg(data)
                .arg("-o")
                .arg(format!("-h 127.0.0.1 -p {port} -k {} -F", data.display()))
                .arg("-l")
                .arg(data.join("server.log"))
                .args(["-w", "-t", "30", "start"])
                .output()
                .expect("pg_ctl runs");
            assert!(
                out.status.success(),
                "pg_ctl start failed: {}{}",
                String::from_utf8_lossy(&out.stderr),
                std::fs::read_to_string(data.join("server.log")).unwrap_or_default()
            );
        }

        /// Stops the server at once (`-m immediate`, as a crash would).
        pub fn stop(&self) {
            let out = command(&self.bin, "pg_ctl")
                .arg("-D")
                .arg(&self.data)
                .args(["-m", "immediate", "-w", "stop"])
                .output()
                .expect("pg_ctl runs");
            assert!(
                out.status.success(),
                "pg_ctl stop failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }

        pub fn url(&self) -> String {
            format!("postgres://ksef@127.0.0.1:{}/postgres", self.port)
        }
    }

    impl Drop for PgServer {
        fn drop(&mut self) {
            let _ = command(&self.bin, "pg_ctl")
                .arg("-D")
                .arg(&self.data)
                .args(["-m", "immediate", "-w", "stop"])
                .output();
        }
    }
}
