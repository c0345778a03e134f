//! Pod endpoints: `/log` text, and `/exec`, `/attach`, `/portforward` over the WebSocket
//! channel protocol (v4/v5), answering honestly that a simulated pod runs nothing.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::Uri;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{json, Value};

use super::cluster::Cluster;
use super::resources::ResourceDef;
use super::status::ApiError;

const PROTOCOLS: [&str; 4] = [
    "v5.channel.k8s.io",
    "v4.channel.k8s.io",
    "v3.channel.k8s.io",
    "v2.channel.k8s.io",
];

/// The simulated log of a pod's container.
pub fn log_lines(pod: &Value, container: Option<&str>) -> Vec<String> {
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or_default();
    let containers = pod["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let c = container
        .and_then(|want| containers.iter().find(|c| c["name"] == want))
        .or_else(|| containers.first());
    let cname = c.and_then(|c| c["name"].as_str()).unwrap_or("main");
    let image = c.and_then(|c| c["image"].as_str()).unwrap_or("unknown");
    let ts = pod["status"]["startTime"]
        .as_str()
        .or(pod["metadata"]["creationTimestamp"].as_str())
        .unwrap_or_default();
    vec![
        format!("{ts} meshbook-sim: pod {ns}/{name} container {cname} started from image {image}"),
        format!("{ts} meshbook-sim: container {cname} is simulated; no process runs and no traffic is served"),
        format!("{ts} meshbook-sim: container {cname} ready"),
    ]
}

/// Why a container has no log to show, in the kubelet's words (pkg/kubelet
/// `validateContainerLogStatus`): it is waiting to start and never ran.
fn not_started(pod: &Value, container: Option<&str>) -> Option<String> {
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let statuses = pod["status"]["containerStatuses"].as_array()?;
    let cs = match container {
        Some(c) => statuses.iter().find(|s| s["name"] == c)?,
        None => statuses.first()?,
    };
    let reason = cs["state"]["waiting"]["reason"].as_str()?;
    if cs["lastState"]["terminated"].is_object() {
        return None;
    }
    let cn = cs["name"].as_str().unwrap_or_default();
    let why = match reason {
        "ErrImagePull" => "image can't be pulled",
        "ImagePullBackOff" => "trying and failing to pull image",
        other => other,
    };
    Some(format!(
        "container \"{cn}\" in pod \"{name}\" is waiting to start: {why}"
    ))
}

pub fn log(pod: &Value, query: &HashMap<String, String>) -> Response {
    if let Some(msg) = not_started(pod, query.get("container").map(String::as_str)) {
        let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": msg, "reason": "BadRequest", "code": 400});
        return Response::builder()
            .status(400)
            .header("content-type", "application/json")
            .body(Body::from(status.to_string()))
            .unwrap_or_default();
    }
    let mut lines = log_lines(pod, query.get("container").map(String::as_str));
    if let Some(n) = query.get("tailLines").and_then(|n| n.parse::<usize>().ok()) {
        let skip = lines.len().saturating_sub(n);
        lines.drain(..skip);
    }
    let mut text = lines.join("\n");
    text.push('\n');
    Response::builder()
        .status(200)
        .header("content-type", "text/plain")
        .body(Body::from(text))
        .unwrap_or_default()
}

fn commands(uri: &Uri) -> (Vec<String>, Option<String>, Vec<u16>) {
    let mut cmd = Vec::new();
    let mut container = None;
    let mut ports = Vec::new();
    for pair in uri.query().unwrap_or("").split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v);
        match k {
            "command" => cmd.push(v),
            "container" => container = Some(v),
            "ports" => ports.extend(v.split(',').filter_map(|p| p.trim().parse::<u16>().ok())),
            _ => {}
        }
    }
    (cmd, container, ports)
}

