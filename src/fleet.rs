//! The clusters of one run: real ones reached through kubeconfig contexts, or simulated ones
//! started in this process and served on 127.0.0.1 (so exec and port-forward work as on a
//! real cluster). Either way every operation goes through an ordinary `kube::Client`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, RwLock};

use crate::k8s::{self, Cluster, ClusterSet, K8sError, PortForward};
use crate::problem::Problem;
use crate::sim::{SimFleet, SimOptions};

/// One logical cluster of the run.
#[derive(Clone, Debug)]
pub struct Member {
    pub cluster: Cluster,
    /// Served by a simulator (in-process, or a `meshbook sim serve` context): no data plane,
    /// external tools are simulated, traffic checks are skipped.
    pub simulated: bool,
}

impl Member {
    pub fn name(&self) -> &str {
        self.cluster.name()
    }
}

/// The clusters of a run.
pub struct Fleet {
    members: RwLock<Vec<Member>>,
    /// Simulated clusters started by this process (for `--sim` runs and `vcluster create`).
    sim: Mutex<Option<SimFleet>>,
    /// Port-forwards kept open, with the logical cluster they lead into when it is simulated.
    port_forwards: Mutex<Vec<(PortForward, Option<String>)>>,
    /// Round-robin turns of the simulated data plane for this run's requests.
    balancer: crate::sim::dataplane::Balancer,
    /// The objects of the `sim serve` clusters last read, with each cluster's resourceVersion
    /// then: read again only when one changed.
    #[allow(clippy::type_complexity)]
    served_world: Mutex<
        Option<(
            Vec<(String, String)>,
            Vec<crate::sim::dataplane::ClusterView>,
        )>,
    >,
    /// Manifests fetched by URL, once per run.
    pub url_cache: Mutex<HashMap<String, String>>,
    /// What each simulated helm release applied, for a simulated `helm uninstall`.
    pub releases: Mutex<crate::tools::ReleaseBook>,
    sim_rules: std::sync::OnceLock<Result<crate::tools::SimToolRules, Problem>>,
}

/// Reaction delay of the simulated controllers in a run: long enough that every wait really
/// waits (objects appear after the wait has started), short enough that a rehearsal of a whole
/// walkthrough takes a fraction of a second. `meshbook sim serve` keeps the simulator's own,
/// slower defaults, closer to what a person watching with kubectl expects.
pub const RUN_REACTION_DELAY: std::time::Duration = std::time::Duration::from_millis(5);
/// Delay before a LoadBalancer Service of a run's simulated cluster gets its address.
pub const RUN_LB_DELAY: std::time::Duration = std::time::Duration::from_millis(10);

/// Controller timing of simulated clusters: `MESHBOOK_SIM_DELAY_MS` (reaction delay) and
/// `MESHBOOK_SIM_LB_DELAY_MS` (load-balancer address delay) override the defaults.
pub fn sim_options() -> SimOptions {
    let ms = |var: &str| {
        std::env::var(var)
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .map(std::time::Duration::from_millis)
    };
    let mut opts = SimOptions {
        reaction_delay: RUN_REACTION_DELAY,
        lb_delay: RUN_LB_DELAY,
        ..SimOptions::default()
    };
    if let Some(d) = ms("MESHBOOK_SIM_DELAY_MS") {
        opts.reaction_delay = d;
    }
    if let Some(d) = ms("MESHBOOK_SIM_LB_DELAY_MS") {
        opts.lb_delay = d;
    }
    opts
}

/// Connects a kube client to a simulated cluster served on a local socket.
async fn serve_and_connect(sim: &crate::sim::SimCluster) -> Result<Cluster, K8sError> {
    let addr = sim.serve_local().await.map_err(|e| {
        K8sError::Invalid(format!(
            "cannot serve simulated cluster `{}`: {e}",
            sim.name()
        ))
    })?;
    let url = format!("http://{addr}");
    let config = kube::Config::new(
        url.parse()
            .map_err(|e| K8sError::Invalid(format!("bad simulated cluster URL {url}: {e}")))?,
    );
    let client = kube::Client::try_from(config).map_err(|e| {
        K8sError::Invalid(format!(
            "cannot build a client for simulated cluster `{}`: {e}",
            sim.name()
        ))
    })?;
    let cluster = Cluster::new(sim.name(), None, url, client);
    cluster.probe().await.map_err(|e| {
        K8sError::Invalid(format!(
            "simulated cluster `{}` does not answer: {e}",
            sim.name()
        ))
    })?;
    Ok(cluster)
}

