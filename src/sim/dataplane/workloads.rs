//! Workload behaviours: what the application in a simulated pod answers, as data keyed by
//! container image (`stdlib/sim/workloads/*.yaml`). A behaviour names the upstream source it
//! follows; its routes say which calls the application makes (through the simulated data
//! plane) and how its answer is rendered from their results (Handlebars).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

/// One application's behaviour.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    pub name: String,
    /// The upstream source or document the behaviour follows.
    #[serde(default)]
    pub source: String,
    /// Image references it models, `*` matching any run of characters.
    #[serde(default)]
    pub images: Vec<String>,
    /// External hostnames it answers for (a ServiceEntry's host reached through egress).
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Ports it listens on (empty: any).
    #[serde(default)]
    pub ports: Vec<u16>,
    /// Processing time of one request, before its calls.
    #[serde(default = "default_latency", with = "duration_text")]
    pub latency: Duration,
    /// A client image (curl, a shell): it makes requests but serves none.
    #[serde(default)]
    pub client_only: bool,
    #[serde(default)]
    pub routes: Vec<Route>,
}

fn default_latency() -> Duration {
    Duration::from_millis(2)
}

/// One request handler.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    #[serde(rename = "match", default)]
    pub matcher: PathMatch,
    /// Calls made, in order, before answering; their results are `calls.<name>` in templates.
    #[serde(default)]
    pub calls: Vec<Call>,
    /// Status code (a template: `{{request.params.code}}`).
    #[serde(default = "default_status")]
    pub status: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: String,
    /// Extra processing time (a template: `{{request.params.seconds}}s`).
    #[serde(default)]
    pub delay: Option<String>,
}

fn default_status() -> String {
    "200".into()
}

/// Which requests a route handles: `exact`, `prefix` or `pattern` (`/status/{code}`), and
/// optionally which methods.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathMatch {
    pub exact: Option<String>,
    pub prefix: Option<String>,
    pub pattern: Option<String>,
    #[serde(default)]
    pub methods: Vec<String>,
}

/// A request the application makes while handling one.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Call {
    pub name: String,
    /// The URL (a template over `env`, `pod`, `request`).
    pub url: String,
    /// The application's own timeout for one attempt.
    #[serde(default = "default_call_timeout", with = "duration_text")]
    pub timeout: Duration,
    /// Attempts before giving up (the application's own retry loop).
    #[serde(default = "one")]
    pub attempts: u32,
    /// Request headers copied from the incoming request (trace and user headers).
    #[serde(default)]
    pub forward_headers: Vec<String>,
    /// Make the call only when this template renders non-empty.
    #[serde(default)]
    pub when: Option<String>,
}

fn default_call_timeout() -> Duration {
    Duration::from_secs(3)
}

fn one() -> u32 {
    1
}

mod duration_text {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_duration(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("`{text}` is not a duration such as 3s or 250ms"))
        })
    }
}

/// `250ms`, `3s`, `1.5s`, `2m`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    let (num, unit) = t
        .find(|c: char| c.is_ascii_alphabetic())
        .map(|i| t.split_at(i))
        .unwrap_or((t, "s"));
    let n: f64 = num.trim().parse().ok()?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    workloads: Vec<Workload>,
}

/// Every known behaviour.
#[derive(Debug, Default, Clone)]
pub struct Models {
    pub workloads: Vec<Workload>,
}

/// A behaviour file that is not what the format says.
#[derive(Debug, thiserror::Error)]
#[error("workload behaviours {file}: {source}")]
pub struct ModelsError {
    pub file: String,
    #[source]
    pub source: serde_yaml::Error,
}

/// The folder of the behaviours inside the stdlib.
pub const FOLDER: &str = "sim/workloads";

impl Models {
    /// Parses behaviour files (`(name, text)`); an error names the file.
    pub fn parse(files: &[(String, String)]) -> Result<Models, ModelsError> {
        let mut workloads = Vec::new();
        for (name, text) in files {
            let file: File = serde_yaml::from_str(text).map_err(|source| ModelsError {
                file: name.clone(),
                source,
            })?;
            workloads.extend(file.workloads);
        }
        Ok(Models { workloads })
    }

    /// The bundled behaviours (`stdlib/sim/workloads`, or `$MESHBOOK_STDLIB/sim/workloads`).
    pub fn bundled() -> &'static Models {
        static MODELS: std::sync::OnceLock<Models> = std::sync::OnceLock::new();
        MODELS.get_or_init(|| {
            let files = crate::assets::Tree::Stdlib.yaml_files(FOLDER);
            Models::parse(&files).unwrap_or_else(|e| {
                tracing::warn!("{e}");
                Models::default()
            })
        })
    }

    /// The behaviour of an image, if one is modelled.
    pub fn for_image(&self, image: &str) -> Option<&Workload> {
        self.workloads
            .iter()
            .find(|w| w.images.iter().any(|p| glob(p, image)))
    }

    /// The behaviour answering for an external hostname.
    pub fn for_host(&self, host: &str) -> Option<&Workload> {
        self.workloads
            .iter()
            .find(|w| w.hosts.iter().any(|h| h.eq_ignore_ascii_case(host)))
    }
}

