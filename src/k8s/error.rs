//! `K8sError`: everything that can go wrong talking to a cluster, with what to do next.

use std::time::Duration;

/// Errors of the Kubernetes core. Messages are lowercase, name the cluster and the object, and
/// say what to do where that helps.
#[derive(Debug, thiserror::Error)]
pub enum K8sError {
    /// A kubeconfig file could not be read or merged.
    #[error("cannot read the kubeconfig ({source}): check `KUBECONFIG` or `~/.kube/config`")]
    Kubeconfig {
        /// The underlying parse or I/O error.
        #[source]
        source: Box<kube::config::KubeconfigError>,
    },

    /// A logical cluster is mapped to a context that the kubeconfig does not define.
    #[error("context `{context}` (for `{cluster}`) is not in the kubeconfig; available contexts: {available}")]
    UnknownContext {
        /// Logical cluster name.
        cluster: String,
        /// The missing context.
        context: String,
        /// Comma-separated available contexts.
        available: String,
    },

    /// A cluster did not answer `/version`.
    #[error("cluster `{cluster}` (context `{context}`, {server}) is unreachable: {cause}; check that the cluster is up and the context is right")]
    Unreachable {
        /// Logical cluster name.
        cluster: String,
        /// Context used.
        context: String,
        /// Server URL.
        server: String,
        /// Human-readable cause (the source chain flattened).
        cause: String,
    },

    /// The client configuration for a context could not be built.
    #[error("cannot build a client for context `{context}`: {cause}")]
    ClientConfig {
        /// Context used.
        context: String,
        /// Human-readable cause.
        cause: String,
    },

    /// A manifest document is not valid YAML or lacks apiVersion/kind/name.
    #[error("document {index} of the manifest {problem}")]
    Manifest {
        /// 1-based document index.
        index: usize,
        /// What is wrong, e.g. `has no kind`.
        problem: String,
    },

    /// A label selector could not be parsed.
    #[error("invalid label selector `{}`: {}", .0.selector, .0.problem)]
    Selector(#[from] crate::base::selector::SelectorError),

    /// A document names a namespace other than the one requested, as kubectl refuses.
    #[error("{kind} `{name}` is in namespace `{found}` but the apply targets namespace `{wanted}`: remove `metadata.namespace` from the document or apply it without a namespace")]
    NamespaceMismatch {
        /// Kind of the document.
        kind: String,
        /// Name of the document.
        name: String,
        /// Namespace in the document.
        found: String,
        /// Namespace of the apply options.
        wanted: String,
    },

    /// Nothing in discovery matches a kind, but served kinds have names close to it.
    #[error("no resource type `{kind}` is served by {cluster}: did you mean {}?", crate::suggest::or_list(&near.iter().map(String::as_str).collect::<Vec<_>>()))]
    MisspeltKind {
        /// Logical cluster name.
        cluster: String,
        /// Kind as written by the user.
        kind: String,
        /// Served kinds close to it, closest first.
        near: Vec<String>,
    },

    /// Nothing in discovery matches a kind.
    #[error("no resource type {kind}{version} is served by {cluster}: is its CRD installed?")]
    UnknownKind {
        /// Logical cluster name.
        cluster: String,
        /// Kind as written by the user.
        kind: String,
        /// ` (group/version)` or empty.
        version: String,
    },

    /// The API server refused a request for good (4xx) or kept failing.
    #[error("{action} {object} on `{cluster}` failed: {message}")]
    Api {
        /// Logical cluster name.
        cluster: String,
        /// What was being done (`apply`, `get`, `delete`, ...).
        action: String,
        /// `Kind ns/name` or `Kind name`.
        object: String,
        /// The API server's own message.
        message: String,
        /// The kube-rs error.
        #[source]
        source: Box<kube::Error>,
    },

    /// An object that must exist does not.
    #[error("{object} not found on `{cluster}`")]
    NotFound {
        /// Logical cluster name.
        cluster: String,
        /// `Kind ns/name`.
        object: String,
    },

    /// A wait ran out of time; `last_seen` is what it saw last.
    #[error("timed out after {} waiting for {what} on `{cluster}`\n{last_seen}", humanize(*.waited))]
    Timeout {
        /// Logical cluster name.
        cluster: String,
        /// What was awaited, e.g. `rollout of Deployment bookinfo/productpage-v1`.
        what: String,
        /// How long the wait lasted.
        waited: Duration,
        /// Conditions, replica counts and recent events, already rendered.
        last_seen: String,
    },

    /// A rollout failed for good (progress deadline exceeded).
    #[error("rollout of Deployment {namespace}/{name} on `{cluster}` failed: {reason}")]
    RolloutFailed {
        /// Logical cluster name.
        cluster: String,
        /// Namespace.
        namespace: String,
        /// Deployment name.
        name: String,
        /// kubectl's message.
        reason: String,
    },

    /// No ready pod matches an exec/logs/port-forward target.
    #[error("no ready pod for `{target}` in namespace `{namespace}` on `{cluster}`: check `list(\"pods\", \"{namespace}\")`")]
    NoPod {
        /// Logical cluster name.
        cluster: String,
        /// Namespace.
        namespace: String,
        /// Target as given.
        target: String,
    },

    /// A streaming call (exec, logs, port-forward) broke.
    #[error("{action} in pod {namespace}/{pod} on `{cluster}` failed: {cause}")]
    Stream {
        /// Logical cluster name.
        cluster: String,
        /// `exec`, `logs`, `port-forward`.
        action: String,
        /// Namespace.
        namespace: String,
        /// Pod name.
        pod: String,
        /// What happened.
        cause: String,
    },

    /// A local file could not be read.
    #[error("cannot read `{path}`: {source}")]
    File {
        /// The path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A secret exists but lacks the key asked for.
    #[error("secret {secret} on `{cluster}` has no key `{key}`; keys: {available}")]
    MissingKey {
        /// Logical cluster name.
        cluster: String,
        /// `namespace/name` of the secret.
        secret: String,
        /// Key asked for.
        key: String,
        /// Comma-separated keys present.
        available: String,
    },

    /// An argument is unusable (bad target syntax, negative replicas...).
    #[error("{0}")]
    Invalid(String),
}

impl crate::base::error::Help for K8sError {
    fn message(&self) -> String {
        match self {
            K8sError::MisspeltKind { cluster, kind, .. } => {
                format!("no resource type `{kind}` is served by {cluster}")
            }
            other => other.to_string(),
        }
    }

    fn help(&self) -> Option<String> {
        match self {
            K8sError::MisspeltKind { near, .. } => Some(format!(
                "did you mean {}? (`kubectl api-resources` lists every kind a cluster serves; a kind from a CRD is served once the CRD is applied)",
                crate::suggest::or_list(&near.iter().map(String::as_str).collect::<Vec<_>>())
            )),
            K8sError::UnknownKind { .. } => Some(
                "apply the CRD (or install the chart that brings it) in an earlier step".into(),
            ),
            _ => None,
        }
    }
}

/// Result alias of the Kubernetes core.
pub type Result<T, E = K8sError> = std::result::Result<T, E>;

/// `5m`, `30s`, `1.5s`, `250ms`.
pub fn humanize(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms % 60_000 == 0 {
        format!("{}m", ms / 60_000)
    } else if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// The API server's own message of a kube error, else the error chain flattened.
pub fn api_message(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        // Skip kube's own `ServiceError:` / `HyperError:` prefixes: the cause says it all.
        kube::Error::Service(e) => chain(e.as_ref()),
        kube::Error::HyperError(e) => chain(e),
        other => chain(other),
    }
}

/// An error and its causes joined by `: `, without repeating identical parts.
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = vec![err.to_string()];
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = e.source();
    }
    parts.join(": ")
}