fn percent_decode(s: &str) -> String {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(x) =
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("-"), 16)
            {
                out.push(x);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn frame(channel: u8, data: &[u8]) -> Message {
    let mut v = Vec::with_capacity(data.len() + 1);
    v.push(channel);
    v.extend_from_slice(data);
    Message::Binary(Bytes::from(v))
}

/// Upgrades an exec/attach/portforward request and answers on the channel protocol.
pub fn stream(
    c: &Arc<Cluster>,
    def: &ResourceDef,
    ns: &str,
    name: &str,
    sub: &str,
    uri: &Uri,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let pod = c
        .store
        .get(&def.key(), ns, name)
        .ok_or_else(|| ApiError::not_found(&def.key(), name))?;
    if sub == "portforward" {
        // kubectl 1.31+: SPDY tunneled over WebSocket (see portforward_ws.rs)
        let ws = ws.protocols([super::portforward_ws::PROTOCOL]);
        if ws.selected_protocol().is_some() {
            let (c, ns, name) = (c.clone(), ns.to_string(), name.to_string());
            return Ok(
                ws.on_upgrade(move |socket| super::portforward_ws::serve(socket, c, ns, name))
            );
        }
        return port_forward_channels(c, ns, name, uri, ws);
    }
    let (cmd, container, _) = commands(uri);
    let container = container
        .or_else(|| {
            pod["spec"]["containers"][0]["name"]
                .as_str()
                .map(String::from)
        })
        .unwrap_or_else(|| "main".into());
    let pod_name = format!("{ns}/{name}");
    let sub = sub.to_string();
    let script = scripted_exec(&pod);
    // `curl` in a pod is answered by the simulated data plane (unless a test scripted the
    // pod's exec output).
    let curl = (sub == "exec" && script.is_none() && super::dataplane::curl::is_curl(&cmd))
        .then(|| curl_in_pod(c, ns, name, &cmd));
    Ok(ws
        .protocols(PROTOCOLS)
        .on_upgrade(move |socket| async move {
            match (script, curl) {
                (Some((stdout, code)), _) => scripted(socket, &stdout, "", code).await,
                (None, Some((stdout, stderr, code))) => {
                    scripted(socket, &stdout, &stderr, code).await
                }
                (None, None) => exec(socket, &pod_name, &container, &cmd).await,
            }
        }))
}

/// Port-forward on the channel protocol (kube-rs): answers that nothing listens.
fn port_forward_channels(
    _c: &Arc<Cluster>,
    ns: &str,
    name: &str,
    uri: &Uri,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let (_, _, ports) = commands(uri);
    let pod_name = format!("{ns}/{name}");
    Ok(ws
        .protocols(PROTOCOLS)
        .on_upgrade(move |socket| async move { port_forward(socket, &pod_name, &ports).await }))
}

/// Pod annotation: what every exec in the pod prints on stdout, instead of the honest "cannot
/// run" answer. With it a test or a rehearsal can script what a command inside a simulated pod
/// says (e.g. the output of a curl), without pretending that anything ran.
pub const EXEC_STDOUT_ANNOTATION: &str = "sim.meshbook.dev/exec-stdout";
/// Pod annotation: the exit code of a scripted exec (default 0).
pub const EXEC_CODE_ANNOTATION: &str = "sim.meshbook.dev/exec-exit-code";

fn scripted_exec(pod: &Value) -> Option<(String, i32)> {
    let ann = &pod["metadata"]["annotations"];
    let stdout = ann[EXEC_STDOUT_ANNOTATION].as_str()?.to_string();
    let code = ann[EXEC_CODE_ANNOTATION]
        .as_str()
        .and_then(|c| c.trim().parse().ok())
        .unwrap_or(0);
    Some((stdout, code))
}

/// A curl run in pod `ns/name`, answered by the data plane from this cluster and its peers:
/// `(stdout, stderr, exit code)`.
fn curl_in_pod(c: &Arc<Cluster>, ns: &str, name: &str, argv: &[String]) -> (String, String, i32) {
    use super::dataplane::{self, curl, Models, Origin, World};
    let cmd = match curl::parse(argv) {
        Ok(cmd) => cmd,
        Err(e) => return (String::new(), format!("{e}\n"), 2),
    };
    let mut clusters = vec![c.clone()];
    clusters.extend(c.peers());
    let world = World::of_clusters(&clusters);
    let origin = Origin::Pod {
        cluster: c.name.clone(),
        namespace: ns.to_string(),
        pod: name.to_string(),
    };
    let answer = dataplane::answer(
        &world,
        Models::bundled(),
        &c.balancer,
        &origin,
        &cmd.request,
    );
    curl::render(&cmd, &answer)
}

async fn scripted(mut socket: WebSocket, stdout: &str, stderr: &str, code: i32) {
    if !stdout.is_empty() {
        let _ = socket.send(frame(1, stdout.as_bytes())).await;
    }
    if !stderr.is_empty() {
        let _ = socket.send(frame(2, stderr.as_bytes())).await;
    }
    let status = if code == 0 {
        json!({"metadata": {}, "status": "Success"})
    } else {
        json!({"metadata": {}, "status": "Failure", "message": format!("command terminated with non-zero exit code: {code}"),
            "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]}})
    };
    let _ = socket
        .send(frame(3, &serde_json::to_vec(&status).unwrap_or_default()))
        .await;
    close(&mut socket).await;
}

/// The Status an exec ends with: a non-zero exit code, as kubectl and kube-rs expect.
pub fn exec_status(pod: &str, container: &str, cmd: &[String]) -> Value {
    json!({"metadata": {}, "status": "Failure",
        "message": format!("command terminated with non-zero exit code: simulated pod {pod} container {container} cannot run {:?}", cmd.join(" ")),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": "126"}]}})
}

async fn exec(mut socket: WebSocket, pod: &str, container: &str, cmd: &[String]) {
    let text = format!(
        "meshbook: simulated pod {pod} (container {container}) cannot run `{}`: simulated clusters have no container runtime\n",
        cmd.join(" ")
    );
    let _ = socket.send(frame(2, text.as_bytes())).await;
    let status = serde_json::to_vec(&exec_status(pod, container, cmd)).unwrap_or_default();
    let _ = socket.send(frame(3, &status)).await;
    close(&mut socket).await;
}

async fn port_forward(mut socket: WebSocket, pod: &str, ports: &[u16]) {
    for (i, port) in ports.iter().enumerate() {
        let data = u8::try_from(i * 2).unwrap_or(0);
        let _ = socket.send(frame(data, &port.to_le_bytes())).await;
        let _ = socket.send(frame(data + 1, &port.to_le_bytes())).await;
        let msg = format!("simulated pod {pod} accepts no connections on port {port}: simulated clusters have no data plane");
        let _ = socket.send(frame(data + 1, msg.as_bytes())).await;
    }
    close(&mut socket).await;
}

/// Ends the stream with a normal close (1000), as the kubelet does.
async fn close(socket: &mut WebSocket) {
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code: 1000,
            reason: "".into(),
        })))
        .await;
    // let the client read everything and answer the close
    let wait = async {
        while let Some(Ok(m)) = socket.recv().await {
            if matches!(m, Message::Close(_)) {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), wait).await;
}
