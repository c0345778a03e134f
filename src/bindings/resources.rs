//! Resources on a cluster: apply (inline, file, URL), delete, get, list, label, annotate,
//! scale, set_env, namespaces and secrets.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use rhai::{Array, Dynamic, Engine, Map};

use super::cluster::{block, ns_arg};
use super::convert::{fail, from_json, string_map, Opts, RhaiResult};
use super::{optional_last, Def};
use crate::fleet::Member;
use crate::k8s::{Applied, ApplyOptions, ApplyOutcome};
use crate::report::Event;
use crate::session::Session;

const APPLY_OPTS: &[&str] = &["namespace", "selector", "vars", "dry_run"];

/// Renders (when `vars` is given) and applies manifest text, emitting one event per object.
pub fn apply_text(
    s: &Session,
    m: &Member,
    text: &str,
    opts: Option<&Map>,
    what: &str,
) -> RhaiResult<Array> {
    let o = Opts::new(opts, what);
    o.only(APPLY_OPTS)?;
    let text = match o.json("vars")? {
        Some(vars) => {
            crate::template::render(text, &vars).map_err(|e| fail(format!("{what}: {e}")))?
        }
        None => text.to_string(),
    };
    let ao = ApplyOptions {
        namespace: o.string("namespace")?,
        selector: o.string("selector")?,
        dry_run: o.bool("dry_run")?.unwrap_or(false) || s.dry_run,
    };
    let applied: Vec<Applied> = match block(s, m.cluster.apply(&text, &ao)) {
        // A dry run creates no namespace and no CRD, so objects bound for a namespace, or of a
        // kind, that the run would create cannot be validated by the server: they are listed
        // as they would be created, and said to be unvalidated.
        Err(e) if s.dry_run && needs_earlier_writes(&e) => {
            let objects = unvalidated(&text, ao.namespace.as_deref());
            s.emit(Event::Notice {
                text: format!(
                    "dry run: {} object(s) not validated by {} (their namespace or kind would be made earlier in this run): {}",
                    objects.len(),
                    m.name(),
                    crate::bindings::convert::message_of(&e)
                ),
            });
            objects
        }
        other => other?,
    };
    if s.dry_run {
        let mut st = s.state();
        st.diffs
            .extend(applied.iter().filter_map(|a| a.diff.clone()));
    }
    Ok(applied
        .into_iter()
        .map(|a| {
            if let Some(ns) = &a.namespace {
                s.touch_namespace(m.name(), ns);
            } else if a.kind == "Namespace" {
                s.touch_namespace(m.name(), &a.name);
            }
            s.emit(crate::toolrun::applied_event(m.name(), &a, ao.dry_run));
            let mut map = Map::new();
            map.insert("kind".into(), a.kind.into());
            map.insert(
                "namespace".into(),
                a.namespace.map(Dynamic::from).unwrap_or(Dynamic::UNIT),
            );
            map.insert("name".into(), a.name.into());
            map.insert("outcome".into(), a.outcome.to_string().into());
            Dynamic::from_map(map)
        })
        .collect())
}

/// Whether an apply was refused because its namespace or its kind does not exist yet (a 404
/// on a server-side apply is its namespace: an apply creates the object itself).
fn needs_earlier_writes(e: &rhai::EvalAltResult) -> bool {
    use crate::k8s::K8sError;
    let Some(err) = super::convert::script_error(e) else {
        return false;
    };
    match err.cause::<K8sError>() {
        Some(K8sError::UnknownKind { .. } | K8sError::MisspeltKind { .. }) => true,
        Some(K8sError::Api { source, .. }) => {
            matches!(&**source, kube::Error::Api(s) if s.code == 404)
        }
        _ => false,
    }
}

