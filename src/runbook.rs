//! Runbooks: loading (a bundled name or a path), the `//!` YAML header, and relative files.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::assets::Tree;

/// A file a runbook names that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("no file `{path}` in the stdlib ({shown})")]
    NotInStdlib { path: String, shown: String },
    #[error("no file `{path}` among the bundled runbooks' assets")]
    NotBundled { path: String },
    #[error("cannot read `{path}`: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl crate::base::error::Help for ReadError {}

crate::base::error::paragraph_into_string!(ReadError);

/// Where a runbook came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Embedded in the binary (`runbooks/<name>.rhai`).
    Bundled,
    /// A file on disk.
    File(PathBuf),
    /// Typed or piped in (the REPL, tests).
    Inline,
}

/// A logical cluster the runbook needs, and the environment variable its context may come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterDecl {
    pub name: String,
    pub env: Option<String>,
}

/// An environment variable the runbook reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvDecl {
    pub name: String,
    pub secret: bool,
    pub required: bool,
    pub description: Option<String>,
}

pub use crate::syntax::ParamKind;

impl ParamKind {
    /// Why `value` is not of this kind, or `None` when it is.
    pub fn refuse(self, value: &str) -> Option<&'static str> {
        match self {
            ParamKind::Text => None,
            ParamKind::Int => value
                .trim()
                .parse::<i64>()
                .is_err()
                .then_some("a whole number"),
            ParamKind::Bool => {
                (!matches!(value.trim(), "true" | "false")).then_some("true or false")
            }
        }
    }
}

/// The runbook's declarations, from its leading `//!` lines (YAML).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Header {
    pub title: String,
    pub summary: Option<String>,
    pub walkthrough: Option<String>,
    pub clusters: Vec<ClusterDecl>,
    /// The header declares no clusters: `clusters` are the names the script passes literally
    /// to `cluster("...")`.
    pub clusters_from_script: bool,
    pub env: Vec<EnvDecl>,
    /// Parameters and their defaults, in declaration order.
    pub params: Vec<(String, String)>,
    /// Clusters declared `created: true`: the runbook creates them while it runs
    /// (`vcluster_connect`, `add_cluster`), so they are not mapped at start.
    pub created_clusters: Vec<String>,
    /// Parameters whose default is a number or a boolean.
    pub param_kinds: Vec<(String, ParamKind)>,
}

/// What the script says about itself, read from its syntax tree without running it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScriptUses {
    /// Clusters named literally (`cluster("cluster1")`), in source order.
    pub clusters: Vec<String>,
    /// Parameters read with a literal default (`param("TOTAL", 3)`), in source order.
    pub params: Vec<(String, ParamKind)>,
}

