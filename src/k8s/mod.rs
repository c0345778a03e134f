//! Kubernetes operations over kube-rs (Rhai-free core).
