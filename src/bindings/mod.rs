//! Thin adapters between Rhai and the core: convert arguments, call core, convert the result,
//! emit events. One file per family of functions.

pub mod cluster;
pub mod convert;
pub mod created;
pub mod data;
pub mod flow;
pub mod http;
pub mod pods;
pub mod resources;
mod secret_output;
pub mod structure;
pub mod tools;
pub mod traffic;
pub mod waits;

use std::sync::Arc;

use rhai::{Engine, FuncRegistration, RhaiNativeFunc, Variant};

use crate::session::Session;

/// Registers a function with the metadata `meshbook docs` and the REPL's `:help` show.
/// `params` are `name: type` strings followed by the return type; `doc` is one or more lines.
pub fn define<A: 'static, const N: usize, const X: bool, R, const F: bool, FUNC>(
    engine: &mut Engine,
    family: &str,
    name: &str,
    params: &[&str],
    doc: &str,
    func: FUNC,
) where
    R: Variant + Clone,
    FUNC: RhaiNativeFunc<A, N, X, R, F> + Send + Sync + 'static,
{
    let mut comments: Vec<String> = doc.lines().map(|l| format!("/// {l}")).collect();
    comments.push(format!("/// @family {family}"));
    FuncRegistration::new(name)
        .with_params_info(params)
        .with_comments(comments)
        .with_volatility(true)
        .with_purity(false)
        .register_into_engine(engine, func);
}

/// Registers every family of script functions.
pub fn register_all(engine: &mut Engine, session: &Arc<Session>) {
    convert::register_error_type(engine);
    structure::register(engine, session);
    data::register(engine, session);
    flow::register(engine, session);
    cluster::register(engine, session);
    created::register(engine, session);
    resources::register(engine, session);
    waits::register(engine, session);
    pods::register(engine, session);
    http::register(engine, session);
    tools::register(engine, session);
}

/// The name of a cluster handle, when the value is one (for messages).
pub fn cluster_name_of(value: &rhai::Dynamic) -> Option<String> {
    value
        .read_lock::<crate::fleet::Member>()
        .map(|m| m.name().to_string())
}