/// A read for a binding. On a dry run, a kind nothing serves yet (its CRD would be applied
/// earlier in the run) has no objects: the read finds none instead of failing.
pub(crate) fn read<T: Default>(
    s: &Session,
    fut: impl std::future::Future<Output = Result<T, crate::k8s::K8sError>>,
) -> RhaiResult<T> {
    match super::convert::interruptible(s, fut)? {
        Err(crate::k8s::K8sError::UnknownKind { .. }) if s.dry_run => Ok(T::default()),
        other => other.map_err(super::cluster::k8s_err),
    }
}

/// The objects of a manifest, as a dry run lists those it could not send to the server.
fn unvalidated(text: &str, namespace: Option<&str>) -> Vec<Applied> {
    crate::k8s::manifest::parse(text)
        .unwrap_or_default()
        .into_iter()
        .map(|d| Applied {
            kind: d.kind().to_string(),
            api_version: d.api_version().to_string(),
            namespace: d
                .object
                .pointer("/metadata/namespace")
                .and_then(|v| v.as_str())
                .map(String::from)
                .or_else(|| namespace.map(String::from)),
            name: d.name().to_string(),
            outcome: ApplyOutcome::Created,
            diff: crate::k8s::diff::unified(
                &format!(
                    "{} (not validated)",
                    crate::k8s::object_ref(
                        d.kind(),
                        d.object
                            .pointer("/metadata/namespace")
                            .and_then(|v| v.as_str())
                            .or(namespace),
                        d.name()
                    )
                ),
                None,
                &d.object,
            ),
        })
        .collect()
}

fn delete_text(
    s: &Session,
    m: &Member,
    text: &str,
    opts: Option<&Map>,
    what: &str,
) -> RhaiResult<Array> {
    let o = Opts::new(opts, what);
    o.only(&["namespace", "vars"])?;
    let text = match o.json("vars")? {
        Some(vars) => {
            crate::template::render(text, &vars).map_err(|e| fail(format!("{what}: {e}")))?
        }
        None => text.to_string(),
    };
    let ns = o.string("namespace")?;
    if s.would(m.name(), "delete the objects of a manifest") {
        return Ok(Array::new());
    }
    let deleted = block(s, m.cluster.delete_yaml(&text, ns.as_deref()))?;
    Ok(deleted
        .into_iter()
        .map(|d| {
            s.emit(Event::Deleted {
                cluster: m.name().to_string(),
                kind: d.kind.clone(),
                namespace: d.namespace.clone(),
                name: d.name.clone(),
                existed: d.existed,
            });
            Dynamic::from(d.existed)
        })
        .collect())
}

fn fetch_url(s: &Session, m: &Member, url: &str) -> RhaiResult<String> {
    s.block_on(crate::manifests::fetch(
        url,
        m.simulated,
        &s.fleet.url_cache,
    ))
    .map_err(fail)
}

fn operation(s: &Session, m: &Member, verb: &str, target: String, start: Instant) {
    s.emit(Event::Operation {
        cluster: m.name().to_string(),
        verb: verb.to_string(),
        target,
        duration_ms: start.elapsed().as_millis() as u64,
    });
}

fn optional_map(map: Map, what: &str) -> RhaiResult<BTreeMap<String, Option<String>>> {
    Ok(string_map(&map, what)?.into_iter().collect())
}