impl ScriptUses {
    /// Reads the script's syntax tree; a script that does not compile uses nothing (the static
    /// checks report its error).
    pub fn of(source: &str) -> ScriptUses {
        match crate::syntax::parse_only(source) {
            Some(ast) => ScriptUses {
                clusters: crate::syntax::cluster_calls(&ast)
                    .into_iter()
                    .map(|c| c.0)
                    .collect(),
                params: crate::syntax::param_reads(&ast),
            },
            None => ScriptUses::default(),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    title: Option<String>,
    summary: Option<String>,
    walkthrough: Option<String>,
    #[serde(default)]
    clusters: serde_yaml::Mapping,
    #[serde(default)]
    env: serde_yaml::Mapping,
    #[serde(default)]
    params: serde_yaml::Mapping,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawEnv {
    #[serde(default)]
    secret: bool,
    #[serde(default = "yes")]
    required: bool,
    description: Option<String>,
}

fn yes() -> bool {
    true
}

/// A runbook that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("no runbook named `{name}`: `meshbook list` shows the bundled ones, or give a path to a .rhai file")]
    Unknown { name: String },
    #[error("cannot read `{path}`: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: the runbook header is not valid: {message}")]
    Header {
        path: String,
        line: usize,
        message: String,
    },
}

/// A loaded runbook: its text, where it came from, and its header.
#[derive(Clone, Debug)]
pub struct Runbook {
    /// The name `list` prints: the bundled name or the file stem.
    pub name: String,
    /// How messages refer to the file: `runbooks/global-mesh.rhai` or the path given.
    pub display_path: String,
    pub origin: Origin,
    pub source: String,
    pub header: Header,
    /// Clusters and parameters the script names literally.
    pub uses: ScriptUses,
}

impl Runbook {
    /// Loads a bundled runbook by name, or a file by path.
    pub fn load(arg: &str) -> Result<Runbook, LoadError> {
        let looks_like_path = arg.ends_with(".rhai") || arg.contains('/') || arg.contains('\\');
        let path = Path::new(arg);
        if looks_like_path || path.is_file() {
            if !path.exists() {
                if let Some(rb) = Self::bundled_named(arg.trim_end_matches(".rhai")) {
                    return Ok(rb);
                }
            }
            let source = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
                path: arg.to_string(),
                source,
            })?;
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| arg.to_string());
            return Self::from_source(
                name,
                arg.to_string(),
                Origin::File(path.to_path_buf()),
                source,
            );
        }
        Self::bundled_named(arg).map_or_else(
            || {
                Err(LoadError::Unknown {
                    name: arg.to_string(),
                })
            },
            Ok,
        )
    }

    fn bundled_named(name: &str) -> Option<Runbook> {
        let rel = format!("{name}.rhai");
        let source = Tree::Runbooks.read(&rel)?;
        Self::from_source(
            name.to_string(),
            Tree::Runbooks.display(&rel),
            Origin::Bundled,
            source.into_owned(),
        )
        .ok()
    }

    /// Builds a runbook from text (used by `load`, the REPL and tests).
    pub fn from_source(
        name: String,
        display_path: String,
        origin: Origin,
        source: String,
    ) -> Result<Runbook, LoadError> {
        let mut header =
            parse_header(&source, &name).map_err(|(line, message)| LoadError::Header {
                path: display_path.clone(),
                line,
                message,
            })?;
        let uses = ScriptUses::of(&source);
        if header.clusters.is_empty() && header.created_clusters.is_empty() {
            header.clusters = uses
                .clusters
                .iter()
                .map(|name| ClusterDecl {
                    name: name.clone(),
                    env: None,
                })
                .collect();
            header.clusters_from_script = !header.clusters.is_empty();
        }
        Ok(Runbook {
            name,
            display_path,
            origin,
            source,
            header,
            uses,
        })
    }

    /// Every bundled runbook, sorted by name. Ones with a broken header are still listed by
    /// `check --all`, which reports the error.
    pub fn bundled_names() -> Vec<String> {
        Tree::Runbooks
            .list("")
            .into_iter()
            .filter(|p| !p.contains('/') && p.ends_with(".rhai"))
            .map(|p| p.trim_end_matches(".rhai").to_string())
            .collect()
    }

    /// Reads a file named by the runbook: `stdlib/...` from the stdlib tree, otherwise relative
    /// to the runbook's own directory (the embedded `runbooks/` tree for bundled runbooks).
    pub fn read_relative(&self, path: &str) -> Result<String, ReadError> {
        if let Some(rel) = path.strip_prefix("stdlib/") {
            return Tree::Stdlib
                .read(rel)
                .map(|c| c.into_owned())
                .ok_or_else(|| ReadError::NotInStdlib {
                    path: path.to_string(),
                    shown: Tree::Stdlib.display(rel),
                });
        }
        let p = Path::new(path);
        let resolved = match &self.origin {
            Origin::Bundled if !p.is_absolute() => {
                return Tree::Runbooks
                    .read(path)
                    .map(|c| c.into_owned())
                    .ok_or_else(|| ReadError::NotBundled {
                        path: path.to_string(),
                    });
            }
            Origin::File(file) if !p.is_absolute() => file
                .parent()
                .map(|d| d.join(p))
                .unwrap_or_else(|| p.to_path_buf()),
            _ => p.to_path_buf(),
        };
        std::fs::read_to_string(&resolved).map_err(|source| ReadError::Io {
            path: resolved.display().to_string(),
            source,
        })
    }

    /// Resolves a runbook-relative path to a real file path (for tools that need a file).
    pub fn local_path(&self, path: &str) -> Option<PathBuf> {
        let p = Path::new(path);
        match &self.origin {
            _ if p.is_absolute() => Some(p.to_path_buf()),
            Origin::File(file) => Some(
                file.parent()
                    .map(|d| d.join(p))
                    .unwrap_or_else(|| p.to_path_buf()),
            ),
            Origin::Inline => Some(p.to_path_buf()),
            Origin::Bundled => None,
        }
    }
}

