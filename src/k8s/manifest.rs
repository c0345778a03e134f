//! Manifests: multi-document YAML into objects, as `kubectl apply -f` reads them.

use serde::Deserialize;
use serde_json::Value;

use super::error::{K8sError, Result};
use crate::base::selector::Selector;

/// One object of a manifest, with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// 1-based index of the YAML document it came from.
    pub index: usize,
    /// The object.
    pub object: Value,
}

impl Document {
    /// `apiVersion`.
    pub fn api_version(&self) -> &str {
        self.object["apiVersion"].as_str().unwrap_or_default()
    }
    /// `kind`.
    pub fn kind(&self) -> &str {
        self.object["kind"].as_str().unwrap_or_default()
    }
    /// `metadata.name`.
    pub fn name(&self) -> &str {
        self.object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
    /// `metadata.namespace`, if set and not empty.
    pub fn namespace(&self) -> Option<&str> {
        self.object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }
    /// Whether the object is a CustomResourceDefinition.
    pub fn is_crd(&self) -> bool {
        self.kind() == "CustomResourceDefinition"
            && self.api_version().starts_with("apiextensions.k8s.io/")
    }
    /// Whether the object is a Namespace.
    pub fn is_namespace(&self) -> bool {
        self.kind() == "Namespace" && self.api_version() == "v1"
    }
}

/// Parses multi-document YAML: empty documents skipped, `List` kinds flattened, every object
/// checked for `apiVersion`, `kind` and `metadata.name`.
pub fn parse(text: &str) -> Result<Vec<Document>> {
    let mut docs = Vec::new();
    for (i, de) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let index = i + 1;
        // Through serde_yaml's own value first: it refuses a key given twice, which a JSON
        // map would silently overwrite.
        let value = serde_yaml::Value::deserialize(de)
            .map_err(|e| K8sError::Manifest {
                index,
                problem: yaml_problem(&e, text),
            })
            .and_then(|v| {
                serde_json::to_value(v).map_err(|e| K8sError::Manifest {
                    index,
                    problem: format!("holds YAML that JSON cannot: {e}"),
                })
            })?;
        flatten(index, value, &mut docs)?;
    }
    Ok(docs)
}

/// A YAML error said so a person can fix it: a tab used for indentation is named as such, a
/// key given twice by its name, with the line (counted in the whole text).
pub fn yaml_problem(e: &serde_yaml::Error, text: &str) -> String {
    let raw = e.to_string();
    let at = e.location().map(|l| (l.line(), l.column()));
    let line_text = at.and_then(|(l, _)| text.lines().nth(l.saturating_sub(1)));
    let tab_line = line_text
        .filter(|t| {
            t.chars()
                .take_while(|c| c.is_whitespace())
                .any(|c| c == '\t')
        })
        .map(|_| at.map(|a| a.0).unwrap_or(0))
        .or_else(|| {
            // The scanner may stop a line after the tab.
            at.and_then(|(l, _)| {
                (l.saturating_sub(2)..l).find_map(|i| {
                    text.lines()
                        .nth(i)
                        .filter(|t| {
                            t.chars()
                                .take_while(|c| c.is_whitespace())
                                .any(|c| c == '\t')
                        })
                        .map(|_| i + 1)
                })
            })
        });
    if let Some(line) = tab_line {
        return format!(
            "is not valid YAML: line {line} is indented with a tab, and YAML indents with spaces only (replace the tab with spaces)"
        );
    }
    if let Some((path, rest)) = raw.split_once("duplicate entry with key ") {
        let key = rest.split(" at line").next().unwrap_or(rest);
        let path = path.trim().trim_end_matches(':');
        let within = if path.is_empty() {
            String::new()
        } else {
            format!(" `{path}`")
        };
        let place = at
            .map(|(l, _)| format!(" that starts at line {l}"))
            .unwrap_or_default();
        return format!(
            "is not valid YAML: the key {key} appears twice in the mapping{within}{place}; keep one"
        );
    }
    format!("is not valid YAML: {raw}")
}

fn flatten(index: usize, value: Value, out: &mut Vec<Document>) -> Result<()> {
    let problem = |p: &str| K8sError::Manifest {
        index,
        problem: p.to_string(),
    };
    match value {
        Value::Null => Ok(()),
        Value::Object(ref map) if map.is_empty() => Ok(()),
        Value::Object(mut map) => {
            let kind = map.get("kind").and_then(Value::as_str).unwrap_or_default();
            let is_list = kind == "List" || (kind.ends_with("List") && map.contains_key("items"));
            if is_list {
                let items = match map.remove("items") {
                    Some(Value::Array(items)) => items,
                    Some(Value::Null) | None => Vec::new(),
                    Some(_) => return Err(problem("is a List whose `items` is not a list")),
                };
                for item in items {
                    flatten(index, item, out)?;
                }
                return Ok(());
            }
            let object = Value::Object(map);
            let doc = Document { index, object };
            if doc.api_version().is_empty() {
                return Err(problem("has no `apiVersion`"));
            }
            if doc.kind().is_empty() {
                return Err(problem("has no `kind`"));
            }
            if doc.name().is_empty() {
                return Err(problem(&format!(
                    "({} without `metadata.name`) cannot be applied: give it a name",
                    doc.kind()
                )));
            }
            out.push(doc);
            Ok(())
        }
        _ => Err(problem("is not a mapping")),
    }
}

