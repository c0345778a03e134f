//! Failures on demand: the simulated kubelet fails a pod as a real one does, so a runbook's
//! timeout path and its diagnostics can be rehearsed.
//!
//! What fails, and how (each as the kubelet of Kubernetes 1.32 reports it):
//! - an image reference the kubelet cannot parse: waiting reason `InvalidImageName`, message
//!   `Failed to apply default image tag "X": couldn't parse image reference "X": invalid
//!   reference format` (k8s.io/kubernetes pkg/kubelet/images/image_manager.go,
//!   `EnsureImageExists` and `applyDefaultImageTag`, over the grammar of
//!   github.com/distribution/reference `ParseNormalizedNamed`), event `InspectFailed`;
//! - annotation [`FAIL_ANNOTATION`] `ImagePullBackOff` (or `ErrImagePull`), or an image matching
//!   a `--fail-image` glob: `ErrImagePull` first (events `Pulling`, `Failed` "Failed to pull
//!   image ...", `Failed` "Error: ErrImagePull"), then `ImagePullBackOff` with the message
//!   `Back-off pulling image "X"` (events `BackOff`, `Failed` "Error: ImagePullBackOff");
//! - `CrashLoopBackOff`: the container starts, exits with code 1 (`lastState.terminated`,
//!   reason `Error`) and is restarted after a back-off that doubles (kubelet: 10 s up to 5 min;
//!   here scaled to the simulated reaction delay), `restartCount` growing, waiting reason
//!   `CrashLoopBackOff` with `back-off 10s restarting failed container=C pod=P_NS(UID)` and the
//!   event `BackOff` "Back-off restarting failed container C in pod P_NS(UID)"
//!   (pkg/kubelet/kuberuntime/kuberuntime_manager.go `doBackOff`);
//! - `NotReady`: the container runs but its readiness probe never passes (condition Ready
//!   False, reason `ContainersNotReady`; event `Unhealthy` "Readiness probe failed: ...", as
//!   pkg/kubelet/prober/prober.go records).

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::workloads::res;
use super::{events, Outcome};
use crate::problem::Problem;
use crate::sim::cluster::{random_suffix, Cluster};
use crate::sim::store::{meta_str, now};

/// Pod (template) annotation that makes the simulated kubelet fail the pod:
/// `ImagePullBackOff` (or `ErrImagePull`), `CrashLoopBackOff` or `NotReady`.
pub const FAIL_ANNOTATION: &str = "sim.meshbook.dev/fail";

/// Environment variable with `--fail-image` globs, comma-separated.
pub const FAIL_IMAGE_ENV: &str = "MESHBOOK_SIM_FAIL_IMAGE";

static FAIL_IMAGES: RwLock<Option<Vec<String>>> = RwLock::new(None);

/// Sets the image globs whose pulls fail in the simulated clusters this process starts
/// (`sim serve --fail-image`, `run --fail-image`).
pub fn set_fail_images(globs: Vec<String>) {
    *FAIL_IMAGES.write().unwrap_or_else(|e| e.into_inner()) = Some(globs);
}

/// The globs set by [`set_fail_images`], else those of `MESHBOOK_SIM_FAIL_IMAGE`, else none.
pub fn fail_images_for_runs() -> Vec<String> {
    if let Some(g) = FAIL_IMAGES
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
    {
        return g;
    }
    std::env::var(FAIL_IMAGE_ENV)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(String::from)
        .collect()
}

/// How a pod fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The image reference does not parse; the message is the kubelet's.
    InvalidImageName { container: String, message: String },
    /// The image cannot be pulled.
    ImagePull { container: String },
    /// The container exits with code 1 again and again.
    CrashLoop,
    /// The container runs and never becomes ready.
    NotReady,
}

/// Whether `glob` (`*` any run, `?` one character) matches `text`.
pub fn glob_match(glob: &str, text: &str) -> bool {
    let (g, t): (Vec<char>, Vec<char>) = (glob.chars().collect(), text.chars().collect());
    let (mut gi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if gi < g.len() && (g[gi] == '?' || g[gi] == t[ti]) {
            gi += 1;
            ti += 1;
        } else if gi < g.len() && g[gi] == '*' {
            star = Some((gi, ti));
            gi += 1;
        } else if let Some((sg, st)) = star {
            gi = sg + 1;
            ti = st + 1;
            star = Some((sg, st + 1));
        } else {
            return false;
        }
    }
    g[gi..].iter().all(|c| *c == '*')
}