/// `*` matches any run of characters; everything else literally.
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

impl PathMatch {
    /// The path parameters when `path` (without the query) matches, `None` otherwise.
    pub fn matches(&self, method: &str, path: &str) -> Option<BTreeMap<String, String>> {
        if !self.methods.is_empty() && !self.methods.iter().any(|m| m.eq_ignore_ascii_case(method))
        {
            return None;
        }
        if let Some(e) = &self.exact {
            return (path == e).then(BTreeMap::new);
        }
        if let Some(p) = &self.pattern {
            return pattern_params(p, path);
        }
        match &self.prefix {
            Some(p) => path.starts_with(p.as_str()).then(BTreeMap::new),
            None => Some(BTreeMap::new()),
        }
    }
}

fn pattern_params(pattern: &str, path: &str) -> Option<BTreeMap<String, String>> {
    let want: Vec<&str> = pattern.trim_matches('/').split('/').collect();
    let got: Vec<&str> = path.trim_matches('/').split('/').collect();
    if want.len() != got.len() {
        return None;
    }
    let mut params = BTreeMap::new();
    for (w, g) in want.iter().zip(&got) {
        if let Some(name) = w.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
            params.insert(name.to_string(), (*g).to_string());
        } else if w != g {
            return None;
        }
    }
    Some(params)
}

/// The template data of a pod serving a request: `pod`, `env`, `request`.
pub fn context(pod: &Value, cluster: &str, container: &Value, request: &Value) -> Value {
    let mut env = serde_json::Map::new();
    for e in container["env"].as_array().into_iter().flatten() {
        if let (Some(k), Some(v)) = (e["name"].as_str(), e["value"].as_str()) {
            env.insert(k.to_string(), json!(v));
        }
    }
    // The kubelet sets HOSTNAME to the pod's name.
    env.entry("HOSTNAME")
        .or_insert_with(|| pod["metadata"]["name"].clone());
    json!({
        "pod": {
            "name": pod["metadata"]["name"],
            "namespace": pod["metadata"]["namespace"],
            "cluster": cluster,
            "ip": pod["status"]["podIP"],
            "labels": pod["metadata"]["labels"],
            "service_account": pod["spec"]["serviceAccountName"].as_str().unwrap_or("default"),
        },
        "env": env,
        "request": request,
        "calls": {},
    })
}

/// Renders a behaviour template (strict, with the simulator's helpers).
pub fn render(
    template: &str,
    data: &Value,
) -> Result<String, crate::base::template::TemplateError> {
    crate::base::template::render(template, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_image_references() {
        assert!(glob(
            "*/examples-bookinfo-reviews-v2:*",
            "docker.io/istio/examples-bookinfo-reviews-v2:1.20.3"
        ));
        assert!(!glob(
            "*/examples-bookinfo-reviews-v2:*",
            "docker.io/istio/examples-bookinfo-reviews-v3:1.20.3"
        ));
        assert!(glob("*curl*", "curlimages/curl:8.1.2"));
        assert!(glob("exact", "exact") && !glob("exact", "exactly"));
    }

    #[test]
    fn paths_match_with_parameters() {
        let m = PathMatch {
            pattern: Some("/status/{code}".into()),
            ..PathMatch::default()
        };
        assert_eq!(m.matches("GET", "/status/418").unwrap()["code"], "418");
        assert!(m.matches("GET", "/status").is_none());
        let p = PathMatch {
            prefix: Some("/reviews/".into()),
            methods: vec!["GET".into()],
            ..PathMatch::default()
        };
        assert!(p.matches("get", "/reviews/0").is_some());
        assert!(p.matches("POST", "/reviews/0").is_none());
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("soon"), None);
    }

    #[test]
    fn bundled_behaviours_parse_and_cover_bookinfo() {
        let m = Models::bundled();
        for image in [
            "docker.io/istio/examples-bookinfo-productpage-v1:1.20.3",
            "docker.io/istio/examples-bookinfo-details-v1:1.20.3",
            "docker.io/istio/examples-bookinfo-reviews-v1:1.20.3",
            "docker.io/istio/examples-bookinfo-reviews-v3:1.20.3",
            "docker.io/istio/examples-bookinfo-ratings-v1:1.20.3",
        ] {
            assert!(m.for_image(image).is_some(), "{image}");
        }
        assert!(m.for_host("httpbin.org").is_some());
    }
}
