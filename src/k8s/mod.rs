//! Kubernetes operations over kube-rs (Rhai-free core).
//!
//! | file | holds |
//! |---|---|
//! | `clusters.rs` | `Cluster`, `ClusterSet` |
//! | `contexts.rs` | logical names -> kubeconfig contexts, `connect` |
//! | `discovery.rs` | resource types served, kubectl's kind spellings |
//! | `manifest.rs` | multi-document YAML, Lists, namespace rules |
//! | `crate::base::selector` | label selectors (shared with `sim`) |
//! | `apply.rs` | server-side apply with outcomes |
//! | `resources.rs` | get, list, delete, label, annotate, scale, set env, namespaces |
//! | `secrets.rs` | secrets in and out |
//! | `rollout.rs` | kubectl's rollout-status rules (pure) |
//! | `waits.rs` | watch-based waits with "last seen" on timeout |
//! | `events.rs` | recent Events of an object |
//! | `pod_failures.rs` | why a workload's pods are not ready (rollout timeouts) |
//! | `pods.rs` | exec, logs, target resolution |
//! | `portforward.rs` | local port-forwards |
//! | `bundle.rs` | failure bundle |
//! | `retry.rs` | transient failure retries |
//! | `error.rs` | `K8sError` |

mod apply;
mod bundle;
mod clusters;
mod contexts;
pub mod diff;
pub mod discovery;
mod error;
mod events;
pub mod manifest;
mod pod_failures;
mod pods;
mod portforward;
mod resources;
pub mod retry;
pub mod rollout;
mod secrets;
mod waits;

pub use apply::{Applied, ApplyOptions, ApplyOutcome, Deleted};
pub use bundle::{gather_bundle, Bundle, ClusterBundle, NamespaceBundle, NotReady, PodLog};
pub use clusters::{object_ref, Cluster, ClusterSet};
pub use contexts::{connect, connect_all, describe, load_kubeconfig, resolve_contexts, Wanted};
pub use error::{humanize, K8sError, Result};
pub use events::EventSummary;
pub use pods::{ExecOutput, LogOptions};
pub use portforward::PortForward;
pub use waits::{lb_ingress, wait_timeout, DEFAULT_TIMEOUT, SIMULATED_WAIT_CAP};