/// The kubelet's check of an image reference (`ParseNormalizedNamed`): `Err` carries the
/// reason after `couldn't parse image reference "X": `.
pub fn parse_image(image: &str) -> Result<(), Problem> {
    use std::sync::OnceLock;
    static REF: OnceLock<regex::Regex> = OnceLock::new();
    static HEX64: OnceLock<regex::Regex> = OnceLock::new();
    let hex64 = HEX64.get_or_init(|| regex::Regex::new("^[a-f0-9]{64}$").expect("regex"));
    if hex64.is_match(image) {
        return Err(Problem::new(format!(
            "invalid repository name ({image}), cannot specify 64-byte hexadecimal strings"
        )));
    }
    // github.com/distribution/reference regexp.go, anchored.
    let re = REF.get_or_init(|| {
        let path = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*";
        let dc = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
        let host = format!(r"(?:{dc}(?:\.{dc})*|\[[a-fA-F0-9:]+\])");
        let domain = format!(r"{host}(?::[0-9]+)?");
        let tag = r"[\w][\w.-]{0,127}";
        let digest = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
        regex::Regex::new(&format!(
            "^((?:{domain}/)?{path}(?:/{path})*)(?::{tag})?(?:@{digest})?$"
        ))
        .expect("reference regexp")
    });
    // splitDockerDomain: the first component is a registry when it has `.` or `:`, is
    // `localhost`, or has capitals; otherwise docker.io (with `library/` for one component).
    let (domain, rest) = match image.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.to_lowercase() != first =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => ("docker.io".to_string(), image.to_string()),
    };
    let rest = if domain == "docker.io" && !rest.contains('/') {
        format!("library/{rest}")
    } else {
        rest
    };
    let remote = rest.split(':').next().unwrap_or_default();
    if remote.to_lowercase() != remote {
        return Err(Problem::new(format!(
            "invalid reference format: repository name ({remote}) must be lowercase"
        )));
    }
    match re.captures(&format!("{domain}/{rest}")) {
        Some(c) if c[1].len() > 255 => {
            Err("repository name must not be more than 255 characters".into())
        }
        Some(_) => Ok(()),
        None => Err("invalid reference format".into()),
    }
}

/// How `pod` fails, if it does: an unparsable image first (the kubelet checks it before
/// anything else), then the annotation, then the `--fail-image` globs.
pub fn planned(pod: &Value, fail_images: &[String]) -> Option<Failure> {
    let containers: Vec<&Value> = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    for ct in &containers {
        let image = ct["image"].as_str().unwrap_or_default();
        if let Err(why) = parse_image(image) {
            return Some(Failure::InvalidImageName {
                container: s(&ct["name"]),
                message: format!(
                    "Failed to apply default image tag \"{image}\": couldn't parse image reference \"{image}\": {why}"
                ),
            });
        }
    }
    let first = containers
        .first()
        .map(|c| s(&c["name"]))
        .unwrap_or_default();
    match pod["metadata"]["annotations"][FAIL_ANNOTATION].as_str() {
        Some("ImagePullBackOff" | "ErrImagePull") => {
            return Some(Failure::ImagePull { container: first })
        }
        Some("CrashLoopBackOff") => return Some(Failure::CrashLoop),
        Some("NotReady") => return Some(Failure::NotReady),
        _ => {}
    }
    containers.iter().find_map(|ct| {
        let image = ct["image"].as_str().unwrap_or_default();
        fail_images
            .iter()
            .any(|g| glob_match(g, image))
            .then(|| Failure::ImagePull {
                container: s(&ct["name"]),
            })
    })
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// The image as the container runtime names it (`docker.io/library/nginx:latest`).
fn full_image(image: &str) -> String {
    let (domain, rest) = match image.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
            (first.to_string(), rest.to_string())
        }
        _ => ("docker.io".to_string(), image.to_string()),
    };
    let rest = if domain == "docker.io" && !rest.contains('/') {
        format!("library/{rest}")
    } else {
        rest
    };
    let last = rest.rsplit('/').next().unwrap_or_default();
    let tagged = last.contains(':') || rest.contains('@');
    format!("{domain}/{rest}{}", if tagged { "" } else { ":latest" })
}