pub fn register(engine: &mut Engine, session: &Arc<Session>) {
    // apply: inline, file, URL; each with and without options.
    let s = session.clone();
    Def::new("resources", "apply", &["cluster: Cluster", "yaml: string", "array"])
        .doc("Server-side applies multi-document YAML (field manager `meshbook`); each object is reported created, configured or unchanged.")
        .example(r#"let c = cluster("cluster1"); c.apply(read_file("manifests/bookinfo.yaml"));"#)
        .optional("opts: map",
            "Applies YAML with options: `namespace` (default for namespaced kinds), `selector` (keep matching documents, as `kubectl apply -l`), `vars` (render Handlebars first), `dry_run`.",
            r#"let c = cluster("cluster1"); c.apply(read_file("gateway.yaml"), #{namespace: "istio-gateways", vars: #{name: "ingress"}});"#)
        .register(engine, optional_last!(move |m: &mut Member, yaml: &str; opts: Map| -> RhaiResult<Array> {
            apply_text(&s, m, yaml, opts.as_ref(), "apply")
        }));
    let s = session.clone();
    Def::new("resources", "apply_file", &["cluster: Cluster", "path: string", "array"])
        .doc("Applies a YAML file: `stdlib/...` from the stdlib, otherwise relative to the runbook.")
        .example(r#"let c = cluster("cluster1"); c.apply_file("manifests/ratings-v2.yaml");"#)
        .optional("opts: map", "Applies a YAML file with the options of `apply`.",
            r#"let c = cluster("cluster1"); c.apply_file("manifests/reviews.yaml", #{namespace: "bookinfo"});"#)
        .register(engine, optional_last!(move |m: &mut Member, path: &str; opts: Map| -> RhaiResult<Array> {
            let text = s.runbook.read_relative(path).map_err(fail)?;
            apply_text(&s, m, &text, opts.as_ref(), &format!("apply_file {path}"))
        }));
    let s = session.clone();
    Def::new("resources", "apply_url", &["cluster: Cluster", "url: string", "array"])
        .doc("Applies a manifest from a URL (fetched once per run; simulated clusters use the offline copies mapped in stdlib/sim/urls.yaml).")
        .example(r#"let c = cluster("cluster1"); c.apply_url("https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.2.1/standard-install.yaml");"#)
        .optional("opts: map",
            "Applies a manifest from a URL with the options of `apply` (e.g. `#{namespace: \"bookinfo\", selector: \"app=productpage\"}`).",
            r#"let c = cluster("cluster1"); c.apply_url("https://raw.githubusercontent.com/istio/istio/release-1.26/samples/bookinfo/platform/kube/bookinfo.yaml", #{namespace: "bookinfo", selector: "app=productpage"});"#)
        .register(engine, optional_last!(move |m: &mut Member, url: &str; opts: Map| -> RhaiResult<Array> {
            let text = fetch_url(&s, m, url)?;
            apply_text(&s, m, &text, opts.as_ref(), &format!("apply_url {url}"))
        }));

    // delete
    let s = session.clone();
    Def::new(
        "resources",
        "delete",
        &["cluster: Cluster", "kind: string", "name: string", "bool"],
    )
    .doc("Deletes a cluster-scoped object; returns whether it existed (absent is fine).")
    .example(r#"let c = cluster("cluster1"); c.delete("namespace", "bookinfo");"#)
    .register(engine, move |m: &mut Member, kind: &str, name: &str| {
        delete_one(&s, m, kind, name, "", false)
    });
    let s = session.clone();
    Def::new("resources", "delete", &["cluster: Cluster", "kind: string", "name: string", "ns: string", "bool"])
        .doc("Deletes an object; returns whether it existed (absent is fine).")
        .example(r#"let c = cluster("cluster1"); c.delete("deployment", "reviews-v1", "bookinfo");"#)
        .optional("opts: map",
            "Deletes an object; `#{wait: true}` waits until it is gone (finalizers, namespaces).",
            r#"let c = cluster("cluster1"); c.delete("pod", "ratings-v1-0", "bookinfo", #{wait: true});"#)
        .register(engine, optional_last!(move |m: &mut Member, kind: &str, name: &str, ns: &str; opts: Map| -> RhaiResult<bool> {
            let o = Opts::new(opts.as_ref(), "delete");
            o.only(&["wait"])?;
            delete_one(&s, m, kind, name, ns, o.bool("wait")?.unwrap_or(false))
        }));
    let s = session.clone();
    Def::new("resources", "delete_yaml", &["cluster: Cluster", "yaml: string", "array"])
        .doc("Deletes the objects of a manifest in reverse order; absent ones are fine.")
        .example(r#"let c = cluster("cluster1"); c.delete_yaml(read_file("gateway.yaml"));"#)
        .optional("opts: map", "Deletes the objects of a manifest; options `namespace`, `vars`.",
            r#"let c = cluster("cluster1"); c.delete_yaml(read_file("gateway.yaml"), #{namespace: "istio-gateways", vars: #{name: "ingress"}});"#)
        .register(engine, optional_last!(move |m: &mut Member, yaml: &str; opts: Map| -> RhaiResult<Array> {
            delete_text(&s, m, yaml, opts.as_ref(), "delete_yaml")
        }));
    let s = session.clone();
    Def::new(
        "resources",
        "delete_file",
        &["cluster: Cluster", "path: string", "array"],
    )
    .doc("Deletes the objects of a YAML file (stdlib/ or runbook-relative).")
    .example(r#"let c = cluster("cluster1"); c.delete_file("manifests/ratings-v2.yaml");"#)
    .register(engine, move |m: &mut Member, path: &str| {
        let text = s.runbook.read_relative(path).map_err(fail)?;
        delete_text(&s, m, &text, None, "delete_file")
    });
    let s = session.clone();
    Def::new("resources", "delete_url", &["cluster: Cluster", "url: string", "array"])
        .doc("Deletes the objects of a manifest at a URL (as `kubectl delete -f URL`).")
        .example(r#"let c = cluster("cluster1"); c.delete_url("https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.2.1/standard-install.yaml");"#)
        .optional("opts: map", "Deletes the objects of a manifest at a URL; options `namespace`.",
            r#"let c = cluster("cluster1"); c.delete_url("https://raw.githubusercontent.com/istio/istio/release-1.26/samples/bookinfo/platform/kube/bookinfo.yaml", #{namespace: "bookinfo"});"#)
        .register(engine, optional_last!(move |m: &mut Member, url: &str; opts: Map| -> RhaiResult<Array> {
            let text = fetch_url(&s, m, url)?;
            delete_text(&s, m, &text, opts.as_ref(), "delete_url")
        }));

    // read
    let s = session.clone();
    Def::new("resources", "get", &["cluster: Cluster", "kind: string", "name: string", "?"])
        .doc("Reads a cluster-scoped object as a map, or `()` when absent. Kinds as kubectl takes them (`deploy`, `gateway.gateway.networking.k8s.io`).")
        .example(r#"let c = cluster("cluster1"); if c.get("crd", "gateways.gateway.networking.k8s.io") == () { say("no Gateway API"); }"#)
        .register(engine, move |m: &mut Member, kind: &str, name: &str| -> RhaiResult<Dynamic> {
            Ok(read(&s, m.cluster.get(kind, name, None))?.map(|v| from_json(&v)).unwrap_or(Dynamic::UNIT))
        });
    let s = session.clone();
    Def::new("resources", "get", &["cluster: Cluster", "kind: string", "name: string", "ns: string", "?"])
        .doc("Reads an object as a map (`obj.status.loadBalancer.ingress[0].ip`), or `()` when absent.")
        .example(r#"let c = cluster("cluster1"); let d = c.get("deploy", "productpage-v1", "bookinfo"); say(d.status.readyReplicas);"#)
        .register(engine, move |m: &mut Member, kind: &str, name: &str, ns: &str| -> RhaiResult<Dynamic> {
            Ok(read(&s, m.cluster.get(kind, name, ns_arg(ns)))?.map(|v| from_json(&v)).unwrap_or(Dynamic::UNIT))
        });
    let s = session.clone();
    Def::new(
        "resources",
        "list",
        &["cluster: Cluster", "kind: string", "array"],
    )
    .doc("Lists objects of a kind in every namespace.")
    .example(
        r#"let c = cluster("cluster1"); for ns in c.list("namespaces") { say(ns.metadata.name); }"#,
    )
    .register(
        engine,
        move |m: &mut Member, kind: &str| -> RhaiResult<Array> {
            Ok(read(&s, m.cluster.list(kind, None, None))?
                .iter()
                .map(from_json)
                .collect())
        },
    );
    let s = session.clone();
    Def::new("resources", "list", &["cluster: Cluster", "kind: string", "ns: string", "array"])
        .doc("Lists objects of a kind in a namespace (`\"\"` for all).")
        .example(r#"let c = cluster("cluster1"); let pods = c.list("pods", "bookinfo"); say("pods: " + pods.len());"#)
        .register(engine, move |m: &mut Member, kind: &str, ns: &str| -> RhaiResult<Array> {
            Ok(read(&s, m.cluster.list(kind, ns_arg(ns), None))?.iter().map(from_json).collect())
        });
    let s = session.clone();
    Def::new("resources", "list", &["cluster: Cluster", "kind: string", "ns: string", "selector: string", "array"])
        .doc("Lists objects of a kind matching a label selector (`app=reviews,version!=v1`).")
        .example(r#"let c = cluster("cluster1"); let reviews = c.list("pods", "bookinfo", "app=reviews,version!=v1");"#)
        .register(engine, move |m: &mut Member, kind: &str, ns: &str, selector: &str| -> RhaiResult<Array> {
            Ok(read(&s, m.cluster.list(kind, ns_arg(ns), Some(selector)))?.iter().map(from_json).collect())
        });

    // change
    let s = session.clone();
    Def::new("resources", "label", &["cluster: Cluster", "kind: string", "name: string", "ns: string", "labels: map", "()"])
        .doc("Sets labels (a `()` value removes the key, as `key-` in kubectl); ns `\"\"` for cluster-scoped kinds.")
        .example(r#"let c = cluster("cluster1"); c.label("namespace", "bookinfo", "", #{"istio.io/dataplane-mode": "ambient"});"#)
        .register(engine, move |m: &mut Member, kind: &str, name: &str, ns: &str, labels: Map| -> RhaiResult<()> {
            let start = Instant::now();
            let map = optional_map(labels, "label")?;
            if s.would(m.name(), &format!("label {kind}/{name} {}", describe_map(&map))) {
                return Ok(());
            }
            block(&s, m.cluster.label(kind, name, ns_arg(ns), &map))?;
            operation(&s, m, "label", format!("{kind}/{name} {}", describe_map(&map)), start);
            Ok(())
        });
    let s = session.clone();
    Def::new("resources", "annotate", &["cluster: Cluster", "kind: string", "name: string", "ns: string", "annotations: map", "()"])
        .doc("Sets annotations (a `()` value removes the key).")
        .example(r#"let c = cluster("cluster1"); c.annotate("service", "productpage", "bookinfo", #{"networking.istio.io/traffic-distribution": "PreferClose"});"#)
        .register(engine, move |m: &mut Member, kind: &str, name: &str, ns: &str, annotations: Map| -> RhaiResult<()> {
            let start = Instant::now();
            let map = optional_map(annotations, "annotate")?;
            if s.would(m.name(), &format!("annotate {kind}/{name} {}", describe_map(&map))) {
                return Ok(());
            }
            block(&s, m.cluster.annotate(kind, name, ns_arg(ns), &map))?;
            operation(&s, m, "annotate", format!("{kind}/{name} {}", describe_map(&map)), start);
            Ok(())
        });
    let s = session.clone();
    Def::new(
        "resources",
        "scale",
        &[
            "cluster: Cluster",
            "ns: string",
            "deploy: string",
            "replicas: int",
            "()",
        ],
    )
    .doc("Scales a Deployment through its scale subresource.")
    .example(r#"let c = cluster("cluster1"); c.scale("bookinfo", "reviews-v1", 0);"#)
    .register(
        engine,
        move |m: &mut Member, ns: &str, deploy: &str, replicas: i64| -> RhaiResult<()> {
            let start = Instant::now();
            if s.would(
                m.name(),
                &format!("scale deployment/{deploy} -n {ns} to {replicas}"),
            ) {
                return Ok(());
            }
            block(&s, m.cluster.scale(ns, deploy, replicas))?;
            s.touch_namespace(m.name(), ns);
            operation(
                &s,
                m,
                "scale",
                format!("deployment/{deploy} -n {ns} to {replicas}"),
                start,
            );
            Ok(())
        },
    );
    let s = session.clone();
    Def::new("resources", "set_env", &["cluster: Cluster", "ns: string", "deploy: string", "env: map", "()"])
        .doc("Sets environment variables on every container of a Deployment (as `kubectl set env`; `()` removes one).")
        .example(r#"let c = cluster("cluster1"); c.set_env("bookinfo", "ratings-v1", #{SERVICE_VERSION: "v2", DEBUG: ()});"#)
        .register(engine, move |m: &mut Member, ns: &str, deploy: &str, env: Map| -> RhaiResult<()> {
            let start = Instant::now();
            let map = optional_map(env, "set_env")?;
            if s.would(m.name(), &format!("set env on deployment/{deploy} -n {ns}: {}", describe_map(&map))) {
                return Ok(());
            }
            block(&s, m.cluster.set_env(ns, deploy, &map))?;
            s.touch_namespace(m.name(), ns);
            operation(&s, m, "set env", format!("deployment/{deploy} -n {ns} {}", describe_map(&map)), start);
            Ok(())
        });
    let s = session.clone();
    Def::new("resources", "create_namespace", &["cluster: Cluster", "name: string", "string"])
        .doc("Creates a namespace if it does not exist (idempotent); returns created or unchanged.")
        .example(r#"let c = cluster("cluster1"); c.create_namespace("bookinfo");"#)
        .optional("labels: map",
            "Creates or updates a namespace with labels (e.g. `#{\"istio.io/dataplane-mode\": \"ambient\"}`).",
            r#"let c = cluster("cluster1"); c.create_namespace("bookinfo", #{"istio.io/dataplane-mode": "ambient"});"#)
        .register(engine, optional_last!(move |m: &mut Member, name: &str; labels: Map| -> RhaiResult<String> {
            create_namespace(&s, m, name, labels.unwrap_or_default())
        }));

    // secrets
    let s = session.clone();
    Def::new("resources", "create_secret", &["cluster: Cluster", "ns: string", "name: string", "data: map", "string"])
        .doc("Creates or updates an Opaque Secret from text values (the values are treated as secrets).")
        .example(r#"let c = cluster("cluster1"); c.create_secret("gloo-mesh", "license-keys", #{"gloo-mesh-license-key": secret_env("GLOO_MESH_LICENSE_KEY")});"#)
        .register(engine, move |m: &mut Member, ns: &str, name: &str, data: Map| -> RhaiResult<String> {
            let mut map = BTreeMap::new();
            for (k, v) in string_map(&data, "create_secret")? {
                let v = v.unwrap_or_default();
                s.add_secret(&v).map_err(|e| {
                    fail(format!("create_secret `{name}`: the value of key `{k}` is {e}; it was not written or printed"))
                })?;
                map.insert(k, v);
            }
            if s.would(m.name(), &format!("create or update secret/{name} -n {ns}")) {
                return Ok("unchanged".into());
            }
            let o = block(&s, m.cluster.create_secret(ns, name, &map))?;
            secret_event(&s, m, ns, name, o);
            Ok(o.to_string())
        });
    let s = session.clone();
    Def::new("resources", "secret_from_files", &["cluster: Cluster", "ns: string", "name: string", "files: map", "string"])
        .doc("Creates or updates a Secret from files, key -> path (as `kubectl create secret generic --from-file=key=path`).")
        .example(r#"let c = cluster("cluster1"); c.secret_from_files("istio-system", "cacerts", #{"ca-cert.pem": "certs/ca-cert.pem", "ca-key.pem": "certs/ca-key.pem"});"#)
        .register(engine, move |m: &mut Member, ns: &str, name: &str, files: Map| -> RhaiResult<String> {
            let mut data = BTreeMap::new();
            for (key, path) in string_map(&files, "secret_from_files")? {
                let path = path.unwrap_or_default();
                let bytes = match s.runbook.local_path(&path).filter(|p| p.exists()) {
                    Some(p) => std::fs::read(&p).map_err(|e| fail(format!("cannot read `{}`: {e}", p.display())))?,
                    None => s.runbook.read_relative(&path).map_err(fail)?.into_bytes(),
                };
                if let Ok(text) = std::str::from_utf8(&bytes) {
                    s.add_secret(text).map_err(|e| {
                        fail(format!("secret_from_files `{name}`: the content of `{path}` (key `{key}`) is {e}; it was not written or printed"))
                    })?;
                }
                data.insert(key, bytes);
            }
            if s.would(m.name(), &format!("create or update secret/{name} -n {ns} from files")) {
                return Ok("unchanged".into());
            }
            let o = block(&s, m.cluster.apply_secret(ns, name, &data))?;
            secret_event(&s, m, ns, name, o);
            Ok(o.to_string())
        });
    let s = session.clone();
    Def::new("resources", "secret_data", &["cluster: Cluster", "ns: string", "name: string", "key: string", "string"])
        .doc("Reads one decoded value of a Secret; it is masked as *** in all output from then on.")
        .example(r#"let c = cluster("cluster1"); let token = c.secret_data("gloo-mesh", "relay-identity-token-secret", "token");"#)
        .register(engine, move |m: &mut Member, ns: &str, name: &str, key: &str| -> RhaiResult<String> {
            let v = block(&s, m.cluster.secret_data(ns, name, key))?;
            s.add_secret(&v).map_err(|e| {
                fail(format!("secret_data: key `{key}` of Secret `{ns}/{name}` is {e}; it was not returned or printed"))
            })?;
            Ok(v)
        });
}

fn describe_map(map: &BTreeMap<String, Option<String>>) -> String {
    map.iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => format!("{k}-"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn delete_one(
    s: &Session,
    m: &Member,
    kind: &str,
    name: &str,
    ns: &str,
    wait: bool,
) -> RhaiResult<bool> {
    if s.would(
        m.name(),
        &format!(
            "delete {kind}/{name}{}",
            if ns.is_empty() {
                String::new()
            } else {
                format!(" -n {ns}")
            }
        ),
    ) {
        return Ok(block(s, m.cluster.get(kind, name, ns_arg(ns)))?.is_some());
    }
    let existed = block(s, m.cluster.delete(kind, name, ns_arg(ns), wait))?;
    s.emit(Event::Deleted {
        cluster: m.name().to_string(),
        kind: kind.to_string(),
        namespace: ns_arg(ns).map(String::from),
        name: name.to_string(),
        existed,
    });
    Ok(existed)
}

fn create_namespace(s: &Session, m: &Member, name: &str, labels: Map) -> RhaiResult<String> {
    let labels: BTreeMap<String, String> = string_map(&labels, "create_namespace")?
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect();
    if s.dry_run {
        let doc = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}});
        let applied = apply_text(s, m, &doc.to_string(), None, "create_namespace")?;
        return Ok(applied
            .first()
            .and_then(|a| {
                a.read_lock::<Map>()
                    .and_then(|m| m.get("outcome").map(|o| o.to_string()))
            })
            .unwrap_or_else(|| "created".into()));
    }
    let o = block(s, m.cluster.create_namespace(name, &labels))?;
    s.touch_namespace(m.name(), name);
    s.emit(Event::Applied {
        cluster: m.name().to_string(),
        kind: "Namespace".into(),
        namespace: None,
        name: name.to_string(),
        outcome: o.into(),
        dry_run: false,
    });
    Ok(o.to_string())
}

fn secret_event(s: &Session, m: &Member, ns: &str, name: &str, o: ApplyOutcome) {
    s.touch_namespace(m.name(), ns);
    s.emit(Event::Applied {
        cluster: m.name().to_string(),
        kind: "Secret".into(),
        namespace: Some(ns.to_string()),
        name: name.to_string(),
        outcome: o.into(),
        dry_run: false,
    });
}
