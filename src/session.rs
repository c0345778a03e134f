//! The state one run (or REPL session) shares with every binding: the tokio handle, the
//! reporter, parameters, the clusters, and where in the runbook we are.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::problem::Problem;
use crate::report::{Event, Reporter};
use crate::runbook::Runbook;

/// Which sections run: `--only`, `--skip` and `--from`, resolved to exact titles.
#[derive(Clone, Debug, Default)]
pub struct SectionFilter {
    pub only: Vec<String>,
    pub skip: Vec<String>,
    pub from: Option<String>,
}

/// The section a user-typed name given with `flag` means (case-insensitive; the exact title
/// first, else a unique substring).
pub fn find_section(titles: &[String], flag: &str, wanted: &str) -> Result<String, Problem> {
    let w = wanted.to_lowercase();
    if let Some(t) = titles.iter().find(|t| t.to_lowercase() == w) {
        return Ok(t.clone());
    }
    let partial: Vec<&String> = titles
        .iter()
        .filter(|t| t.to_lowercase().contains(&w))
        .collect();
    let quoted = |ts: &[&String]| {
        ts.iter()
            .map(|t| format!("`{t}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match partial.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(Problem::new(format!(
            "{flag} `{wanted}` matches no section; the sections are: {}",
            quoted(&titles.iter().collect::<Vec<_>>())
        ))),
        many => Err(Problem::new(format!(
            "{flag} `{wanted}` matches several sections ({}): give more of the title",
            quoted(many)
        ))),
    }
}

impl SectionFilter {
    /// Resolves user-typed names (case-insensitive; exact title first, else a unique substring)
    /// against the runbook's section titles.
    pub fn resolve(
        titles: &[String],
        only: &[String],
        skip: &[String],
        from: Option<&str>,
    ) -> Result<SectionFilter, Problem> {
        Ok(SectionFilter {
            only: only
                .iter()
                .map(|o| find_section(titles, "--only", o))
                .collect::<Result<_, _>>()?,
            skip: skip
                .iter()
                .map(|s| find_section(titles, "--skip", s))
                .collect::<Result<_, _>>()?,
            from: from
                .map(|f| find_section(titles, "--from", f))
                .transpose()?,
        })
    }

    /// Why a section does not run, or `None` when it does. `from_reached` tracks `--from`.
    pub fn exclusion(&self, title: &str, from_reached: &mut bool) -> Option<&'static str> {
        if let Some(from) = &self.from {
            if !*from_reached && from == title {
                *from_reached = true;
            }
            if !*from_reached {
                return Some("before --from");
            }
        }
        if !self.only.is_empty() && !self.only.iter().any(|o| o == title) {
            return Some("not in --only");
        }
        if self.skip.iter().any(|s| s == title) {
            return Some("--skip");
        }
        None
    }
}

/// Where the run is, and where the first failure happened.
#[derive(Debug, Default)]
pub struct Position {
    pub section: Option<String>,
    pub steps: Vec<String>,
}

#[derive(Debug, Default)]
pub struct RunState {
    pub at: Position,
    /// Section and step path of the first error, captured where it happened.
    pub failed_at: Option<(Option<String>, Vec<String>)>,
    pub from_reached: bool,
    /// Statuses of sections seen so far, in order (for the REPL's `:sections`).
    pub sections: Vec<(String, crate::report::Status)>,
    /// Namespaces the run touched, per cluster (for the failure bundle).
    pub namespaces: BTreeMap<String, std::collections::BTreeSet<String>>,
    /// The first section failure (rendered): later sections run only if `always: true`.
    pub failure: Option<String>,
    /// Undos registered with `cleanup(...)`, oldest first; run newest first when the run ends.
    pub undos: Vec<Undo>,
    /// Objects the run created and has not deleted, in creation order (for `meshbook cleanup`).
    pub created: Vec<crate::checkpoint::CreatedObject>,
    /// `--keep`: neither undos nor `always` sections run; the state file says what to clean.
    pub keep: bool,
    /// Where the run's state file is written (runs only; the REPL keeps none).
    pub state_file: Option<std::path::PathBuf>,
    /// Sections that passed in the run being resumed: skipped, and recorded passed again.
    pub resume_skip: Vec<String>,
    /// Top-level values to put back (`--resume`, `--from` on simulated clusters), each set
    /// when the script first reaches a section call with the variable in scope.
    pub restore_vars: BTreeMap<String, serde_json::Value>,
    /// Undos ran or an `always` section ran after a failure.
    pub cleaned_up: bool,
    /// On a dry run, what each apply would change (unified diffs, for `meshbook diff`).
    pub diffs: Vec<String>,
    /// Redacted objects of the last snapshot before a section, reused by the next one.
    pub snapshot_redactions: crate::checkpoint::RedactedObjects,
}

