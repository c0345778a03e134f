//! kubectl's table columns (`kubectl get`, `-o wide`) as the API server's printers give them
//! (k8s.io/kubernetes pkg/printers/internalversion/printers.go), and CRDs'
//! additionalPrinterColumns.

use super::kubectl::ServedCluster;

const OBJECTS: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "nginx:1.27"}, {name: side, image: "busybox:1.36"}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {selector: {app: web, tier: front}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: default}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {nodeSelector: {kubernetes.io/os: linux}, containers: [{name: agent, image: "busybox:1.36"}]}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: default}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec: {restartPolicy: Never, containers: [{name: run, image: "busybox:1.36"}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: default}
spec:
  ingressClassName: nginx
  rules:
  - host: shop.example.com
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: readers, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects:
- {kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}
- {kind: ServiceAccount, name: robot, namespace: default}
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: leader, namespace: default}
spec: {holderIdentity: pod-a}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: guard}
webhooks:
- name: guard.example.com
  admissionReviewVersions: [v1]
  sideEffects: None
  clientConfig: {url: "https://guard.example.com/validate"}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    - {name: Color, type: string, jsonPath: .spec.color, priority: 1}
    - {name: Ready, type: boolean, jsonPath: .spec.ready}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
"#;

/// The header's columns (kubectl separates them by at least two spaces).
fn columns(out: &str) -> Vec<String> {
    let header = out.lines().next().unwrap_or_default();
    regex::Regex::new(r"\s{2,}")
        .unwrap()
        .split(header.trim())
        .map(String::from)
        .collect()
}

fn row<'a>(out: &'a str, name: &str) -> Vec<&'a str> {
    let line = out
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no row {name} in\n{out}"));
    regex::Regex::new(r"\s{2,}")
        .unwrap()
        .split(line.trim())
        .collect()
}

