//! The state file of a run, in `$XDG_STATE_HOME/meshbook/runs/` (one per runbook): what the
//! run is (runbook path and content hash, parameters, clusters), where it got to (section
//! statuses), what it created (so `meshbook cleanup` can delete it later) and which registered
//! undos were left unrun. Written after every section and when the run ends.
//!
//! Undos registered with `cleanup(|| ...)` are closures: they live only as long as the run's
//! script and cannot be written down. What a later process can replay is data: every object the
//! run created (server-side apply said "created", `create_namespace`, secrets), on which
//! cluster, in order. `meshbook cleanup` deletes those, newest first, on the recorded contexts
//! only; undos that did something else (a `helm uninstall`, restoring a replica count) are
//! listed by the section that registered them, for a person to do by hand.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::runbook::{Origin, Runbook};

/// A state file or snapshot that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The state file is not what meshbook wrote.
    #[error("the state file `{path}` cannot be read: {source}")]
    Corrupt {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot read the state file `{path}`: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the state file `{path}`: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write a snapshot to `{path}`: {source}")]
    Snapshot {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl crate::base::error::Help for CheckpointError {
    fn help(&self) -> Option<String> {
        match self {
            CheckpointError::Corrupt { .. } => Some("delete it to start afresh".into()),
            _ => None,
        }
    }
}

crate::base::error::paragraph_into_string!(CheckpointError);

/// An object the run created, recorded so it can be deleted after the run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct CreatedObject {
    pub cluster: String,
    pub kind: String,
    #[serde(default)]
    pub namespace: Option<String>,
    pub name: String,
}

impl CreatedObject {
    pub fn describe(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}: {} {ns}/{}", self.cluster, self.kind, self.name),
            None => format!("{}: {} {}", self.cluster, self.kind, self.name),
        }
    }
}

/// The state file's content.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Record {
    /// How the runbook was named (`runbooks/global-mesh.rhai` or the path given).
    pub runbook: String,
    /// FNV-1a 64 of the runbook's source: tells a changed runbook from the one that ran.
    pub runbook_hash: String,
    /// The run was on simulated clusters started inside the run's own process (gone with it).
    #[serde(default)]
    pub in_process: bool,
    /// `KUBECONFIG` as the run saw it, for `meshbook cleanup` run from another shell.
    #[serde(default)]
    pub kubeconfig: Option<String>,
    /// Logical cluster -> kubeconfig context, for clusters reached through a context.
    #[serde(default)]
    pub contexts: BTreeMap<String, String>,
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Section title and status (`passed`, `failed`, `skipped`), in run order.
    #[serde(default)]
    pub sections: Vec<(String, String)>,
    /// Objects the run created and did not delete, in creation order.
    #[serde(default)]
    pub created: Vec<CreatedObject>,
    /// Undos registered with `cleanup(...)` that did not run, newest first, by section.
    #[serde(default)]
    pub undos_left: Vec<String>,
    /// `running`, `passed`, `failed` or `interrupted`.
    #[serde(default)]
    pub status: String,
    /// The runbook's top-level variables after the last section, as JSON (values that are
    /// not data, such as cluster handles, are left out: the top-level code makes them again).
    /// A secret is kept by reference, `{"$secret_env": "NAME"}`, never in clear.
    #[serde(default)]
    pub variables: BTreeMap<String, serde_json::Value>,
    /// The section the run got to and did not pass (where `--resume` goes on).
    #[serde(default)]
    pub resume_at: Option<String>,
    /// The last run cleaned up after its failure (undos or `always` sections ran).
    #[serde(default)]
    pub cleaned_up: bool,
}

/// What a run on simulated clusters of its own process looked like just before a section:
/// every cluster's objects and the top-level variables (see [`boundary_path`]).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Boundary {
    pub section: String,
    pub runbook_hash: String,
    pub variables: BTreeMap<String, serde_json::Value>,
    pub clusters: BTreeMap<String, crate::sim::ClusterSnapshot>,
}

/// Redacted copies of the objects of the last section's snapshot, by the stored object they
/// were made from: an object no write replaced since (the same shared `Arc`) is not redacted
/// again. Forgotten when a secret is added.
#[derive(Default)]
pub struct RedactedObjects {
    secrets: usize,
    by_object: std::collections::HashMap<usize, (SharedValue, SharedValue)>,
}

type SharedValue = std::sync::Arc<serde_json::Value>;

/// Never shows objects: they may hold secrets.
impl std::fmt::Debug for RedactedObjects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedactedObjects")
            .field("objects", &self.by_object.len())
            .finish()
    }
}

impl RedactedObjects {
    /// Masks every secret in the snapshots' objects, reusing what the last call redacted.
    pub fn redact(
        &mut self,
        clusters: &mut BTreeMap<String, crate::sim::ClusterSnapshot>,
        redactor: &crate::report::Redactor,
    ) {
        let secrets = redactor.len();
        if secrets != self.secrets {
            self.by_object.clear();
            self.secrets = secrets;
        }
        let mut next = std::collections::HashMap::new();
        for snap in clusters.values_mut() {
            for o in &mut snap.store.objects {
                let at = std::sync::Arc::as_ptr(&o.object) as usize;
                let redacted = match self.by_object.get(&at) {
                    // the original is kept alive in the map, so its address names it alone
                    Some((orig, red)) if std::sync::Arc::ptr_eq(orig, &o.object) => red.clone(),
                    _ => redactor.redact_shared(&o.object),
                };
                next.insert(at, (o.object.clone(), redacted.clone()));
                o.object = redacted;
            }
        }
        self.by_object = next;
    }
}