impl Fleet {
    fn from_members(members: Vec<Member>, sim: Option<SimFleet>) -> Fleet {
        Fleet {
            members: RwLock::new(members),
            sim: Mutex::new(sim),
            port_forwards: Mutex::new(Vec::new()),
            balancer: crate::sim::dataplane::Balancer::default(),
            served_world: Mutex::new(None),
            url_cache: Mutex::new(HashMap::new()),
            releases: Mutex::new(crate::tools::ReleaseBook::default()),
            sim_rules: std::sync::OnceLock::new(),
        }
    }

    /// The simulated tool rules (`stdlib/sim/tools`), loaded once.
    pub fn sim_rules(&self) -> Result<&crate::tools::SimToolRules, Problem> {
        self.sim_rules
            .get_or_init(|| {
                crate::tools::SimToolRules::load().map_err(|e| Problem::new(e.to_string()))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The context a tool gets for a member: its kube context, or its name when it is an
    /// in-process simulated cluster.
    pub fn tool_cluster(m: &Member) -> crate::tools::ToolCluster {
        crate::tools::ToolCluster::new(m.name(), m.cluster.context().unwrap_or(m.name()))
    }

    /// No clusters (runbooks that declare none).
    pub fn empty() -> Fleet {
        Fleet::from_members(Vec::new(), None)
    }

    /// Starts one simulated cluster per name, in milliseconds.
    pub async fn simulated(names: &[String]) -> Result<Fleet, K8sError> {
        let fleet = SimFleet::new(sim_options());
        let mut members = Vec::new();
        for name in names {
            let sim = fleet.add(name);
            members.push(Member {
                cluster: serve_and_connect(&sim).await?,
                simulated: true,
            });
        }
        Ok(Fleet::from_members(members, Some(fleet)))
    }

    /// Connects to every mapped context in parallel (each must answer `/version`). Contexts
    /// written by `meshbook sim serve` are recognised as simulated.
    pub async fn real(map: &[(String, String)]) -> Result<Fleet, K8sError> {
        let kubeconfig_var = std::env::var_os("KUBECONFIG");
        let kubeconfig = k8s::load_kubeconfig(kubeconfig_var.as_deref())?;
        let wanted: Vec<k8s::Wanted> = map
            .iter()
            .map(|(name, ctx)| k8s::Wanted {
                name: name.clone(),
                context: Some(ctx.clone()),
                env_var: None,
            })
            .collect();
        // Checks that every context exists before any request is sent.
        k8s::resolve_contexts(&wanted, || Ok(kubeconfig.clone()))?;
        let set = k8s::connect_all(map, &kubeconfig).await?;
        let members = set
            .iter()
            .map(|c| Member {
                simulated: c.context().is_some_and(|ctx| {
                    crate::sim::kubeconfig_context_is_simulated(&kubeconfig, ctx).is_some()
                }),
                cluster: c.clone(),
            })
            .collect();
        Ok(Fleet::from_members(members, None))
    }

    pub fn get(&self, name: &str) -> Option<Member> {
        self.members
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|m| m.name() == name)
            .cloned()
    }

    pub fn members(&self) -> Vec<Member> {
        self.members
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn names(&self) -> Vec<String> {
        self.members()
            .iter()
            .map(|m| m.name().to_string())
            .collect()
    }

    /// A `ClusterSet` of every member (for the failure bundle).
    pub fn cluster_set(&self) -> ClusterSet {
        ClusterSet::new(self.members().into_iter().map(|m| m.cluster).collect())
    }

    /// Adds a simulated cluster at run time (`vcluster create` on simulated clusters).
    pub async fn add_simulated(&self, name: &str) -> Result<Member, K8sError> {
        if let Some(m) = self.get(name) {
            return Ok(m);
        }
        let sim = {
            let mut guard = self.sim.lock().unwrap_or_else(|e| e.into_inner());
            guard
                .get_or_insert_with(|| SimFleet::new(SimOptions::default()))
                .add(name)
        };
        let member = Member {
            cluster: serve_and_connect(&sim).await?,
            simulated: true,
        };
        self.members
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(member.clone());
        Ok(member)
    }

    /// Adds a cluster the runbook created (`add_cluster`, `vcluster_connect`); an existing
    /// member of the same name is kept and returned.
    pub fn add_member(&self, member: Member) -> Member {
        let mut members = self.members.write().unwrap_or_else(|e| e.into_inner());
        if let Some(m) = members.iter().find(|m| m.name() == member.name()) {
            return m.clone();
        }
        members.push(member.clone());
        member
    }

    /// Snapshots of the simulated clusters started by this process, by name (empty when
    /// there are none: real clusters and `sim serve` contexts are never snapshotted).
    pub fn sim_snapshot(&self) -> std::collections::BTreeMap<String, crate::sim::ClusterSnapshot> {
        let guard = self.sim.lock().unwrap_or_else(|e| e.into_inner());
        let Some(sim) = guard.as_ref() else {
            return Default::default();
        };
        sim.names()
            .into_iter()
            .filter_map(|n| sim.get(&n).map(|c| (n, c.state().snapshot())))
            .collect()
    }

    /// Puts simulated clusters of this process back as snapshots found them; a snapshotted
    /// cluster the run has not started yet (a vCluster) is started first.
    pub async fn sim_restore(
        &self,
        snaps: &std::collections::BTreeMap<String, crate::sim::ClusterSnapshot>,
    ) -> Result<(), K8sError> {
        for (name, snap) in snaps {
            if self.get(name).is_none() {
                self.add_simulated(name).await?;
            }
            let cluster = {
                let guard = self.sim.lock().unwrap_or_else(|e| e.into_inner());
                guard.as_ref().and_then(|s| s.get(name))
            };
            if let Some(c) = cluster {
                c.state().restore(snap);
            }
        }
        Ok(())
    }

    /// Keeps a port-forward open until the run ends; remembers the simulated cluster it
    /// leads into, if any (then traffic through it is answered by the simulated data plane).
    pub fn keep_port_forward(
        &self,
        pf: PortForward,
        simulated_cluster: Option<&str>,
    ) -> SocketAddr {
        let addr = pf.addr();
        self.port_forwards
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((pf, simulated_cluster.map(String::from)));
        addr
    }

    /// The snapshot of every simulated cluster of the run, for the simulated data plane:
    /// in-process clusters are read from their stores, `sim serve` clusters through their API.
    async fn data_plane_world(&self) -> Result<crate::sim::dataplane::World, Problem> {
        use crate::sim::dataplane::{ClusterView, World};
        let sim = self.sim.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut views = Vec::new();
        let mut served = Vec::new();
        for m in self.members().into_iter().filter(|m| m.simulated) {
            match sim.as_ref().and_then(|f| f.get(m.name())) {
                Some(c) => {
                    views.extend(World::of_clusters(std::slice::from_ref(c.state())).clusters)
                }
                None => served.push(m),
            }
        }
        if served.is_empty() {
            return Ok(World::new(views));
        }
        // `sim serve` clusters: read again only when one changed since the last answer (one
        // round trip each tells), then every list of every cluster at once.
        let versions =
            futures::future::join_all(served.iter().map(|m| current_resource_version(&m.cluster)))
                .await;
        let versions: Vec<(String, String)> = served
            .iter()
            .zip(versions)
            .map(|(m, v)| (m.name().to_string(), v.unwrap_or_default()))
            .collect();
        let cached = self
            .served_world
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .filter(|(seen, _)| versions.iter().all(|(_, v)| !v.is_empty()) && *seen == versions);
        let served_views = match cached {
            Some((_, views)) => views,
            None => {
                let read = served.iter().map(|m| async move {
                    read_cluster_objects(&m.cluster)
                        .await
                        .map(|objects| ClusterView::new(m.name(), objects))
                });
                let mut fresh = Vec::new();
                for view in futures::future::join_all(read).await {
                    fresh.push(view?);
                }
                *self.served_world.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some((versions, fresh.clone()));
                fresh
            }
        };
        views.extend(served_views);
        Ok(World::new(views))
    }

    /// Answers a request to a simulated target from the simulated data plane.
    async fn answer_simulated(
        &self,
        url: &str,
        opts: &crate::http::RequestOptions,
    ) -> crate::http::Response {
        use crate::sim::dataplane::{self, Models, Origin, Request};
        let mut req = match Request::new(opts.method.as_str(), url) {
            Ok(r) => r,
            Err(e) => {
                return crate::http::Response::failed(e.to_string(), std::time::Duration::ZERO)
            }
        };
        req.headers = opts
            .headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect();
        req.body = opts.body.clone();
        if let Some(r) = opts
            .resolve
            .iter()
            .find(|r| r.host.eq_ignore_ascii_case(&req.host) && r.port == req.port)
        {
            req.connect_to = r.addrs.first().map(|a| a.to_string());
        }
        let authority = format!("{}:{}", req.host, req.port);
        let origin = authority
            .parse::<SocketAddr>()
            .ok()
            .and_then(|addr| {
                self.port_forwards
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .iter()
                    .find(|(pf, c)| c.is_some() && pf.addr() == addr)
                    .map(|(pf, c)| Origin::PodPort {
                        cluster: c.clone().unwrap_or_default(),
                        namespace: pf.namespace().to_string(),
                        pod: pf.pod().to_string(),
                        port: pf.remote_port(),
                    })
            })
            .unwrap_or(Origin::Outside);
        let world = match self.data_plane_world().await {
            Ok(world) => world,
            // Not an answer, not a skip: the check retries, and fails with this if it lasts.
            Err(e) => {
                return crate::http::Response {
                    simulated: true,
                    ..crate::http::Response::failed(
                        format!("could not read the simulated clusters' objects: {e}"),
                        std::time::Duration::ZERO,
                    )
                }
            }
        };
        let answer = dataplane::answer(&world, Models::bundled(), &self.balancer, &origin, &req);
        simulated_response(answer, opts.timeout)
    }

    /// Whether an HTTP target (a host, or `host:port`) belongs to a simulated cluster: an
    /// address of the simulated LoadBalancer pool, or a port-forward into a simulated pod.
    pub fn is_simulated_target(&self, target: &str) -> bool {
        let host = target.trim_start_matches('[');
        let host_only = host.split([']', '/']).next().unwrap_or(host);
        let ip_text = match host_only.rsplit_once(':') {
            Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !h.contains(':') => h,
            _ => host_only,
        };
        if let Ok(ip) = ip_text.parse::<std::net::IpAddr>() {
            if crate::sim::is_simulated_address(&ip) {
                return true;
            }
        }
        if let Ok(addr) = target.parse::<SocketAddr>() {
            return self
                .port_forwards
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .any(|(pf, sim)| sim.is_some() && pf.addr() == addr);
        }
        false
    }
}

impl crate::tools::SimWorld for Fleet {
    fn clusters(&self) -> Vec<crate::tools::ToolCluster> {
        self.members()
            .iter()
            .filter(|m| m.simulated)
            .map(Fleet::tool_cluster)
            .collect()
    }

    fn get<'a>(
        &'a self,
        key: &'a crate::tools::ObjectKey,
    ) -> futures::future::BoxFuture<'a, Option<serde_json::Value>> {
        Box::pin(async move {
            let member = self.get(&key.cluster)?;
            let kind = match key.api_version.rsplit_once('/') {
                Some((group, _)) => format!("{}.{group}", key.kind),
                None => key.kind.clone(),
            };
            member
                .cluster
                .get(&kind, &key.name, key.namespace.as_deref())
                .await
                .ok()
                .flatten()
        })
    }

    fn list<'a>(
        &'a self,
        key: &'a crate::tools::ObjectKey,
    ) -> futures::future::BoxFuture<'a, Vec<serde_json::Value>> {
        Box::pin(async move {
            let Some(member) = self.get(&key.cluster) else {
                return Vec::new();
            };
            let kind = match key.api_version.rsplit_once('/') {
                Some((group, _)) => format!("{}.{group}", key.kind),
                None => key.kind.clone(),
            };
            member
                .cluster
                .list(&kind, key.namespace.as_deref(), None)
                .await
                .unwrap_or_default()
        })
    }
}