fn cond(ty: &str, status: &str, t: &str) -> Value {
    json!({"type": ty, "status": status, "lastProbeTime": null, "lastTransitionTime": t})
}

fn not_ready(ty: &str, names: &[String], t: &str) -> Value {
    json!({"type": ty, "status": "False", "lastProbeTime": null, "lastTransitionTime": t,
        "reason": "ContainersNotReady",
        "message": format!("containers with unready status: [{}]", names.join(" "))})
}

/// The pod's status while it fails, with `statuses` for its containers.
fn failing_status(p: &Value, phase: &str, ip: &str, statuses: Vec<Value>) -> Value {
    let t = p["status"]["startTime"]
        .as_str()
        .map(String::from)
        .unwrap_or_else(now);
    let names: Vec<String> = statuses.iter().map(|c| s(&c["name"])).collect();
    json!({"phase": phase,
        "conditions": [cond("PodReadyToStartContainers", "True", &t), cond("Initialized", "True", &t),
            not_ready("Ready", &names, &t), not_ready("ContainersReady", &names, &t), cond("PodScheduled", "True", &t)],
        "hostIP": "172.18.0.2", "hostIPs": [{"ip": "172.18.0.2"}],
        "podIP": ip, "podIPs": [{"ip": ip}], "startTime": t, "qosClass": "BestEffort",
        "containerStatuses": statuses})
}

fn ip_of(c: &Cluster, p: &Value) -> String {
    p["status"]["podIP"]
        .as_str()
        .map(String::from)
        .unwrap_or_else(|| c.next_pod_ip())
}

/// The container's status (`state` given), the others running.
fn container_statuses(
    p: &Value,
    failing: Option<&str>,
    state: &Value,
    extra: &Value,
) -> Vec<Value> {
    let t = now();
    p["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|ct| {
            let image = s(&ct["image"]);
            let this = failing.is_none_or(|f| ct["name"] == f);
            let mut st = if this {
                json!({"name": ct["name"], "image": image, "imageID": "", "ready": false, "started": false,
                    "restartCount": 0, "state": state})
            } else {
                json!({"name": ct["name"], "image": image, "imageID": format!("sim://{image}"),
                    "containerID": format!("containerd://{}", random_suffix(12)), "ready": true, "started": true,
                    "restartCount": 0, "state": {"running": {"startedAt": t}}})
            };
            if this {
                if let Some(m) = extra.as_object() {
                    for (k, v) in m {
                        st[k] = v.clone();
                    }
                }
            }
            st
        })
        .collect()
}

/// When each failing pod (by uid) takes its next step: the kubelet's back-off, which the
/// pod's own watch events (each write re-queues the pod at once) must not cut short.
static DUE: Mutex<Option<HashMap<String, Instant>>> = Mutex::new(None);

/// `Some(wait)` while the pod's back-off runs; otherwise records the next due time.
fn backing_off(uid: &str, next: Option<Duration>) -> Option<Duration> {
    let mut due = DUE.lock().unwrap_or_else(|e| e.into_inner());
    let map = due.get_or_insert_with(HashMap::new);
    let now = Instant::now();
    if let Some(at) = map.get(uid) {
        if *at > now {
            return Some(*at - now);
        }
    }
    map.retain(|_, at| now.duration_since(*at) < Duration::from_secs(600));
    match next {
        Some(d) => {
            map.insert(uid.to_string(), now + d);
        }
        None => {
            map.remove(uid);
        }
    }
    None
}