/// Keeps the documents whose labels match the selector (as `kubectl apply -l`).
pub fn select(docs: Vec<Document>, selector: &Selector) -> Vec<Document> {
    docs.into_iter()
        .filter(|d| selector.matches(&d.object))
        .collect()
}

/// Where a document goes: the namespace of a namespaced kind (defaulted), `None` for a
/// cluster-scoped kind. A namespace in the document that differs from the requested one is an
/// error, as in kubectl.
pub fn place(
    doc: &Document,
    requested: Option<&str>,
    default_ns: &str,
    namespaced: bool,
) -> Result<Option<String>> {
    check_namespace(doc, requested)?;
    if !namespaced {
        return Ok(None);
    }
    Ok(Some(
        doc.namespace()
            .or(requested)
            .unwrap_or(default_ns)
            .to_string(),
    ))
}

/// Refuses a document whose namespace differs from the requested one.
pub fn check_namespace(doc: &Document, requested: Option<&str>) -> Result<()> {
    match (doc.namespace(), requested) {
        (Some(found), Some(wanted)) if found != wanted => Err(K8sError::NamespaceMismatch {
            kind: doc.kind().to_string(),
            name: doc.name().to_string(),
            found: found.to_string(),
            wanted: wanted.to_string(),
        }),
        _ => Ok(()),
    }
}

/// The object with `metadata.namespace` set (namespaced) or removed (cluster-scoped).
pub fn with_namespace(mut object: Value, namespace: Option<&str>) -> Value {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        match namespace {
            Some(ns) => {
                meta.insert("namespace".into(), Value::String(ns.to_string()));
            }
            None => {
                meta.remove("namespace");
            }
        }
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"
---
# only a comment
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: a, labels: {app: x}}
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: b}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: x}
---
"#;

    #[test]
    fn empty_documents_are_skipped_and_lists_flattened() {
        let docs = parse(TEXT).unwrap();
        let names: Vec<_> = docs.iter().map(|d| (d.index, d.kind(), d.name())).collect();
        assert_eq!(
            names,
            vec![
                (2, "ConfigMap", "a"),
                (2, "ConfigMap", "b"),
                (3, "Deployment", "web")
            ]
        );
    }

    #[test]
    fn selector_keeps_matching_documents() {
        let docs = select(parse(TEXT).unwrap(), &Selector::parse("app=x").unwrap());
        assert_eq!(
            docs.iter().map(|d| d.name()).collect::<Vec<_>>(),
            ["a", "web"]
        );
    }

    #[test]
    fn documents_without_kind_or_name_are_errors_naming_the_document() {
        let e = parse("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("document 1 of the manifest (ConfigMap without"),
            "{e}"
        );
        let e = parse("---\napiVersion: v1\n---\nkind: x: y\n").unwrap_err();
        assert_eq!(e.to_string(), "document 1 of the manifest has no `kind`");
        let e = parse("a: [").unwrap_err();
        assert!(e.to_string().contains("not valid YAML"), "{e}");
    }

    #[test]
    fn namespaces_default_and_conflict_as_in_kubectl() {
        let docs = parse(TEXT).unwrap();
        assert_eq!(
            place(&docs[0], None, "default", true).unwrap().as_deref(),
            Some("default")
        );
        assert_eq!(
            place(&docs[0], Some("x"), "default", true)
                .unwrap()
                .as_deref(),
            Some("x")
        );
        assert_eq!(place(&docs[0], Some("x"), "default", false).unwrap(), None);
        assert_eq!(
            place(&docs[2], Some("shop"), "default", true)
                .unwrap()
                .as_deref(),
            Some("shop")
        );
        let e = place(&docs[2], Some("other"), "default", true).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Deployment `web` is in namespace `shop` but the apply targets namespace `other`: \
             remove `metadata.namespace` from the document or apply it without a namespace"
        );
    }

    #[test]
    fn namespace_is_set_or_removed() {
        let o = serde_json::json!({"metadata": {"name": "a", "namespace": "x"}});
        assert_eq!(
            with_namespace(o.clone(), None)["metadata"],
            serde_json::json!({"name": "a"})
        );
        assert_eq!(with_namespace(o, Some("y"))["metadata"]["namespace"], "y");
    }
}