impl crate::http::SimulatedTargets for Fleet {
    fn is_simulated(&self, target: &str) -> bool {
        self.is_simulated_target(target)
    }

    fn answer<'a>(
        &'a self,
        url: &'a str,
        opts: &'a crate::http::RequestOptions,
    ) -> futures::future::BoxFuture<'a, crate::http::Response> {
        Box::pin(self.answer_simulated(url, opts))
    }
}

/// The cluster's current resourceVersion: the version of a one-item list, which the API server
/// sets to its latest revision (any write to any object moves it).
async fn current_resource_version(cluster: &Cluster) -> Option<String> {
    use k8s_openapi::api::core::v1::Namespace;
    let api: kube::Api<Namespace> = kube::Api::all(cluster.client().clone());
    let list = api
        .list_metadata(&kube::api::ListParams::default().limit(1))
        .await
        .ok()?;
    list.metadata.resource_version.filter(|v| !v.is_empty())
}

/// The objects of one cluster that the simulated data plane reads, through its API (every
/// kind the cluster serves, listed concurrently).
async fn read_cluster_objects(cluster: &Cluster) -> Result<Vec<serde_json::Value>, Problem> {
    let catalog = cluster
        .catalog()
        .await
        .map_err(|e| format!("{}: {e}", cluster.name()))?;
    let kinds: Vec<String> = crate::sim::dataplane::KINDS
        .iter()
        .map(|(group, plural, _)| {
            if group.is_empty() {
                (*plural).to_string()
            } else {
                format!("{plural}.{group}")
            }
        })
        .filter(|kind| catalog.resolve(kind).is_some())
        .collect();
    let lists = futures::future::join_all(kinds.iter().map(|k| cluster.list(k, None, None))).await;
    let mut objects = Vec::new();
    for list in lists {
        objects.extend(list.map_err(|e| format!("{}: {e}", cluster.name()))?);
    }
    Ok(objects)
}