#[test]
fn kubectl_get_wide_shows_the_servers_columns() {
    let Some(served) = ServedCluster::start() else {
        return;
    };
    let (dir, k) = (&served.dir, served.kubectl());
    let file = dir.path().join("objects.yaml");
    std::fs::write(&file, OBJECTS).unwrap();
    k.ok(&["apply", "-f", file.to_str().unwrap()]);
    k.ok(&["rollout", "status", "deployment/web", "--timeout=30s"]);
    k.ok(&["create", "job", "once", "--image=busybox:1.36"]);
    k.ok(&[
        "wait",
        "--for=condition=Complete",
        "job/once",
        "--timeout=30s",
    ]);
    k.ok(&[
        "wait",
        "--for=condition=Established",
        "crd/widgets.example.com",
        "--timeout=30s",
    ]);
    let widget = dir.path().join("widget.yaml");
    std::fs::write(&widget, "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1, namespace: default}\nspec: {size: 3, color: blue, ready: true}\n").unwrap();
    k.ok(&["apply", "-f", widget.to_str().unwrap()]);

    let table: &[(&[&str], &[&str])] = &[
        (
            &["get", "pods", "-o", "wide"],
            &[
                "NAME",
                "READY",
                "STATUS",
                "RESTARTS",
                "AGE",
                "IP",
                "NODE",
                "NOMINATED NODE",
                "READINESS GATES",
            ],
        ),
        (
            &["get", "deployments", "-o", "wide"],
            &[
                "NAME",
                "READY",
                "UP-TO-DATE",
                "AVAILABLE",
                "AGE",
                "CONTAINERS",
                "IMAGES",
                "SELECTOR",
            ],
        ),
        (
            &["get", "replicasets", "-o", "wide"],
            &[
                "NAME",
                "DESIRED",
                "CURRENT",
                "READY",
                "AGE",
                "CONTAINERS",
                "IMAGES",
                "SELECTOR",
            ],
        ),
        (
            &["get", "daemonsets", "-o", "wide"],
            &[
                "NAME",
                "DESIRED",
                "CURRENT",
                "READY",
                "UP-TO-DATE",
                "AVAILABLE",
                "NODE SELECTOR",
                "AGE",
                "CONTAINERS",
                "IMAGES",
                "SELECTOR",
            ],
        ),
        (
            &["get", "services", "-o", "wide"],
            &[
                "NAME",
                "TYPE",
                "CLUSTER-IP",
                "EXTERNAL-IP",
                "PORT(S)",
                "AGE",
                "SELECTOR",
            ],
        ),
        (
            &["get", "jobs", "-o", "wide"],
            &[
                "NAME",
                "STATUS",
                "COMPLETIONS",
                "DURATION",
                "AGE",
                "CONTAINERS",
                "IMAGES",
                "SELECTOR",
            ],
        ),
        (
            &["get", "cronjobs", "-o", "wide"],
            &[
                "NAME",
                "SCHEDULE",
                "TIMEZONE",
                "SUSPEND",
                "ACTIVE",
                "LAST SCHEDULE",
                "AGE",
                "CONTAINERS",
                "IMAGES",
                "SELECTOR",
            ],
        ),
        (
            &["get", "ingresses"],
            &["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"],
        ),
        (
            &["get", "endpointslices"],
            &["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"],
        ),
        (&["get", "endpoints"], &["NAME", "ENDPOINTS", "AGE"]),
        (
            &["get", "nodes", "-o", "wide"],
            &[
                "NAME",
                "STATUS",
                "ROLES",
                "AGE",
                "VERSION",
                "INTERNAL-IP",
                "EXTERNAL-IP",
                "OS-IMAGE",
                "KERNEL-VERSION",
                "CONTAINER-RUNTIME",
            ],
        ),
        (
            &["get", "events", "-o", "wide"],
            &[
                "LAST SEEN",
                "TYPE",
                "REASON",
                "OBJECT",
                "SUBOBJECT",
                "SOURCE",
                "MESSAGE",
                "FIRST SEEN",
                "COUNT",
                "NAME",
            ],
        ),
        (&["get", "leases"], &["NAME", "HOLDER", "AGE"]),
        (
            &["get", "controllerrevisions"],
            &["NAME", "CONTROLLER", "REVISION", "AGE"],
        ),
        (
            &["get", "priorityclasses"],
            &["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"],
        ),
        (&["get", "clusterroles"], &["NAME", "CREATED AT"]),
        (
            &["get", "rolebindings", "-o", "wide"],
            &["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"],
        ),
        (
            &["get", "validatingwebhookconfigurations"],
            &["NAME", "WEBHOOKS", "AGE"],
        ),
        (&["get", "crds"], &["NAME", "CREATED AT"]),
        (&["get", "widgets"], &["NAME", "SIZE", "READY", "AGE"]),
        (
            &["get", "widgets", "-o", "wide"],
            &["NAME", "SIZE", "COLOR", "READY", "AGE"],
        ),
    ];
    let mut outs = Vec::new();
    for (args, want) in table {
        let out = k.ok(args);
        assert_eq!(columns(&out), *want, "kubectl {args:?}:\n{out}");
        outs.push(out);
    }
    let out = |i: usize| outs[i].as_str();
    let pod = row(out(0), "web-");
    assert_eq!(&pod[1..4], ["2/2", "Running", "0"]);
    assert!(pod[5].starts_with("10."), "{pod:?}");
    assert_eq!(&pod[6..], ["sim-node-1", "<none>", "<none>"]);
    let dep = row(out(1), "web");
    assert_eq!(
        &dep[5..],
        ["web,side", "nginx:1.27,busybox:1.36", "app=web"]
    );
    assert!(row(out(2), "web-")[7].starts_with("app=web,pod-template-hash="));
    let ds = row(out(3), "agent");
    assert_eq!(ds[6], "kubernetes.io/os=linux");
    assert_eq!(row(out(4), "web")[6], "app=web,tier=front");
    let job = row(out(5), "once");
    assert_eq!(&job[1..3], ["Complete", "1/1"]);
    let cj = row(out(6), "nightly");
    assert_eq!(&cj[1..6], ["0 3 * * *", "<none>", "False", "0", "<none>"]);
    // ADDRESS is empty until a controller sets it: the row has one column fewer
    let ing = row(out(7), "web");
    assert_eq!(&ing[1..4], ["nginx", "shop.example.com", "80"]);
    assert!(out(12).contains("pod-a"), "{}", out(12));
    assert!(row(out(13), "agent-")[1].starts_with("daemonset.apps/agent"));
    assert!(
        out(14).contains("system-cluster-critical   2000000000   false"),
        "{}",
        out(14)
    );
    let rb = row(out(16), "readers");
    assert_eq!(rb[1], "ClusterRole/view");
    assert_eq!(&rb[3..], ["alice", "default/robot"]);
    assert_eq!(row(out(17), "guard")[1], "1");
    assert_eq!(&row(out(19), "w1")[1..3], ["3", "true"]);
    assert_eq!(&row(out(20), "w1")[1..4], ["3", "blue", "true"]);
}
