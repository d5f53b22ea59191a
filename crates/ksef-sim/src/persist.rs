//! Saving the durable part of the state to a directory and loading it again (see
//! [`SimulatorBuilder::data_dir`](crate::SimulatorBuilder::data_dir)).
//!
//! Kept: KSeF tokens, accepted invoices (with the duplicate index rebuilt from them), test data,
//! limits, permission grants, KSeF certificates and enrollments, collective identifiers, and the
//! counters. Not kept:
//! challenges, authentication operations and the JWTs they issued (the signing key is new in
//! every process, so clients log in again), sessions (open ones and the UPOs of closed ones),
//! exports and permission operations in progress. The simulator's encryption certificates and
//! its certificate authority are new in every process.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Stats;
use crate::state::{
    CollectiveRec, Enrollment, Grant, IssuedCertificate, KsefTokenRec, State, StoredInvoice,
    TestPerson, TestSubject,
};

/// The file in the data directory.
const FILE: &str = "ksef-sim-state.json";
/// The format version written, checked on load.
const VERSION: u32 = 1;

/// What is written (borrowing the state).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SnapshotRef<'a> {
    version: u32,
    tokens: &'a [KsefTokenRec],
    invoices: &'a [StoredInvoice],
    test_subjects: &'a BTreeMap<String, TestSubject>,
    test_persons: &'a BTreeMap<String, TestPerson>,
    attachments: &'a HashMap<String, (bool, Option<DateTime<Utc>>)>,
    blocked_contexts: &'a HashSet<String>,
    session_limits: &'a HashMap<String, ksef_model::types::EffectiveContextLimits>,
    subject_limits: &'a HashMap<String, (Option<i32>, Option<i32>)>,
    rate_overrides: &'a HashMap<String, BTreeMap<String, (u32, u32, u32)>>,
    grants: &'a [Grant],
    enrollments: &'a [Enrollment],
    certificates: &'a [IssuedCertificate],
    collective: &'a [CollectiveRec],
    stats: &'a Stats,
}

/// What is read.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Snapshot {
    version: u32,
    tokens: Vec<KsefTokenRec>,
    invoices: Vec<StoredInvoice>,
    test_subjects: BTreeMap<String, TestSubject>,
    test_persons: BTreeMap<String, TestPerson>,
    attachments: HashMap<String, (bool, Option<DateTime<Utc>>)>,
    blocked_contexts: HashSet<String>,
    session_limits: HashMap<String, ksef_model::types::EffectiveContextLimits>,
    subject_limits: HashMap<String, (Option<i32>, Option<i32>)>,
    rate_overrides: HashMap<String, BTreeMap<String, (u32, u32, u32)>>,
    grants: Vec<Grant>,
    enrollments: Vec<Enrollment>,
    certificates: Vec<IssuedCertificate>,
    #[serde(default)]
    collective: Vec<CollectiveRec>,
    stats: Stats,
}

fn file(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

/// The durable state as the bytes of the state file.
pub(crate) fn encode(state: &State) -> std::io::Result<Vec<u8>> {
    let snapshot = SnapshotRef {
        version: VERSION,
        tokens: &state.tokens,
        invoices: &state.invoices,
        test_subjects: &state.test_subjects,
        test_persons: &state.test_persons,
        attachments: &state.attachments,
        blocked_contexts: &state.blocked_contexts,
        session_limits: &state.session_limits,
        subject_limits: &state.subject_limits,
        rate_overrides: &state.rate_overrides,
        grants: &state.grants,
        enrollments: &state.enrollments,
        certificates: &state.certificates,
        collective: &state.collective,
        stats: &state.stats,
    };
    serde_json::to_vec(&snapshot).map_err(std::io::Error::other)
}

/// Makes `dir` (created if missing) private: 0700, and the state file in it, if any, 0600. The
/// file holds KSeF token secrets; a directory that existed before (0755, a 0644 file from an
/// older simulator) is tightened, on every start and every save.
pub(crate) fn secure(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        match std::fs::set_permissions(file(dir), std::fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// Writes an encoded state to `dir` (through a temporary file created 0600, so that a crash never
/// leaves a half-written file and the secrets are never readable by others).
pub(crate) fn save(dir: &Path, json: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    secure(dir)?;
    let temporary = dir.join(format!("{FILE}.tmp"));
    // A leftover temporary (or anything planted under its name) is replaced, never written through.
    match std::fs::remove_file(&temporary) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut out = options.open(&temporary)?;
    out.write_all(json)?;
    out.sync_all()?;
    drop(out);
    std::fs::rename(&temporary, file(dir))
}

/// Reads the state saved in `dir`; `Ok(None)` when nothing was saved there yet.
pub(crate) fn load(dir: &Path) -> Result<Option<Snapshot>, String> {
    let path = file(dir);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let snapshot: Snapshot = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{} is not a ksef-sim state file: {e}", path.display()))?;
    if snapshot.version != VERSION {
        return Err(format!(
            "{} has format version {}, this simulator reads version {VERSION}",
            path.display(),
            snapshot.version
        ));
    }
    Ok(Some(snapshot))
}

impl Snapshot {
    /// Replaces the durable parts of `state` with the snapshot's (tokens are merged by the
    /// caller) and rebuilds the duplicate index.
    pub(crate) fn apply(self, state: &mut State) -> Vec<KsefTokenRec> {
        state.invoices = self.invoices;
        state.duplicates = state
            .invoices
            .iter()
            .enumerate()
            .map(|(index, i)| (i.facts.duplicate_key(), index))
            .collect();
        state.test_subjects = self.test_subjects;
        state.test_persons = self.test_persons;
        state.attachments = self.attachments;
        state.blocked_contexts = self.blocked_contexts;
        state.session_limits = self.session_limits;
        state.subject_limits = self.subject_limits;
        state.rate_overrides = self.rate_overrides;
        state.grants = self.grants;
        state.enrollments = self.enrollments;
        state.certificates = self.certificates;
        state.collective = self.collective;
        state.stats = self.stats;
        self.tokens
    }
}