/// An undo registered with `cleanup(|| ...)`.
#[derive(Debug, Clone)]
pub struct Undo {
    /// The section that registered it (`None`: top level).
    pub section: Option<String>,
    pub body: rhai::FnPtr,
}

impl Undo {
    pub fn describe(&self) -> String {
        match &self.section {
            Some(t) => format!("the undo registered in section `{t}`"),
            None => "an undo registered at top level".to_string(),
        }
    }
}

/// Shared by every binding of one engine.
pub struct Session {
    pub rt: tokio::runtime::Handle,
    pub reporter: Arc<Reporter>,
    pub runbook: Runbook,
    /// Header defaults overridden by `--set`.
    pub params: BTreeMap<String, String>,
    /// Values used instead of the environment (placeholders on simulated clusters).
    pub env_overrides: BTreeMap<String, String>,
    pub filter: SectionFilter,
    /// A person is at a terminal and may be asked things.
    pub interactive: bool,
    /// The run is on simulated clusters.
    pub simulated: bool,
    pub state: Mutex<RunState>,
    /// Set by Ctrl-C; the engine's progress hook stops the script.
    pub cancelled: Arc<AtomicBool>,
    /// The runbook's top-level variables as they were when the last section was called, each
    /// shared with the script (so the REPL sees and changes the script's own values). Kept on
    /// interactive runs with a hook installed, and on runs with a state file.
    pub top_level: Mutex<Vec<(String, rhai::Dynamic)>>,
    /// The clusters of the run.
    pub fleet: Arc<crate::fleet::Fleet>,
    /// `run --dry-run`: writes are sent with `dryRun=All` or only described, tools are not
    /// run, waits are not waited, and a failed expectation is a skipped check.
    pub dry_run: bool,
}

impl Session {
    /// A session that runs nothing on clusters: for `check`, `docs`, `list` and static checks.
    pub fn detached(runbook: Runbook, rt: tokio::runtime::Handle) -> Session {
        Session {
            rt,
            reporter: Arc::new(Reporter::new(
                crate::report::Redactor::new(),
                crate::report::TerminalOptions {
                    verbosity: -2,
                    ..crate::report::TerminalOptions::plain()
                },
                Vec::new(),
            )),
            runbook,
            params: BTreeMap::new(),
            env_overrides: BTreeMap::new(),
            filter: SectionFilter::default(),
            interactive: false,
            simulated: false,
            state: Mutex::new(RunState::default()),
            cancelled: Arc::new(AtomicBool::new(false)),
            top_level: Mutex::default(),
            fleet: Arc::new(crate::fleet::Fleet::empty()),
            dry_run: false,
        }
    }