/// The header is the leading block of `//!` lines. Returns `(file line, message)` on error.
pub fn parse_header(source: &str, fallback_title: &str) -> Result<Header, (usize, String)> {
    let mut yaml = String::new();
    let mut first_line = None;
    for (i, line) in source.lines().enumerate() {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix("//!") {
            first_line.get_or_insert(i + 1);
            yaml.push_str(rest.strip_prefix(' ').unwrap_or(rest));
            yaml.push('\n');
        } else if t.is_empty()
            || t.starts_with("#!")
            || (first_line.is_none() && t.starts_with("//"))
        {
            if first_line.is_some() && t.is_empty() {
                break;
            }
        } else {
            break;
        }
    }
    let base = first_line.unwrap_or(1);
    let raw: RawHeader = if yaml.trim().is_empty() {
        RawHeader::default()
    } else {
        serde_yaml::from_str(&yaml).map_err(|e| {
            let line = e.location().map(|l| base + l.line() - 1).unwrap_or(base);
            (line, e.to_string())
        })?
    };
    let scalar = |v: &serde_yaml::Value| -> Option<String> {
        match v {
            serde_yaml::Value::String(s) => Some(s.clone()),
            serde_yaml::Value::Number(n) => Some(n.to_string()),
            serde_yaml::Value::Bool(b) => Some(b.to_string()),
            serde_yaml::Value::Null => None,
            _ => None,
        }
    };
    let mut header = Header {
        title: raw.title.unwrap_or_else(|| fallback_title.to_string()),
        summary: raw.summary,
        walkthrough: raw.walkthrough,
        ..Header::default()
    };
    for (k, v) in &raw.clusters {
        let name = scalar(k).ok_or((base, "cluster names must be strings".to_string()))?;
        if let serde_yaml::Value::Mapping(m) = v {
            let created = m.get("created").and_then(serde_yaml::Value::as_bool);
            if created != Some(true) || m.len() != 1 {
                return Err((
                    base,
                    format!("cluster `{name}`: the only option is `created: true` (a cluster the runbook creates); otherwise give the environment variable of its context"),
                ));
            }
            header.created_clusters.push(name);
            continue;
        }
        header.clusters.push(ClusterDecl {
            name,
            env: scalar(v),
        });
    }
    for (k, v) in &raw.env {
        let name = scalar(k).ok_or((
            base,
            "environment variable names must be strings".to_string(),
        ))?;
        let decl: RawEnv = if v.is_null() {
            RawEnv {
                required: true,
                ..RawEnv::default()
            }
        } else {
            serde_yaml::from_value(v.clone()).map_err(|e| (base, format!("env `{name}`: {e}")))?
        };
        header.env.push(EnvDecl {
            name,
            secret: decl.secret,
            required: decl.required,
            description: decl.description,
        });
    }
    for (k, v) in &raw.params {
        let name = scalar(k).ok_or((base, "parameter names must be strings".to_string()))?;
        let value =
            scalar(v).ok_or((base, format!("parameter `{name}` needs a scalar default")))?;
        match v {
            serde_yaml::Value::Number(n) if n.is_i64() || n.is_u64() => {
                header.param_kinds.push((name.clone(), ParamKind::Int))
            }
            serde_yaml::Value::Bool(_) => header.param_kinds.push((name.clone(), ParamKind::Bool)),
            _ => {}
        }
        header.params.push((name, value));
    }
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = r#"//! title: Global mesh
//! summary: Link clusters
//! clusters:
//!   cluster1: CLUSTER1
//!   cluster2: CLUSTER2
//! env:
//!   GLOO_MESH_LICENSE_KEY: { secret: true, description: license }
//!   OPTIONAL: { required: false }
//!   PLAIN:
//! params:
//!   ISTIO_VERSION: 1.26.2
//!   REPLICAS: 2

let x = 1;
"#;

    #[test]
    fn parses_every_header_field() {
        let h = parse_header(SRC, "x").unwrap();
        assert_eq!(h.title, "Global mesh");
        assert_eq!(
            h.clusters,
            vec![
                ClusterDecl {
                    name: "cluster1".into(),
                    env: Some("CLUSTER1".into())
                },
                ClusterDecl {
                    name: "cluster2".into(),
                    env: Some("CLUSTER2".into())
                },
            ]
        );
        assert_eq!(h.env.len(), 3);
        assert!(h.env[0].secret && h.env[0].required);
        assert!(!h.env[1].required);
        assert!(h.env[2].required && !h.env[2].secret);
        assert_eq!(
            h.params,
            vec![
                ("ISTIO_VERSION".into(), "1.26.2".into()),
                ("REPLICAS".into(), "2".into())
            ]
        );
    }

    #[test]
    fn no_header_means_defaults() {
        let h = parse_header("let a = 1;\n", "demo").unwrap();
        assert_eq!(h.title, "demo");
        assert!(h.clusters.is_empty());
    }

    #[test]
    fn without_declared_clusters_the_script_names_them() {
        let src = "//! title: quick\nlet a = cluster(\"east\");\nsection(\"s\", || { cluster(\"west\"); });\n";
        let rb =
            Runbook::from_source("q".into(), "q.rhai".into(), Origin::Inline, src.into()).unwrap();
        let names: Vec<_> = rb.header.clusters.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, vec!["east", "west"]);
        assert!(rb.header.clusters_from_script);
        let declared =
            Runbook::from_source("q".into(), "q.rhai".into(), Origin::Inline, SRC.into()).unwrap();
        assert!(!declared.header.clusters_from_script);
    }

    #[test]
    fn numeric_parameters_refuse_text() {
        let h = parse_header(SRC, "x").unwrap();
        assert_eq!(
            h.param_kinds,
            vec![("REPLICAS".to_string(), ParamKind::Int)]
        );
        assert_eq!(ParamKind::Int.refuse("abc"), Some("a whole number"));
        assert_eq!(ParamKind::Int.refuse("12"), None);
        assert_eq!(ParamKind::Bool.refuse("yes"), Some("true or false"));
        assert_eq!(ParamKind::Text.refuse("anything"), None);
    }

    #[test]
    fn header_errors_point_at_the_file_line() {
        let (line, msg) = parse_header("//! title: a\n//! clusters: [\n", "x").unwrap_err();
        assert!(line >= 2, "{line} {msg}");
        let (_, msg) = parse_header("//! titel: a\n", "x").unwrap_err();
        assert!(msg.contains("titel"), "{msg}");
    }

    #[test]
    fn unknown_runbook_is_a_clear_error() {
        let err = Runbook::load("no-such-runbook").unwrap_err();
        assert!(err.to_string().contains("meshbook list"), "{err}");
    }
}
