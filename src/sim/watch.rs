//! Watch streams: one JSON event per line, with replay from a resourceVersion, 410 expiry,
//! `timeoutSeconds` and `sendInitialEvents` bookmarks.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use super::cluster::Cluster;
use super::resources::ResourceDef;
use super::selector::{FieldSelector, LabelSelector};
use super::status::ApiError;
use super::store::Event;

/// What a watch asks for.
pub struct WatchRequest {
    pub def: ResourceDef,
    pub version: String,
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub resource_version: Option<String>,
    pub timeout: Option<Duration>,
    pub send_initial_events: bool,
}

impl WatchRequest {
    fn matches(&self, obj: &Value) -> bool {
        if let Some(ns) = &self.namespace {
            if obj["metadata"]["namespace"].as_str() != Some(ns) {
                return false;
            }
        }
        self.labels.matches(obj) && self.fields.matches(obj)
    }

    fn present(&self, mut obj: Value) -> Value {
        obj["apiVersion"] = json!(self.def.api_version(&self.version));
        obj
    }
}

fn line(type_: &str, object: Value) -> Bytes {
    let mut s = serde_json::to_vec(&json!({"type": type_, "object": object})).unwrap_or_default();
    s.push(b'\n');
    Bytes::from(s)
}

/// Starts a watch and returns the streaming response.
pub fn watch(cluster: &Arc<Cluster>, req: WatchRequest) -> Response {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::convert::Infallible>>(256);
    let key = req.def.key();
    let since = req
        .resource_version
        .as_deref()
        .filter(|rv| !rv.is_empty() && *rv != "0")
        .map(|rv| rv.parse::<u64>().unwrap_or(0));
    let mut initial = Vec::new();
    let (events, cur) = if req.send_initial_events || since.is_none() {
        let ns = req.namespace.as_deref();
        let (items, rx, cur) = cluster.store.list_and_subscribe(&key, ns);
        for o in items.into_iter().filter(|o| req.matches(o)) {
            initial.push(line("ADDED", req.present(o)));
        }
        if req.send_initial_events {
            initial.push(line(
                "BOOKMARK",
                json!({"kind": req.def.kind, "apiVersion": req.def.api_version(&req.version),
                "metadata": {"resourceVersion": cur.to_string(),
                    "annotations": {"k8s.io/initial-events-end": "true"}}}),
            ));
        }
        (Ok((vec![], rx)), cur)
    } else {
        match cluster.store.subscribe(since) {
            Ok((replay, rx, cur)) => (Ok((replay, rx)), cur),
            Err(e) => (Err(e), 0),
        }
    };
    let timeout = req.timeout.unwrap_or(Duration::from_secs(1800));
    tokio::spawn(async move {
        let (replay, mut rx) = match events {
            Ok(x) => x,
            Err(e) => {
                let _ = tx.send(Ok(line("ERROR", e.to_status()))).await;
                return;
            }
        };
        for l in initial {
            if tx.send(Ok(l)).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let send = |ev: &Event| -> Option<Bytes> {
            (ev.res == key && req.matches(&ev.object))
                .then(|| line(ev.type_.as_str(), req.present(ev.object.clone())))
        };
        for ev in replay {
            if let Some(l) = send(&ev) {
                if tx.send(Ok(l)).await.is_err() {
                    return;
                }
            }
        }
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = tx.closed() => return,
                ev = rx.recv() => match ev {
                    Ok(ev) => {
                        if ev.rv <= cur { continue; }
                        if let Some(l) = send(&ev) {
                            if tx.send(Ok(l)).await.is_err() { return; }
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let e = ApiError::expired("the watch fell behind; resourceVersion too old");
                        let _ = tx.send(Ok(line("ERROR", e.to_status()))).await;
                        return;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        }
    });
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Body::from_stream(ReceiverStream::new(rx)))
        .unwrap_or_default()
}