    /// The top-level variables captured at the last section call.
    pub fn top_level(&self) -> Vec<(String, rhai::Dynamic)> {
        self.top_level
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn emit(&self, event: Event) {
        self.record_object(&event);
        self.reporter.emit(event);
    }

    /// Keeps the list of objects the run created (and has not deleted since) up to date.
    fn record_object(&self, event: &Event) {
        use crate::checkpoint::CreatedObject;
        match event {
            Event::Applied {
                cluster,
                kind,
                namespace,
                name,
                outcome: crate::report::ApplyOutcome::Created,
                dry_run: false,
            } => self.state().created.push(CreatedObject {
                cluster: cluster.clone(),
                kind: kind.clone(),
                namespace: namespace.clone(),
                name: name.clone(),
            }),
            Event::Deleted {
                cluster,
                kind,
                namespace,
                name,
                ..
            } => {
                let namespace_deleted = kind.eq_ignore_ascii_case("namespace")
                    || kind.eq_ignore_ascii_case("namespaces")
                    || kind.eq_ignore_ascii_case("ns");
                self.state().created.retain(|o| {
                    let same = &o.cluster == cluster
                        && o.kind.eq_ignore_ascii_case(kind)
                        && &o.name == name
                        && (namespace_deleted || o.namespace == *namespace);
                    let inside = namespace_deleted
                        && &o.cluster == cluster
                        && o.namespace.as_ref() == Some(name);
                    !(same || inside)
                });
            }
            _ => {}
        }
    }

    pub fn state(&self) -> std::sync::MutexGuard<'_, RunState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs a future to completion from the script thread.
    pub fn block_on<F: std::future::Future>(&self, fut: F) -> F::Output {
        self.rt.block_on(fut)
    }

    /// Runs a future from the script thread, giving up when the run is cancelled (Ctrl-C):
    /// `None` then. Long operations (waits, requests with retries, tools) go through here so a
    /// person is never stuck behind a five-minute timeout; a dropped tool is killed.
    pub fn block_on_cancellable<F: std::future::Future>(&self, fut: F) -> Option<F::Output> {
        let cancelled = self.cancelled.clone();
        self.rt.block_on(async move {
            tokio::select! {
                out = fut => Some(out),
                _ = async {
                    while !cancelled.load(Ordering::Relaxed) {
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                } => None,
            }
        })
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// On a dry run, says what a step would have done (and returns true): the caller then
    /// skips it.
    pub fn would(&self, cluster: &str, what: &str) -> bool {
        if self.dry_run {
            self.emit(Event::Notice {
                text: format!("dry run: would {what} on {cluster}"),
            });
        }
        self.dry_run
    }

    /// Sleeps, waking early when the run is cancelled.
    pub fn sleep(&self, d: Duration) {
        let cancelled = self.cancelled.clone();
        self.block_on(async move {
            let deadline = tokio::time::Instant::now() + d;
            while tokio::time::Instant::now() < deadline && !cancelled.load(Ordering::Relaxed) {
                let left = deadline - tokio::time::Instant::now();
                tokio::time::sleep(left.min(Duration::from_millis(100))).await;
            }
        });
    }

    /// Reads an environment variable, honouring overrides.
    pub fn env(&self, name: &str) -> Option<String> {
        self.env_overrides
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
    }

    /// Marks a value as secret for everything rendered from now on. A value too short to be
    /// masked safely is refused: the caller fails, naming where it came from (never the
    /// value).
    pub fn add_secret(&self, value: &str) -> Result<(), crate::report::redact::TooShort> {
        self.reporter.redactor().add(value)
    }

    pub fn redact(&self, text: &str) -> String {
        self.reporter.redactor().redact(text)
    }

    /// The state file's content for where the run is now.
    pub fn record(&self, status: &str) -> crate::checkpoint::Record {
        let members = self.fleet.members();
        let contexts = members
            .iter()
            .filter_map(|m| {
                m.cluster
                    .context()
                    .map(|c| (m.name().to_string(), c.to_string()))
            })
            .collect();
        let mut st = self.state();
        crate::checkpoint::Record {
            runbook: self.runbook.display_path.clone(),
            runbook_hash: crate::checkpoint::content_hash(&self.runbook.source),
            in_process: members.iter().any(|m| m.cluster.context().is_none()),
            kubeconfig: std::env::var("KUBECONFIG").ok(),
            contexts,
            params: self.params.clone(),
            sections: st
                .sections
                .iter()
                .map(|(t, s)| (t.clone(), s.as_str().to_string()))
                .collect(),
            created: st.created.clone(),
            undos_left: st.undos.iter().rev().map(Undo::describe).collect(),
            status: status.to_string(),
            variables: {
                drop(st);
                let v = self.variables_json();
                st = self.state();
                v
            },
            resume_at: st
                .sections
                .iter()
                .find(|(_, s)| *s == crate::report::Status::Failed)
                .map(|(t, _)| t.clone()),
            cleaned_up: st.cleaned_up,
        }
    }

    /// The top-level variables seen at the last section call, as JSON: data only (cluster
    /// handles and closures are left out), secrets by reference.
    pub fn variables_json(&self) -> BTreeMap<String, serde_json::Value> {
        let mut out = BTreeMap::new();
        for (name, v) in self.top_level() {
            if let Some(json) = to_json(&v.flatten_clone()) {
                out.insert(name, self.secret_refs(json));
            }
        }
        out
    }

    /// Replaces every secret string of a value by a reference to the environment variable
    /// holding it (`{"$secret_env": NAME}`), or by `{"$secret": "not recorded"}`.
    fn secret_refs(&self, v: serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match v {
            Value::String(text) if self.redact(&text) != text => {
                let name = self
                    .env_overrides
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .chain(std::env::vars())
                    .find(|(_, v)| *v == text)
                    .map(|(k, _)| k);
                match name {
                    Some(n) => serde_json::json!({ "$secret_env": n }),
                    None => serde_json::json!({ "$secret": "not recorded" }),
                }
            }
            Value::Array(a) => Value::Array(a.into_iter().map(|x| self.secret_refs(x)).collect()),
            Value::Object(m) => Value::Object(
                m.into_iter()
                    .map(|(k, x)| (k, self.secret_refs(x)))
                    .collect(),
            ),
            other => other,
        }
    }

    /// A recorded value as a script value, secrets read again from the environment; `None`
    /// when it holds a secret that was not recorded (or whose variable is no longer set).
    pub fn restored_value(&self, v: &serde_json::Value) -> Option<rhai::Dynamic> {
        fn resolve(s: &Session, v: &serde_json::Value) -> Option<rhai::Dynamic> {
            use serde_json::Value;
            Some(match v {
                Value::Object(m) if m.len() == 1 && m.contains_key("$secret") => return None,
                Value::Object(m) if m.len() == 1 && m.contains_key("$secret_env") => {
                    let name = m["$secret_env"].as_str()?;
                    let value = s.env(name)?;
                    s.add_secret(&value).ok()?;
                    value.into()
                }
                // A cluster handle: the same cluster of this run, if it has it.
                Value::Object(m) if m.len() == 1 && m.contains_key("$cluster") => {
                    rhai::Dynamic::from(s.fleet.get(m["$cluster"].as_str()?)?)
                }
                Value::Array(a) => rhai::Dynamic::from_array(
                    a.iter().map(|x| resolve(s, x)).collect::<Option<_>>()?,
                ),
                Value::Object(m) => rhai::Dynamic::from_map(
                    m.iter()
                        .map(|(k, x)| resolve(s, x).map(|x| (k.as_str().into(), x)))
                        .collect::<Option<_>>()?,
                ),
                other => rhai::serde::to_dynamic(other.clone()).ok()?,
            })
        }
        resolve(self, v)
    }

    /// Writes the state file of a run (nothing for the REPL); a failure to write is a notice.
    pub fn checkpoint(&self, status: &str) {
        let Some(path) = self.state().state_file.clone() else {
            return;
        };
        let record = self.record(status);
        if let Err(e) = crate::checkpoint::save(&path, &record) {
            self.emit(Event::Notice { text: e.into() });
        }
    }

    /// Records that the run touched a namespace on a cluster.
    pub fn touch_namespace(&self, cluster: &str, namespace: &str) {
        if namespace.is_empty() {
            return;
        }
        self.state()
            .namespaces
            .entry(cluster.to_string())
            .or_default()
            .insert(namespace.to_string());
    }
}

/// A top-level value as JSON for the state file: plain data, and cluster handles by name
/// (`{"$cluster": "mgmt"}`); `None` for what cannot be written down (closures, other handles).
fn to_json(v: &rhai::Dynamic) -> Option<serde_json::Value> {
    use serde_json::Value;
    if let Some(m) = v.read_lock::<crate::fleet::Member>() {
        return Some(serde_json::json!({ "$cluster": m.name() }));
    }
    if let Some(a) = v.read_lock::<rhai::Array>() {
        return a
            .iter()
            .map(|x| to_json(&x.flatten_clone()))
            .collect::<Option<Vec<_>>>()
            .map(Value::Array);
    }
    if let Some(m) = v.read_lock::<rhai::Map>() {
        return m
            .iter()
            .map(|(k, x)| to_json(&x.flatten_clone()).map(|x| (k.to_string(), x)))
            .collect::<Option<serde_json::Map<_, _>>>()
            .map(Value::Object);
    }
    if v.is_unit() || v.is_bool() || v.is_int() || v.is_float() || v.is_string() || v.is_char() {
        return rhai::serde::from_dynamic::<Value>(v).ok();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn titles() -> Vec<String> {
        [
            "Set cluster contexts",
            "Link Clusters",
            "Configure a global service",
            "Clean up",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    #[test]
    fn resolves_case_insensitively_and_by_unique_substring() {
        let f = SectionFilter::resolve(
            &titles(),
            &["link clusters".into()],
            &["clean".into()],
            None,
        )
        .unwrap();
        assert_eq!(f.only, vec!["Link Clusters"]);
        assert_eq!(f.skip, vec!["Clean up"]);
    }

    #[test]
    fn unknown_or_ambiguous_names_are_errors() {
        let err = SectionFilter::resolve(&titles(), &["nope".into()], &[], None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("matches no section") && err.contains("`Clean up`"),
            "{err}"
        );
        let err = SectionFilter::resolve(&titles(), &[], &[], Some("c"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("several"), "{err}");
    }

    #[test]
    fn from_skips_earlier_sections() {
        let f = SectionFilter::resolve(&titles(), &[], &["Clean up".into()], Some("Link")).unwrap();
        let mut reached = false;
        let got: Vec<_> = titles()
            .iter()
            .map(|t| f.exclusion(t, &mut reached))
            .collect();
        assert_eq!(got, vec![Some("before --from"), None, None, Some("--skip")]);
    }
}