/// Whether a kube error is a 404.
pub fn is_not_found(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(s) if s.code == 404)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(humanize(Duration::from_secs(300)), "5m");
        assert_eq!(humanize(Duration::from_secs(30)), "30s");
        assert_eq!(humanize(Duration::from_millis(1500)), "1.5s");
        assert_eq!(humanize(Duration::from_millis(250)), "250ms");
    }

    #[test]
    fn kinds_and_selectors_carry_their_help_apart() {
        use crate::base::error::Help;
        let e = K8sError::MisspeltKind {
            cluster: "cluster1".into(),
            kind: "Deploymnt".into(),
            near: vec!["Deployment".into()],
        };
        assert_eq!(
            e.message(),
            "no resource type `Deploymnt` is served by cluster1"
        );
        assert!(
            e.help().unwrap().starts_with("did you mean `Deployment`?"),
            "{:?}",
            e.help()
        );
        let e = K8sError::UnknownKind {
            cluster: "c".into(),
            kind: "Widget".into(),
            version: String::new(),
        };
        assert_eq!(
            e.paragraph(),
            "no resource type Widget is served by c: is its CRD installed?\nhelp: apply the CRD (or install the chart that brings it) in an earlier step"
        );
        let e: K8sError = crate::base::selector::Selector::parse("a b c")
            .unwrap_err()
            .into();
        assert_eq!(
            e.to_string(),
            "invalid label selector `a b c`: unknown operator in `a b c`"
        );
        assert!(e.help().is_none());
    }

    #[test]
    fn unknown_kind_reads_as_the_issue_says() {
        let e = K8sError::UnknownKind {
            cluster: "cluster1".into(),
            kind: "Widget".into(),
            version: " (demo.example.com/v1)".into(),
        };
        assert_eq!(
            e.to_string(),
            "no resource type Widget (demo.example.com/v1) is served by cluster1: is its CRD installed?"
        );
    }
}
