//! `meshbook sim serve`: simulated clusters on local sockets and a kubeconfig naming them.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use kube::config::Kubeconfig;
use serde_json::{json, Value};

use super::{SimFleet, SimOptions};

/// The kubeconfig context extension that marks a simulated cluster.
pub const SIMULATED_EXTENSION: &str = "meshbook.dev/simulated";

/// Writes (or merges into) a kubeconfig with one context per `(name, url)`, each marked as
/// simulated. The first cluster becomes the current context.
pub fn write_kubeconfig(path: &Path, clusters: &[(String, String)]) -> anyhow::Result<()> {
    let mut doc: Value = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_yaml::from_str(&t).ok())
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({"apiVersion": "v1", "kind": "Config", "preferences": {}}));
    for key in ["clusters", "contexts", "users"] {
        if !doc[key].is_array() {
            doc[key] = json!([]);
        }
    }
    let upsert = |doc: &mut Value, key: &str, name: &str, entry: Value| {
        let list = doc[key].as_array_mut().expect("made an array above");
        list.retain(|e| e["name"] != name);
        list.push(entry);
    };
    upsert(
        &mut doc,
        "users",
        "meshbook-sim",
        json!({"name": "meshbook-sim", "user": {"token": "simulated"}}),
    );
    for (name, url) in clusters {
        upsert(
            &mut doc,
            "clusters",
            name,
            json!({"name": name, "cluster": {"server": url}}),
        );
        upsert(
            &mut doc,
            "contexts",
            name,
            json!({"name": name, "context": {"cluster": name, "user": "meshbook-sim",
            "namespace": "default",
            "extensions": [{"name": SIMULATED_EXTENSION, "extension": {"cluster": name}}]}}),
        );
    }
    if let Some((first, _)) = clusters.first() {
        doc["current-context"] = json!(first);
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create `{}`", dir.display()))?;
    }
    let text = serde_yaml::to_string(&doc)?;
    std::fs::write(path, text)
        .with_context(|| format!("cannot write kubeconfig `{}`", path.display()))?;
    Ok(())
}

/// The simulated cluster a kubeconfig context points at, if it carries the simulated marker.
pub fn kubeconfig_context_is_simulated(config: &Kubeconfig, context: &str) -> Option<String> {
    let ctx = config.contexts.iter().find(|c| c.name == context)?;
    let ext = ctx
        .context
        .as_ref()?
        .extensions
        .as_ref()?
        .iter()
        .find(|e| e.name == SIMULATED_EXTENSION)?;
    Some(
        ext.extension["cluster"]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| context.to_string()),
    )
}

/// Starts the clusters, listens on 127.0.0.1, writes the kubeconfig, calls `ready` with
/// `(name, url)` pairs, then serves until Ctrl-C.
pub async fn serve_command(
    clusters: Vec<String>,
    kubeconfig: PathBuf,
    ready: impl FnOnce(&[(String, String)]),
) -> anyhow::Result<()> {
    serve_until(clusters, kubeconfig, ready, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}

/// Like [`serve_command`], but serves until `shutdown` completes.
pub async fn serve_until(
    clusters: Vec<String>,
    kubeconfig: PathBuf,
    ready: impl FnOnce(&[(String, String)]),
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let clusters = if clusters.is_empty() {
        vec!["cluster1".to_string()]
    } else {
        clusters
    };
    let (fleet, urls) = start_fleet(&clusters, SimOptions::default()).await?;
    write_kubeconfig(&kubeconfig, &urls)?;
    ready(&urls);
    // Each load-balancer address, as it appears, on a local port (for a browser or curl).
    let stop = tokio_util::sync::CancellationToken::new();
    let doors = tokio::spawn(super::dataplane::frontdoor::serve(
        fleet.clone(),
        stop.clone(),
        // Never `println!`: a reader that went away (`| head`) must not stop the server.
        |e| {
            use std::io::Write as _;
            let _ = writeln!(std::io::stdout().lock(), "load balancer: {}", e.line());
        },
    ));
    shutdown.await;
    stop.cancel();
    let _ = doors.await;
    Ok(())
}

/// Starts and serves a fleet; returns it with `(name, url)` per cluster.
pub async fn start_fleet(
    clusters: &[String],
    opts: SimOptions,
) -> anyhow::Result<(SimFleet, Vec<(String, String)>)> {
    let fleet = SimFleet::new(opts);
    let mut urls = Vec::new();
    for name in clusters {
        let c = fleet.add(name);
        let addr = c
            .serve(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0))
            .await
            .with_context(|| format!("cannot listen for simulated cluster `{name}`"))?;
        urls.push((name.clone(), format!("http://{addr}")));
    }
    Ok((fleet, urls))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serve_until_writes_a_kubeconfig_and_answers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kc");
        let (tx, rx) = tokio::sync::oneshot::channel::<Vec<(String, String)>>();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_until(
            vec!["a".into(), "b".into()],
            path.clone(),
            move |urls| {
                let _ = tx.send(urls.to_vec());
            },
            async move {
                let _ = stop_rx.await;
            },
        ));
        let urls = rx.await.unwrap();
        assert_eq!(
            urls.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            vec!["a", "b"]
        );
        let kc = Kubeconfig::read_from(&path).unwrap();
        assert_eq!(kc.current_context.as_deref(), Some("a"));
        let options = kube::config::KubeConfigOptions {
            context: Some("b".into()),
            ..Default::default()
        };
        let config = kube::Config::from_custom_kubeconfig(kc, &options)
            .await
            .unwrap();
        let client = kube::Client::try_from(config).unwrap();
        assert_eq!(client.apiserver_version().await.unwrap().minor, "32");
        stop_tx.send(()).unwrap();
        server.await.unwrap().unwrap();
    }

    #[test]
    fn kubeconfig_marks_contexts_simulated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        write_kubeconfig(
            &path,
            &[
                ("c1".into(), "http://127.0.0.1:1".into()),
                ("c2".into(), "http://127.0.0.1:2".into()),
            ],
        )
        .unwrap();
        write_kubeconfig(&path, &[("c2".into(), "http://127.0.0.1:3".into())]).unwrap();
        let kc = Kubeconfig::read_from(&path).unwrap();
        assert_eq!(kc.contexts.len(), 2);
        assert_eq!(
            kubeconfig_context_is_simulated(&kc, "c2").as_deref(),
            Some("c2")
        );
        assert_eq!(kubeconfig_context_is_simulated(&kc, "nope"), None);
        let c2 = kc.clusters.iter().find(|c| c.name == "c2").unwrap();
        assert_eq!(
            c2.cluster.as_ref().unwrap().server.as_deref(),
            Some("http://127.0.0.1:3")
        );
    }
}