/// Where the snapshot taken before `section` lives, next to the state file.
pub fn boundary_path(state_file: &Path, section: &str) -> PathBuf {
    let dir = state_file.with_extension("sections");
    dir.join(format!("{}.json", content_hash(section)))
}

/// Reads a boundary snapshot; `None` when there is none or it cannot be read.
pub fn load_boundary(path: &Path) -> Option<Boundary> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

/// Writes a boundary snapshot.
pub fn save_boundary(path: &Path, b: &Boundary) -> Result<(), CheckpointError> {
    let write = || -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec(b).unwrap_or_default())?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|source| CheckpointError::Snapshot {
        path: path.display().to_string(),
        source,
    })
}

/// FNV-1a 64 of a text, hex: a change detector, not a security measure.
pub fn content_hash(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// `$XDG_STATE_HOME/meshbook/runs` (or the platform's state directory).
pub fn runs_dir() -> PathBuf {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(dirs::state_dir)
        .or_else(|| dirs::home_dir().map(|h| h.join(".local").join("state")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("meshbook").join("runs")
}

/// The state file of a runbook: its name and a hash of where it lives (a file's absolute path,
/// or the bundled name), so two files with the same name keep separate state.
pub fn path_for(runbook: &Runbook) -> PathBuf {
    let identity = match &runbook.origin {
        Origin::File(p) => std::fs::canonicalize(p)
            .unwrap_or_else(|_| p.clone())
            .to_string_lossy()
            .into_owned(),
        Origin::Bundled => format!("bundled:{}", runbook.name),
        Origin::Inline => format!("inline:{}", runbook.name),
    };
    let name: String = runbook
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    runs_dir().join(format!("{name}-{}.json", &content_hash(&identity)[..8]))
}

/// Reads a state file; `Ok(None)` when there is none.
pub fn load(path: &Path) -> Result<Option<Record>, CheckpointError> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            serde_json::from_str(&text)
                .map(Some)
                .map_err(|source| CheckpointError::Corrupt {
                    path: path.display().to_string(),
                    source,
                })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CheckpointError::Read {
            path: path.display().to_string(),
            source,
        }),
    }
}

/// Writes a state file (whole, through a temporary file, readable by its owner only).
pub fn save(path: &Path, record: &Record) -> Result<(), CheckpointError> {
    let write = || -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(record).unwrap_or_default();
        std::fs::write(&tmp, text)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600));
        }
        std::fs::rename(&tmp, path)
    };
    write().map_err(|source| CheckpointError::Write {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_stable_and_tells_texts_apart() {
        assert_eq!(content_hash(""), "cbf29ce484222325");
        assert_ne!(content_hash("a"), content_hash("b"));
    }

    #[test]
    fn records_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x").join("r.json");
        assert!(load(&path).unwrap().is_none());
        let r = Record {
            runbook: "r.rhai".into(),
            created: vec![CreatedObject {
                cluster: "c1".into(),
                kind: "Namespace".into(),
                namespace: None,
                name: "demo".into(),
            }],
            ..Record::default()
        };
        save(&path, &r).unwrap();
        let back = load(&path).unwrap().unwrap();
        assert_eq!(back.created, r.created);
    }
}

#[cfg(test)]
mod redaction_tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn snapshot_objects_are_redacted_once_while_unchanged() {
        let redactor = crate::report::Redactor::new();
        redactor.add("hunter2-secret").unwrap();
        let base: crate::sim::ClusterSnapshot = serde_json::from_value(serde_json::json!({
            "store": {"objects": [
                {"group": "", "plural": "configmaps", "object": {"data": {"k": "plain"}}},
                {"group": "", "plural": "secrets", "object": {"data": {"k": "hunter2-secret"}}}
            ]},
            "counters": [0, 0, 0, 0]
        }))
        .unwrap();
        let clean = base.store.objects[0].object.clone();
        let at = |b: &crate::sim::ClusterSnapshot| BTreeMap::from([("c1".to_string(), b.clone())]);
        let mut cache = RedactedObjects::default();
        let mut first = at(&base);
        cache.redact(&mut first, &redactor);
        let objs = &first["c1"].store.objects;
        // an object without a secret is not copied; one with a secret is masked
        assert!(Arc::ptr_eq(&objs[0].object, &clean));
        assert_eq!(objs[1].object["data"]["k"], "***");
        let mut second = at(&base);
        cache.redact(&mut second, &redactor);
        assert!(Arc::ptr_eq(
            &second["c1"].store.objects[1].object,
            &objs[1].object
        ));
        // a secret added later is masked in objects redacted before
        redactor.add("plain").unwrap();
        let mut third = at(&base);
        cache.redact(&mut third, &redactor);
        assert_eq!(third["c1"].store.objects[0].object["data"]["k"], "***");
    }
}
