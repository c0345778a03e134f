//! The I/O-free core shared by `k8s` (the client) and `sim` (the simulated API server), as
//! kube-core is for kube-rs: one implementation of each concept both sides need.
//!
//! | file | holds |
//! |---|---|
//! | `selector.rs` | label selectors: kubectl's text form, `LabelSelector` objects, Service maps |
//! | `template.rs` | the one Handlebars setup (strict, no escaping, the helpers) |
//! | `path.rs` | dotted paths into JSON (`status.loadBalancer.ingress.0.ip`) |
//! | `lb.rs` | the simulated LoadBalancer address pool |
//! | `error.rs` | `Help`: the "what to do" every core error can carry |
//!
//! Nothing here talks to a cluster, a process or the network; it imports no other module of
//! the crate but `assets` (the bundled stdlib, read from memory).

pub mod error;
pub mod lb;
pub mod path;
pub mod selector;
pub mod template;
