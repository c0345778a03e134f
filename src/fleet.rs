//! The clusters of one run: real ones reached through kubeconfig contexts, or simulated ones
//! started in this process and served on 127.0.0.1 (so exec and port-forward work as on a
//! real cluster). Either way every operation goes through an ordinary `kube::Client`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, RwLock};

use crate::k8s::{self, Cluster, ClusterSet, K8sError, PortForward};
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
    port_forwards: Mutex<Vec<(PortForward, bool)>>,
    /// Manifests fetched by URL, once per run.
    pub url_cache: Mutex<HashMap<String, String>>,
    /// What each simulated helm release applied, for a simulated `helm uninstall`.
    pub releases: Mutex<crate::tools::ReleaseBook>,
    sim_rules: std::sync::OnceLock<Result<crate::tools::SimToolRules, String>>,
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
            url_cache: Mutex::new(HashMap::new()),
            releases: Mutex::new(crate::tools::ReleaseBook::default()),
            sim_rules: std::sync::OnceLock::new(),
        }
    }

    /// The simulated tool rules (`stdlib/sim/tools`), loaded once.
    pub fn sim_rules(&self) -> Result<&crate::tools::SimToolRules, String> {
        self.sim_rules
            .get_or_init(|| crate::tools::SimToolRules::load().map_err(|e| e.to_string()))
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

    /// Keeps a port-forward open until the run ends; remembers whether it leads into a
    /// simulated cluster (then traffic through it is not sent).
    pub fn keep_port_forward(&self, pf: PortForward, simulated: bool) -> SocketAddr {
        let addr = pf.addr();
        self.port_forwards
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((pf, simulated));
        addr
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
                .any(|(pf, sim)| *sim && pf.addr() == addr);
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
}

impl crate::http::SimulatedTargets for Fleet {
    fn is_simulated(&self, target: &str) -> bool {
        self.is_simulated_target(target)
    }
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