/// A simulated answer as an HTTP response: virtual time as `elapsed_ms`, the client's timeout
/// applied, the trace kept, and an unmodelled answer marked to be skipped.
fn simulated_response(
    answer: crate::sim::dataplane::Answer,
    timeout: std::time::Duration,
) -> crate::http::Response {
    use crate::sim::dataplane::Outcome;
    let mut r = crate::http::Response {
        simulated: true,
        trace: answer.trace,
        elapsed_ms: u64::try_from(answer.elapsed.as_millis()).unwrap_or(u64::MAX),
        ..crate::http::Response::default()
    };
    if !timeout.is_zero() && answer.elapsed > timeout {
        r.elapsed_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        r.error = Some(format!(
            "timed out after {} (simulated)",
            crate::http::format_duration(timeout)
        ));
        return r;
    }
    match answer.outcome {
        Outcome::Reply(reply) => {
            r.status = reply.status;
            r.headers = reply.headers;
            r.body = reply.body;
        }
        Outcome::Failed { message, .. } => r.error = Some(message),
        Outcome::Unmodelled(why) => r.skipped = Some(why),
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_addresses_are_simulated_targets() {
        let f = Fleet::empty();
        assert!(f.is_simulated_target("198.51.100.7"));
        assert!(f.is_simulated_target("198.51.100.7:80"));
        assert!(!f.is_simulated_target("127.0.0.1:8080"));
        assert!(!f.is_simulated_target("example.com"));
    }

    #[tokio::test]
    async fn simulated_fleets_start_and_answer() {
        let f = Fleet::simulated(&["c1".into(), "c2".into()]).await.unwrap();
        assert_eq!(f.names(), vec!["c1", "c2"]);
        let c1 = f.get("c1").unwrap();
        assert!(c1.simulated);
        assert!(c1
            .cluster
            .get("namespace", "default", None)
            .await
            .unwrap()
            .is_some());
        let added = f.add_simulated("vc1").await.unwrap();
        assert!(added.simulated && f.get("vc1").is_some());
    }
}