/// One step of a failing pod. The first step schedules it; later steps move it along
/// (ErrImagePull -> ImagePullBackOff, one more crash). Returns when to look again.
pub fn step(c: &Cluster, p: &Value, failure: &Failure) -> Outcome {
    let ns = meta_str(p, "namespace").to_string();
    let name = meta_str(p, "name").to_string();
    let uid = meta_str(p, "uid").to_string();
    let first = p["status"]["containerStatuses"].as_array().is_none();
    if !first {
        if let Some(wait) = backing_off(&uid, None) {
            return Outcome::RetryAfter(wait);
        }
    }
    if first {
        let node = p["spec"]["nodeName"]
            .as_str()
            .unwrap_or(super::kubelet::NODE_NAME)
            .to_string();
        events::record(
            c,
            p,
            "Normal",
            "Scheduled",
            &format!("Successfully assigned {ns}/{name} to {node}"),
            "default-scheduler",
        );
    }
    let ip = ip_of(c, p);
    let delay = c.opts.reaction_delay.max(Duration::from_millis(5));
    let (status, next) = match failure {
        Failure::InvalidImageName { container, message } => {
            if !first {
                return Outcome::Done;
            }
            events::record(c, p, "Warning", "InspectFailed", message, "kubelet");
            events::record(
                c,
                p,
                "Warning",
                "Failed",
                "Error: InvalidImageName",
                "kubelet",
            );
            let state = json!({"waiting": {"reason": "InvalidImageName", "message": message}});
            let st = container_statuses(p, Some(container), &state, &json!({}));
            (failing_status(p, "Pending", &ip, st), None)
        }
        Failure::ImagePull { container } => match image_pull(c, p, container, first, &ip, delay) {
            Ok(step) => step,
            Err(done) => return done,
        },
        Failure::CrashLoop => crash_loop(c, p, first, &ip, delay),
        Failure::NotReady => {
            if !first {
                return Outcome::Done;
            }
            let t = now();
            let state = json!({"running": {"startedAt": t}});
            let extra = json!({"started": true, "containerID": format!("containerd://{}", random_suffix(12))});
            let st = container_statuses(p, None, &state, &extra);
            started_events(c, p);
            let probe = readiness_failure(p, &ip);
            events::record(
                c,
                p,
                "Warning",
                "Unhealthy",
                &format!("Readiness probe failed: {probe}"),
                "kubelet",
            );
            (failing_status(p, "Running", &ip, st), None)
        }
    };
    let _ = c.store.modify(&res("", "pods"), &ns, &name, false, |cur| {
        let mut p = cur.cloned().unwrap_or_default();
        if p["spec"]["nodeName"].is_null() {
            p["spec"]["nodeName"] = json!(super::kubelet::NODE_NAME);
        }
        p["status"] = status.clone();
        Ok(p)
    });
    match next {
        Some(d) => {
            backing_off(&uid, Some(d));
            Outcome::RetryAfter(d)
        }
        None => Outcome::Done,
    }
}

type Step = (Value, Option<Duration>);

