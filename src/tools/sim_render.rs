//! Rendering a simulated rule's templates: text, conditions, clusters, objects, manifests.

use handlebars::Handlebars;
use serde_json::Value;

use super::error::{SimYamlError, ToolError};
use super::invocation::ToolCluster;
use super::sim_rules::{CheckDef, SimRule};
use super::simulated::ObjectKey;

/// A cluster by logical name or by context.
pub(super) fn resolve(
    name_or_context: &str,
    clusters: &[ToolCluster],
    tool: &str,
) -> Result<ToolCluster, ToolError> {
    clusters
        .iter()
        .find(|c| c.name == name_or_context)
        .or_else(|| clusters.iter().find(|c| c.context == name_or_context))
        .cloned()
        .ok_or_else(|| ToolError::UnknownContext {
            tool: tool.to_string(),
            context: name_or_context.to_string(),
            known: clusters
                .iter()
                .map(|c| format!("`{}`", c.context))
                .collect::<Vec<_>>()
                .join(", "),
        })
}

pub(super) struct Renderer<'a> {
    pub hb: &'a Handlebars<'a>,
    pub rule: &'a SimRule,
    pub clusters: &'a [ToolCluster],
    pub default_cluster: Option<String>,
}

impl Renderer<'_> {
    pub(super) fn text(&self, template: &str, ctx: &Value) -> Result<String, ToolError> {
        self.hb
            .render_template(template, ctx)
            .map_err(|e| ToolError::SimRule {
                rule: self.rule.name.clone(),
                file: self.rule.file.clone(),
                message: crate::base::template::TemplateError::from(e).to_string(),
            })
    }

    pub(super) fn opt(
        &self,
        template: Option<&str>,
        ctx: &Value,
    ) -> Result<Option<String>, ToolError> {
        match template {
            None => Ok(None),
            Some(t) => {
                let s = self.text(t, ctx)?;
                Ok((!s.trim().is_empty()).then_some(s))
            }
        }
    }

    pub(super) fn when(&self, template: Option<&str>, ctx: &Value) -> Result<bool, ToolError> {
        let Some(t) = template else { return Ok(true) };
        let s = self.text(t, ctx)?;
        Ok(!matches!(s.trim(), "" | "false" | "0" | "null"))
    }

    /// An object named by a rule, or `None` when its `when` is false.
    pub(super) fn object(
        &self,
        def: &CheckDef,
        ctx: &Value,
    ) -> Result<Option<ObjectKey>, ToolError> {
        if !self.when(def.when.as_deref(), ctx)? {
            return Ok(None);
        }
        Ok(Some(ObjectKey {
            cluster: self.cluster(def.cluster.as_deref(), ctx)?,
            api_version: self.text(&def.api_version, ctx)?,
            kind: self.text(&def.kind, ctx)?,
            namespace: self.opt(def.namespace.as_deref(), ctx)?,
            name: self.text(&def.name, ctx)?,
        }))
    }

    /// A cluster's logical name from a template rendering to a name or a context; the
    /// default cluster when the template is absent or renders empty.
    pub(super) fn cluster(&self, template: Option<&str>, ctx: &Value) -> Result<String, ToolError> {
        let rendered = self.opt(template, ctx)?;
        match rendered {
            Some(s) => Ok(resolve(s.trim(), self.clusters, &self.rule.matcher.tool)?.name),
            None => self
                .default_cluster
                .clone()
                .ok_or_else(|| ToolError::SimRule {
                    rule: self.rule.name.clone(),
                    file: self.rule.file.clone(),
                    message: "the call has no cluster and the rule names none".into(),
                }),
        }
    }
}

/// The non-empty YAML documents of a rendered manifest, each checked to parse.
pub(super) fn documents(yaml: &str) -> Result<Vec<String>, SimYamlError> {
    let mut out = Vec::new();
    for doc in split_documents(yaml) {
        let v: Option<Value> =
            serde_yaml::from_str(&doc).map_err(|error| SimYamlError::Manifest {
                doc: doc.clone(),
                error,
            })?;
        if v.is_some() {
            out.push(doc);
        }
    }
    Ok(out)
}

fn split_documents(yaml: &str) -> Vec<String> {
    let mut docs = vec![String::new()];
    for line in yaml.lines() {
        if line.trim_end() == "---" {
            docs.push(String::new());
        } else if let Some(last) = docs.last_mut() {
            last.push_str(line);
            last.push('\n');
        }
    }
    docs.into_iter().filter(|d| !d.trim().is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_drops_empty_documents() {
        let docs = documents("---\na: 1\n---\n# only a comment\n---\n\nb: 2\n").unwrap();
        assert_eq!(docs, ["a: 1\n", "\nb: 2\n"]);
        assert!(documents("a: [").is_err());
    }

    #[test]
    fn resolves_clusters_by_name_or_context() {
        let cs = vec![ToolCluster::new("cluster1", "kind-a")];
        assert_eq!(resolve("kind-a", &cs, "t").unwrap().name, "cluster1");
        assert_eq!(resolve("cluster1", &cs, "t").unwrap().name, "cluster1");
        let err = resolve("x", &cs, "istioctl").unwrap_err().to_string();
        assert_eq!(
            err,
            "`istioctl` names context `x`, which is not a simulated cluster; known: `kind-a`"
        );
    }
}
