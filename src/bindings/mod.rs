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

use std::any::type_name;
use std::sync::Arc;

use rhai::{Dynamic, Engine, FnPtr, FuncRegistration, RhaiNativeFunc, Variant};

use crate::session::Session;

/// The declaration of one script function: what `meshbook docs` and the REPL's `:help` show
/// (family, `name: type` parameters then the return type, doc, a short example), registered
/// with its closure in one call. The declared types are checked against the closure's own:
/// a difference is recorded in the function's metadata (`@mismatch`) and fails a test.
///
/// ```text
/// Def::new("resources", "scale", &["cluster: Cluster", "ns: string", "deploy: string", "replicas: int", "()"])
///     .doc("Scales a Deployment through its scale subresource.")
///     .example(r#"cluster("cluster1").scale("bookinfo", "reviews-v1", 0);"#)
///     .register(engine, move |m: &mut Member, ns: &str, deploy: &str, replicas: i64| { ... });
/// ```
#[must_use]
pub struct Def<'a> {
    family: &'a str,
    name: &'a str,
    /// `name: type` of each parameter, then the return type.
    params: Vec<&'a str>,
    doc: &'a str,
    example: &'a str,
}

/// A [`Def`] whose last parameter may be omitted: registers two overloads from one closure
/// (see [`optional_last!`]), each with its own doc and example.
#[must_use]
pub struct WithOptional<'a> {
    without: Def<'a>,
    with: Def<'a>,
}

impl<'a> Def<'a> {
    pub fn new(family: &'a str, name: &'a str, params: &[&'a str]) -> Self {
        Def {
            family,
            name,
            params: params.to_vec(),
            doc: "",
            example: "",
        }
    }

    /// One or more lines of documentation.
    pub fn doc(mut self, doc: &'a str) -> Self {
        self.doc = doc;
        self
    }

    /// A short, realistic Rhai example (one or two lines) that `meshbook check` accepts.
    pub fn example(mut self, example: &'a str) -> Self {
        self.example = example;
        self
    }

    /// The same function with one more, trailing, parameter (`"opts: map"`), documented on
    /// its own: the closure given to [`WithOptional::register`] takes it as an `Option`.
    pub fn optional(self, param: &'a str, doc: &'a str, example: &'a str) -> WithOptional<'a> {
        let mut params = self.params.clone();
        params.insert(params.len().saturating_sub(1), param);
        let with = Def {
            family: self.family,
            name: self.name,
            params,
            doc,
            example,
        };
        WithOptional {
            without: self,
            with,
        }
    }

    /// Registers the function with its metadata.
    pub fn register<A: 'static, const N: usize, const X: bool, R, const F: bool, FUNC>(
        self,
        engine: &mut Engine,
        func: FUNC,
    ) where
        R: Variant + Clone,
        FUNC: RhaiNativeFunc<A, N, X, R, F> + Send + Sync + 'static,
    {
        let actual: Vec<String> = FUNC::param_names()
            .iter()
            .map(|t| script_type(engine, t))
            .collect();
        let returns = script_type(engine, type_name::<R>());
        let mut comments: Vec<String> = self.doc.lines().map(|l| format!("/// {l}")).collect();
        comments.push(format!("/// @family {}", self.family));
        comments.extend(self.example.lines().map(|l| format!("/// @example {l}")));
        if let Some(m) = mismatch(&self.params, &actual, &returns) {
            comments.push(format!("/// @mismatch {m}"));
        }
        FuncRegistration::new(self.name)
            .with_params_info(&self.params)
            .with_comments(comments)
            .with_volatility(true)
            .with_purity(false)
            .register_into_engine(engine, func);
    }
}

impl WithOptional<'_> {
    /// Registers both overloads: `funcs` is what [`optional_last!`] makes of one closure.
    pub fn register<
        A1: 'static,
        const N1: usize,
        const X1: bool,
        R1,
        const F1: bool,
        FUNC1,
        A2: 'static,
        const N2: usize,
        const X2: bool,
        R2,
        const F2: bool,
        FUNC2,
    >(
        self,
        engine: &mut Engine,
        funcs: (FUNC1, FUNC2),
    ) where
        R1: Variant + Clone,
        FUNC1: RhaiNativeFunc<A1, N1, X1, R1, F1> + Send + Sync + 'static,
        R2: Variant + Clone,
        FUNC2: RhaiNativeFunc<A2, N2, X2, R2, F2> + Send + Sync + 'static,
    {
        self.without.register(engine, funcs.0);
        self.with.register(engine, funcs.1);
    }
}

/// One closure whose last parameter is an `Option`, as the two overloads a script calls:
/// without that argument (`None`) and with it (`Some`). The closure is written with a `;`
/// before the optional parameter and its type without `Option`:
///
/// ```text
/// optional_last!(move |m: &mut Member, yaml: &str; opts: Map| -> RhaiResult<Array> {
///     apply_text(&s, m, yaml, opts.as_ref(), "apply")
/// })
/// ```
macro_rules! optional_last {
    (move |$($p:ident: $t:ty),+ ; $o:ident: $ot:ty| -> $r:ty { $($body:tt)* }) => {{
        let with = ::std::sync::Arc::new(move |$($p: $t,)+ $o: Option<$ot>| -> $r { $($body)* });
        let without = with.clone();
        (
            move |$($p: $t),+| -> $r { without($($p,)+ None) },
            move |$($p: $t,)+ $o: $ot| -> $r { with($($p,)+ Some($o)) },
        )
    }};
}
pub(crate) use optional_last;

/// The script name of a Rust parameter or return type, as declarations write it.
fn script_type(engine: &Engine, rust: &str) -> String {
    let t = rust.trim_start_matches("&mut ").trim_start_matches('&');
    match t {
        "str" => "string".into(),
        "i64" => "int".into(),
        "f64" => "float".into(),
        _ if t == type_name::<Dynamic>() => "?".into(),
        _ if t == type_name::<FnPtr>() => "closure".into(),
        _ => engine.map_type_name(t).to_string(),
    }
}

/// How a declaration differs from the closure's real types, if it does. A `Dynamic` may be
/// declared `?` or with the types it takes (`string|int`).
fn mismatch(declared: &[&str], actual: &[String], returns: &str) -> Option<String> {
    let Some((ret, params)) = declared.split_last() else {
        return Some("no return type declared".into());
    };
    let types: Vec<&str> = params
        .iter()
        .map(|p| p.rsplit_once(':').map_or(*p, |(_, t)| t).trim())
        .collect();
    let agrees = |declared: &str, real: &str| {
        declared == real || (real == "?" && (declared.contains('|') || declared == "?"))
    };
    let same = types.len() == actual.len()
        && types.iter().zip(actual).all(|(d, a)| agrees(d, a))
        && agrees(ret.trim(), returns);
    (!same).then(|| {
        format!(
            "declared ({}) -> {ret}, the closure takes ({}) -> {returns}",
            types.join(", "),
            actual.join(", ")
        )
    })
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
