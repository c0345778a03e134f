//! Port-forwards: a local `127.0.0.1:port` that tunnels each connection to a pod's port.

use std::net::SocketAddr;

use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::clusters::Cluster;
use super::error::{K8sError, Result};

/// A running port-forward; it stops when dropped.
#[derive(Debug)]
pub struct PortForward {
    addr: SocketAddr,
    namespace: String,
    pod: String,
    remote_port: u16,
    task: JoinHandle<()>,
}

impl PortForward {
    /// The local address (`127.0.0.1:PORT`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The pod the connections go to.
    pub fn pod(&self) -> &str {
        &self.pod
    }

    /// The pod's namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The pod's port the connections go to.
    pub fn remote_port(&self) -> u16 {
        self.remote_port
    }

    /// Stops accepting connections.
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for PortForward {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Cluster {
    /// For `svc/NAME`, the container port behind a Service port (a numeric `targetPort`), as
    /// `kubectl port-forward svc/NAME` does; other targets keep the port given.
    async fn service_target_port(&self, ns: &str, target: &str, port: u16) -> Result<u16> {
        let Ok(super::pods::Target::Service(name)) = super::pods::Target::parse(target) else {
            return Ok(port);
        };
        let Some(svc) = self.get("services", &name, Some(ns)).await? else {
            return Ok(port);
        };
        let ports = svc
            .pointer("/spec/ports")
            .and_then(serde_json::Value::as_array);
        let target_port = ports
            .into_iter()
            .flatten()
            .find(|p| p["port"].as_u64() == Some(u64::from(port)))
            .and_then(|p| p["targetPort"].as_u64())
            .and_then(|t| u16::try_from(t).ok());
        Ok(target_port.unwrap_or(port))
    }

    /// Forwards a local port to `remote_port` of the first ready pod of a target. Each local
    /// connection opens its own tunnel. Keep the returned value alive as long as needed.
    pub async fn port_forward(
        &self,
        ns: &str,
        target: &str,
        remote_port: u16,
    ) -> Result<PortForward> {
        let remote_port = self.service_target_port(ns, target, remote_port).await?;
        let pod = self.ready_pod(ns, target).await?;
        let pod_name = pod["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| K8sError::Stream {
                cluster: self.name().to_string(),
                action: "port-forward".into(),
                namespace: ns.to_string(),
                pod: pod_name.clone(),
                cause: format!("cannot listen on 127.0.0.1: {e}"),
            })?;
        let addr = listener
            .local_addr()
            .map_err(|e| K8sError::Invalid(e.to_string()))?;
        let api: Api<Pod> = Api::namespaced(self.stream_client().clone(), ns);
        let (name, cluster) = (pod_name.clone(), self.name().to_string());
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let (api, name, cluster) = (api.clone(), name.clone(), cluster.clone());
                tokio::spawn(async move {
                    if let Err(e) = tunnel(&api, &name, remote_port, conn).await {
                        tracing::debug!("port-forward to {name}:{remote_port} on {cluster}: {e}");
                    }
                });
            }
        });
        Ok(PortForward {
            addr,
            namespace: ns.to_string(),
            pod: pod_name,
            remote_port,
            task,
        })
    }
}

async fn tunnel(
    api: &Api<Pod>,
    pod: &str,
    port: u16,
    mut conn: TcpStream,
) -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut pf = api.portforward(pod, &[port]).await?;
    let mut upstream = pf.take_stream(port).ok_or("no stream for the port")?;
    tokio::io::copy_bidirectional(&mut conn, &mut upstream).await?;
    drop(upstream);
    Ok(pf.join().await?)
}
