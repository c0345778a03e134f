//! The front door of `meshbook sim serve`: each simulated load-balancer address (a Service's
//! or an Ingress's) is served on a local port, so that a browser or a plain `curl` reaches the
//! simulated data plane as it would reach the real load balancer. Answers carry
//! `x-meshbook-simulated: true` and the trace, one `x-meshbook-trace` header per hop.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request as AxumRequest;
use axum::response::Response;
use serde_json::Value;

use super::{answer, Balancer, Models, Origin, Outcome, Request, World};
use crate::sim::SimFleet;

/// One load-balancer address and port, served locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposed {
    pub cluster: String,
    /// `Service ns/name` or `Ingress ns/name`.
    pub owner: String,
    pub address: String,
    pub port: u16,
    pub local: SocketAddr,
}

impl Exposed {
    /// `cluster1 Service istio-system/ingress-istio  http://198.51.100.1:80 -> http://127.0.0.1:41235`
    pub fn line(&self) -> String {
        let scheme = if self.port == 443 { "https" } else { "http" };
        format!(
            "{} {}  {scheme}://{}:{} -> http://{} (simulated data plane)",
            self.cluster, self.owner, self.address, self.port, self.local
        )
    }
}

/// Every load-balancer `(cluster, owner, address, port)` of a world.
pub fn load_balancers(world: &World) -> Vec<(String, String, String, u16)> {
    let mut out = Vec::new();
    for c in &world.clusters {
        for s in c.all("", "Service") {
            for ip in lb_ips(&s["status"]["loadBalancer"]["ingress"]) {
                for p in s["spec"]["ports"].as_array().into_iter().flatten() {
                    if let Some(port) = p["port"].as_u64().and_then(|p| u16::try_from(p).ok()) {
                        out.push((c.name.clone(), owner("Service", s), ip.clone(), port));
                    }
                }
            }
        }
        for i in c.all("networking.k8s.io", "Ingress") {
            for ip in lb_ips(&i["status"]["loadBalancer"]["ingress"]) {
                for port in [80, 443] {
                    out.push((c.name.clone(), owner("Ingress", i), ip.clone(), port));
                }
            }
        }
    }
    out
}

fn owner(kind: &str, o: &Value) -> String {
    format!(
        "{kind} {}/{}",
        super::world::namespace(o),
        super::world::name(o)
    )
}

fn lb_ips(ingress: &Value) -> Vec<String> {
    ingress
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["ip"].as_str().map(String::from))
        .collect()
}

/// Serves every load-balancer address of `fleet` on a local port until `stop`, calling
/// `exposed` for each new one. New addresses are picked up as they appear.
pub async fn serve(
    fleet: SimFleet,
    stop: tokio_util::sync::CancellationToken,
    exposed: impl Fn(&Exposed) + Send + 'static,
) {
    let balancer = Arc::new(Balancer::default());
    let mut served: BTreeMap<(String, u16), SocketAddr> = BTreeMap::new();
    loop {
        let world = world_of(&fleet);
        for (cluster, owner, address, port) in load_balancers(&world) {
            if served.contains_key(&(address.clone(), port)) {
                continue;
            }
            let Ok(listener) =
                tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await
            else {
                continue;
            };
            let Ok(local) = listener.local_addr() else {
                continue;
            };
            served.insert((address.clone(), port), local);
            let app = door(fleet.clone(), balancer.clone(), address.clone(), port);
            let stop = stop.clone();
            tokio::spawn(async move {
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(stop.cancelled_owned())
                    .await;
            });
            exposed(&Exposed {
                cluster,
                owner,
                address,
                port,
                local,
            });
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

fn world_of(fleet: &SimFleet) -> World {
    let clusters: Vec<Arc<crate::sim::Cluster>> = fleet
        .names()
        .iter()
        .filter_map(|n| fleet.get(n))
        .map(|c| c.state().clone())
        .collect();
    World::of_clusters(&clusters)
}

fn door(fleet: SimFleet, balancer: Arc<Balancer>, address: String, port: u16) -> axum::Router {
    axum::Router::new().fallback(move |req: AxumRequest| {
        let (fleet, balancer, address) = (fleet.clone(), balancer.clone(), address.clone());
        async move { answer_http(&fleet, &balancer, &address, port, req).await }
    })
}

async fn answer_http(
    fleet: &SimFleet,
    balancer: &Balancer,
    address: &str,
    port: u16,
    req: AxumRequest,
) -> Response {
    let scheme = if port == 443 { "https" } else { "http" };
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let url = format!("{scheme}://{address}:{port}{path}");
    let mut request = match Request::new(req.method().as_str(), &url) {
        Ok(r) => r,
        Err(e) => return plain(400, &e.to_string(), &[]),
    };
    for (k, v) in req.headers() {
        let name = k.as_str().to_ascii_lowercase();
        let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
        // A browser names the local port; the load balancer would have seen its own address.
        if name == "host" && value.starts_with("127.0.0.1") {
            continue;
        }
        request.headers.push((name, value));
    }
    if let Ok(bytes) = axum::body::to_bytes(req.into_body(), 1 << 20).await {
        if !bytes.is_empty() {
            request.body = Some(String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    let world = world_of(fleet);
    let a = answer(
        &world,
        Models::bundled(),
        balancer,
        &Origin::Outside,
        &request,
    );
    let trace: Vec<(String, String)> = a
        .trace
        .iter()
        .map(|l| ("x-meshbook-trace".to_string(), ascii(l)))
        .collect();
    match a.outcome {
        Outcome::Reply(r) => {
            let mut b = Response::builder().status(r.status);
            for (k, v) in r.headers.iter().chain(&trace) {
                b = b.header(k.as_str(), v.as_str());
            }
            b.header("x-meshbook-simulated", "true")
                .header("x-meshbook-elapsed-ms", a.elapsed.as_millis().to_string())
                .body(Body::from(r.body))
                .unwrap_or_else(|_| plain(500, "bad simulated response", &[]))
        }
        Outcome::Failed { message, .. } => plain(
            502,
            &format!("simulated data plane: the request failed: {message}\n"),
            &trace,
        ),
        Outcome::Unmodelled(why) => plain(
            501,
            &format!("simulated data plane: cannot answer: {why}\n"),
            &trace,
        ),
    }
}

fn ascii(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .collect()
}

fn plain(status: u16, text: &str, headers: &[(String, String)]) -> Response {
    let mut b = Response::builder()
        .status(status)
        .header("content-type", "text/plain; charset=utf-8")
        .header("x-meshbook-simulated", "true");
    for (k, v) in headers {
        b = b.header(k.as_str(), v.as_str());
    }
    b.body(Body::from(text.to_string()))
        .unwrap_or_else(|_| Response::new(Body::from(text.to_string())))
}
