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
use super::store::{Event, EventType};

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
    /// Send each object as a one-row Table (`kubectl get -w`).
    pub as_table: bool,
    /// Send a BOOKMARK with the current resourceVersion after a quiet spell.
    pub bookmarks: bool,
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
        if self.as_table {
            let rv = obj["metadata"]["resourceVersion"]
                .as_str()
                .unwrap_or("")
                .to_string();
            return super::table::table(&self.def, &[obj], &rv);
        }
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
    let stop = cluster.stop.clone();
    let bookmark_every = cluster.opts.bookmark_every;
    // the newest resourceVersion this watch has seen (bookmarks carry it)
    let store_rv = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
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
            if ev.res != key {
                return None;
            }
            let now = req.matches(&ev.object);
            let before = ev.prev.as_ref().is_some_and(|p| req.matches(p));
            // an object entering or leaving the selection is ADDED or DELETED for this watch
            let type_ = match (ev.type_, before, now) {
                (EventType::Modified, false, true) => "ADDED",
                (EventType::Modified, true, false) => "DELETED",
                (EventType::Deleted, true, _) => "DELETED",
                (t, _, true) => t.as_str(),
                _ => return None,
            };
            Some(line(type_, req.present(ev.object.clone())))
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
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(bookmark_every), if req.bookmarks => {
                    let rv = store_rv.load(std::sync::atomic::Ordering::Relaxed).max(cur);
                    let mark = json!({"kind": req.def.kind, "apiVersion": req.def.api_version(&req.version),
                        "metadata": {"resourceVersion": rv.to_string()}});
                    if tx.send(Ok(line("BOOKMARK", mark))).await.is_err() { return; }
                }
                _ = tx.closed() => return,
                ev = rx.recv() => match ev {
                    Ok(ev) => {
                        store_rv.fetch_max(ev.rv, std::sync::atomic::Ordering::Relaxed);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::cluster::WriteOpts;
    use crate::sim::SimOptions;
    use http_body_util::BodyExt;

    async fn lines(resp: Response, n: usize) -> Vec<Value> {
        let mut body = resp.into_body();
        let mut buf = Vec::new();
        let mut out = Vec::new();
        while out.len() < n {
            let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            if let Ok(data) = frame.into_data() {
                buf.extend_from_slice(&data);
                while let Some(i) = buf.iter().position(|b| *b == b'\n') {
                    let l: Vec<u8> = buf.drain(..=i).collect();
                    out.push(serde_json::from_slice(&l).unwrap());
                }
            }
        }
        out
    }

    fn req(c: &Cluster, rv: Option<String>, labels: &str, initial: bool) -> WatchRequest {
        WatchRequest {
            def: c.registry().by_kind("v1", "ConfigMap").unwrap(),
            version: "v1".into(),
            namespace: Some("default".into()),
            labels: LabelSelector::parse(labels).unwrap(),
            fields: FieldSelector::default(),
            resource_version: rv,
            timeout: None,
            send_initial_events: initial,
            as_table: false,
            bookmarks: false,
        }
    }

    #[tokio::test]
    async fn replays_after_a_version_and_follows_selection_changes() {
        let c = Arc::new(Cluster::new("w", 0, SimOptions::default()));
        let ns = c.registry().by_kind("v1", "Namespace").unwrap();
        let cm = c.registry().by_kind("v1", "ConfigMap").unwrap();
        let opts = WriteOpts::controller("test");
        c.create(&ns, "", json!({"metadata": {"name": "default"}}), &opts)
            .unwrap();
        let a = c
            .create(
                &cm,
                "default",
                json!({"metadata": {"name": "a", "labels": {"app": "x"}}}),
                &opts,
            )
            .unwrap();
        let rv = a["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .to_string();
        c.create(
            &cm,
            "default",
            json!({"metadata": {"name": "b", "labels": {"app": "x"}}}),
            &opts,
        )
        .unwrap();
        let resp = watch(&c, req(&c, Some(rv), "app=x", false));
        // leaves the selection: DELETED for this watch
        c.patch(
            &cm,
            "default",
            "a",
            None,
            crate::sim::PatchKind::Merge,
            json!({"metadata": {"labels": {"app": "y"}}}),
            &opts,
        )
        .unwrap();
        let evs = lines(resp, 2).await;
        assert_eq!(evs[0]["type"], "ADDED");
        assert_eq!(evs[0]["object"]["metadata"]["name"], "b");
        assert_eq!(evs[1]["type"], "DELETED");
        assert_eq!(evs[1]["object"]["metadata"]["name"], "a");

        let resp = watch(&c, req(&c, None, "", true));
        let evs = lines(resp, 3).await;
        assert_eq!(evs[2]["type"], "BOOKMARK");
        assert_eq!(
            evs[2]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
            "true"
        );

        let resp = watch(&c, req(&c, Some("1".into()), "", false));
        let _ = resp;
    }

    #[tokio::test]
    async fn too_old_versions_get_410() {
        let c = Arc::new(Cluster::new("w", 0, SimOptions::default()));
        let resp = watch(&c, req(&c, Some("0".into()), "", false));
        drop(resp);
        // a version before the retained log answers with an ERROR event carrying 410
        c.store.forget_before_for_test(5);
        let resp = watch(&c, req(&c, Some("2".into()), "", false));
        let evs = lines(resp, 1).await;
        assert_eq!(evs[0]["type"], "ERROR");
        assert_eq!(evs[0]["object"]["code"], 410);
        assert_eq!(evs[0]["object"]["reason"], "Expired");
    }
}