fn image_pull(
    c: &Cluster,
    p: &Value,
    container: &str,
    first: bool,
    ip: &str,
    delay: Duration,
) -> Result<Step, Outcome> {
    let image = p["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|ct| ct["name"] == container)
        .map(|ct| s(&ct["image"]))
        .unwrap_or_default();
    let current = &p["status"]["containerStatuses"]
        .as_array()
        .and_then(|a| a.iter().find(|cs| cs["name"] == container).cloned())
        .unwrap_or_default()["state"]["waiting"]["reason"];
    if current == "ImagePullBackOff" {
        return Err(Outcome::Done);
    }
    if first {
        let full = full_image(&image);
        let err = format!(
            "rpc error: code = NotFound desc = failed to pull and unpack image \"{full}\": failed to resolve reference \"{full}\": {full}: not found"
        );
        events::record(
            c,
            p,
            "Normal",
            "Pulling",
            &format!("Pulling image \"{image}\""),
            "kubelet",
        );
        events::record(
            c,
            p,
            "Warning",
            "Failed",
            &format!("Failed to pull image \"{image}\": {err}"),
            "kubelet",
        );
        events::record(c, p, "Warning", "Failed", "Error: ErrImagePull", "kubelet");
        let state = json!({"waiting": {"reason": "ErrImagePull", "message": err}});
        let st = container_statuses(p, Some(container), &state, &json!({}));
        return Ok((failing_status(p, "Pending", ip, st), Some(delay * 5)));
    }
    let msg = format!("Back-off pulling image \"{image}\"");
    events::record(c, p, "Normal", "BackOff", &msg, "kubelet");
    events::record(
        c,
        p,
        "Warning",
        "Failed",
        "Error: ImagePullBackOff",
        "kubelet",
    );
    let state = json!({"waiting": {"reason": "ImagePullBackOff", "message": msg}});
    let st = container_statuses(p, Some(container), &state, &json!({}));
    Ok((failing_status(p, "Pending", ip, st), None))
}

fn started_events(c: &Cluster, p: &Value) {
    for ct in p["spec"]["containers"].as_array().into_iter().flatten() {
        let (cn, image) = (s(&ct["name"]), s(&ct["image"]));
        events::record(
            c,
            p,
            "Normal",
            "Pulled",
            &format!("Container image \"{image}\" already present on machine"),
            "kubelet",
        );
        events::record(
            c,
            p,
            "Normal",
            "Created",
            &format!("Created container {cn}"),
            "kubelet",
        );
        events::record(
            c,
            p,
            "Normal",
            "Started",
            &format!("Started container {cn}"),
            "kubelet",
        );
    }
}

/// Kubelet's back-off before restart `n` (10 s doubling up to 5 min), and the same scaled to
/// simulated time (10 s = 10 reaction delays).
fn crash_back_off(n: u32, unit: Duration) -> (String, Duration) {
    let secs = (10u64 << n.min(5)).min(300);
    let shown = if secs >= 60 {
        format!("{}m{}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    };
    (shown, unit * u32::try_from(secs).unwrap_or(300))
}

fn crash_loop(c: &Cluster, p: &Value, first: bool, ip: &str, delay: Duration) -> Step {
    let ns = meta_str(p, "namespace");
    let name = meta_str(p, "name");
    let uid = meta_str(p, "uid");
    let restarts = p["status"]["containerStatuses"][0]["restartCount"]
        .as_u64()
        .unwrap_or(0);
    let restarts = u32::try_from(restarts)
        .unwrap_or(u32::MAX)
        .saturating_add(1);
    if first {
        started_events(c, p);
    }
    let (shown, wait) = crash_back_off(restarts - 1, delay);
    let t = now();
    let started = p["status"]["startTime"]
        .as_str()
        .map(String::from)
        .unwrap_or_else(|| t.clone());
    let statuses: Vec<Value> = p["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|ct| {
            let cn = s(&ct["name"]);
            events::record(
                c,
                p,
                "Warning",
                "BackOff",
                &format!("Back-off restarting failed container {cn} in pod {name}_{ns}({uid})"),
                "kubelet",
            );
            json!({"name": cn, "image": ct["image"], "imageID": format!("sim://{}", s(&ct["image"])),
                "containerID": format!("containerd://{}", random_suffix(12)),
                "ready": false, "started": false, "restartCount": restarts,
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": started, "finishedAt": t,
                    "containerID": format!("containerd://{}", random_suffix(12))}},
                "state": {"waiting": {"reason": "CrashLoopBackOff",
                    "message": format!("back-off {shown} restarting failed container={cn} pod={name}_{ns}({uid})")}}})
        })
        .collect();
    (failing_status(p, "Running", ip, statuses), Some(wait))
}

/// What a failing readiness probe says, by the probe's kind (pkg/kubelet/prober).
fn readiness_failure(p: &Value, ip: &str) -> String {
    let probe = p["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|ct| ct.get("readinessProbe"))
        .cloned()
        .unwrap_or_default();
    if probe["tcpSocket"].is_object() {
        let port = &probe["tcpSocket"]["port"];
        format!(
            "dial tcp {ip}:{}: connect: connection refused",
            s(port).trim_matches('"')
        )
    } else if probe["exec"].is_object() {
        "command failed with exit code 1".into()
    } else {
        "HTTP probe failed with statuscode: 503".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_parse_as_the_kubelet_does() {
        for ok in [
            "nginx",
            "nginx:1.27",
            "docker.io/istio/examples-bookinfo-productpage-v1:1.20.2",
            "localhost:5000/a/b",
            "gcr.io/x/y@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(parse_image(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            parse_image("Nginx:1.0"),
            Err(
                "invalid reference format: repository name (library/Nginx) must be lowercase"
                    .into()
            )
        );
        assert_eq!(
            parse_image("nginx:bad tag"),
            Err("invalid reference format".into())
        );
        assert_eq!(
            parse_image("nginx::1"),
            Err("invalid reference format".into())
        );
    }

    #[test]
    fn globs() {
        assert!(glob_match("*:nope", "nginx:nope"));
        assert!(glob_match("docker.io/*/x?", "docker.io/a/b/xy"));
        assert!(!glob_match("nginx", "nginx:1"));
        assert_eq!(full_image("nginx"), "docker.io/library/nginx:latest");
        assert_eq!(full_image("gcr.io/a/b:1"), "gcr.io/a/b:1");
    }
}
