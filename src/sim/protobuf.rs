//! Decodes the Kubernetes protobuf envelope (`application/vnd.kubernetes.protobuf`) that
//! kubectl's typed clients send for built-in kinds (`create deployment`, `expose`,
//! `create secret`, ...) into JSON, using a field table of the common kinds. Unknown fields
//! are skipped (and reported), so an unusual field is lost rather than misread.

use std::collections::HashMap;
use std::sync::OnceLock;

use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::status::ApiError;

// message: number name type; ... (type: s string, i integer, b bool, y bytes, m map<string,string>,
// my map<string,bytes>, mq map<string,Quantity>, t Time, ios IntOrString, q Quantity,
// a capitalised name for a message; a leading * marks a repeated field)
const SCHEMA: &str = r"
TypeMeta: 1 apiVersion s; 2 kind s
Unknown: 1 typeMeta TypeMeta; 2 raw y; 3 contentEncoding s; 4 contentType s
ObjectMeta: 1 name s; 2 generateName s; 3 namespace s; 4 selfLink s; 5 uid s; 6 resourceVersion s; 7 generation i; 8 creationTimestamp t; 9 deletionTimestamp t; 10 deletionGracePeriodSeconds i; 11 labels m; 12 annotations m; 13 ownerReferences *OwnerReference; 14 finalizers *s
OwnerReference: 1 kind s; 3 name s; 4 uid s; 5 apiVersion s; 6 controller b; 7 blockOwnerDeletion b
LabelSelector: 1 matchLabels m; 2 matchExpressions *LabelSelectorRequirement
LabelSelectorRequirement: 1 key s; 2 operator s; 3 values *s
ObjectReference: 1 kind s; 2 namespace s; 3 name s; 4 uid s; 5 apiVersion s; 6 resourceVersion s; 7 fieldPath s
LocalObjectReference: 1 name s
Deployment: 1 metadata ObjectMeta; 2 spec DeploymentSpec
DeploymentSpec: 1 replicas i; 2 selector LabelSelector; 3 template PodTemplateSpec; 4 strategy DeploymentStrategy; 5 minReadySeconds i; 6 revisionHistoryLimit i; 7 paused b; 9 progressDeadlineSeconds i
DeploymentStrategy: 1 type s; 2 rollingUpdate RollingUpdateDeployment
RollingUpdateDeployment: 1 maxUnavailable ios; 2 maxSurge ios
PodTemplateSpec: 1 metadata ObjectMeta; 2 spec PodSpec
Pod: 1 metadata ObjectMeta; 2 spec PodSpec
PodSpec: 1 volumes *Volume; 2 containers *Container; 3 restartPolicy s; 4 terminationGracePeriodSeconds i; 5 activeDeadlineSeconds i; 6 dnsPolicy s; 7 nodeSelector m; 8 serviceAccountName s; 9 serviceAccount s; 10 nodeName s; 11 hostNetwork b; 12 hostPID b; 13 hostIPC b; 15 imagePullSecrets *LocalObjectReference; 16 hostname s; 17 subdomain s; 19 schedulerName s; 20 initContainers *Container; 21 automountServiceAccountToken b; 22 tolerations *Toleration; 24 priorityClassName s; 25 priority i; 29 shareProcessNamespace b
Toleration: 1 key s; 2 operator s; 3 value s; 4 effect s; 5 tolerationSeconds i
Volume: 1 name s; 2 volumeSource VolumeSource
VolumeSource: 2 emptyDir EmptyDirVolumeSource; 6 secret SecretVolumeSource; 19 configMap ConfigMapVolumeSource
EmptyDirVolumeSource: 1 medium s
SecretVolumeSource: 1 secretName s; 3 defaultMode i; 4 optional b
ConfigMapVolumeSource: 1 localObjectReference LocalObjectReference; 3 defaultMode i; 4 optional b
Container: 1 name s; 2 image s; 3 command *s; 4 args *s; 5 workingDir s; 6 ports *ContainerPort; 7 env *EnvVar; 8 resources ResourceRequirements; 9 volumeMounts *VolumeMount; 13 terminationMessagePath s; 14 imagePullPolicy s; 16 stdin b; 17 stdinOnce b; 18 tty b; 20 terminationMessagePolicy s
ContainerPort: 1 name s; 2 hostPort i; 3 containerPort i; 4 protocol s; 5 hostIP s
EnvVar: 1 name s; 2 value s
VolumeMount: 1 name s; 2 readOnly b; 3 mountPath s; 4 subPath s
ResourceRequirements: 1 limits mq; 2 requests mq
Service: 1 metadata ObjectMeta; 2 spec ServiceSpec
ServiceSpec: 1 ports *ServicePort; 2 selector m; 3 clusterIP s; 4 type s; 5 externalIPs *s; 7 sessionAffinity s; 8 loadBalancerIP s; 9 loadBalancerSourceRanges *s; 10 externalName s; 11 externalTrafficPolicy s; 12 healthCheckNodePort i; 13 publishNotReadyAddresses b; 17 ipFamilyPolicy s; 18 clusterIPs *s; 19 ipFamilies *s; 20 allocateLoadBalancerNodePorts b; 21 loadBalancerClass s; 22 internalTrafficPolicy s
ServicePort: 1 name s; 2 protocol s; 3 port i; 4 targetPort ios; 5 nodePort i; 6 appProtocol s
Namespace: 1 metadata ObjectMeta; 2 spec NamespaceSpec
NamespaceSpec: 1 finalizers *s
ConfigMap: 1 metadata ObjectMeta; 2 data m; 3 binaryData my; 4 immutable b
Secret: 1 metadata ObjectMeta; 2 data my; 3 type s; 4 stringData m; 5 immutable b
ServiceAccount: 1 metadata ObjectMeta; 2 secrets *ObjectReference; 3 imagePullSecrets *LocalObjectReference; 4 automountServiceAccountToken b
Job: 1 metadata ObjectMeta; 2 spec JobSpec
JobSpec: 1 parallelism i; 2 completions i; 3 activeDeadlineSeconds i; 4 selector LabelSelector; 5 manualSelector b; 6 template PodTemplateSpec; 7 backoffLimit i; 8 ttlSecondsAfterFinished i; 9 completionMode s; 10 suspend b
CronJob: 1 metadata ObjectMeta; 2 spec CronJobSpec
CronJobSpec: 1 schedule s; 2 startingDeadlineSeconds i; 3 concurrencyPolicy s; 4 suspend b; 5 jobTemplate JobTemplateSpec; 6 successfulJobsHistoryLimit i; 7 failedJobsHistoryLimit i; 8 timeZone s
JobTemplateSpec: 1 metadata ObjectMeta; 2 spec JobSpec
Role: 1 metadata ObjectMeta; 2 rules *PolicyRule
ClusterRole: 1 metadata ObjectMeta; 2 rules *PolicyRule
PolicyRule: 1 verbs *s; 2 apiGroups *s; 3 resources *s; 4 resourceNames *s; 5 nonResourceURLs *s
RoleBinding: 1 metadata ObjectMeta; 2 subjects *Subject; 3 roleRef RoleRef
ClusterRoleBinding: 1 metadata ObjectMeta; 2 subjects *Subject; 3 roleRef RoleRef
Subject: 1 kind s; 2 apiGroup s; 3 name s; 4 namespace s
RoleRef: 1 apiGroup s; 2 kind s; 3 name s
Ingress: 1 metadata ObjectMeta; 2 spec IngressSpec
IngressSpec: 1 defaultBackend IngressBackend; 2 tls *IngressTLS; 3 rules *IngressRule; 4 ingressClassName s
IngressTLS: 1 hosts *s; 2 secretName s
IngressRule: 1 host s; 2 ingressRuleValue IngressRuleValue
IngressRuleValue: 1 http HTTPIngressRuleValue
HTTPIngressRuleValue: 1 paths *HTTPIngressPath
HTTPIngressPath: 1 path s; 2 backend IngressBackend; 3 pathType s
IngressBackend: 3 resource TypedLocalObjectReference; 4 service IngressServiceBackend
TypedLocalObjectReference: 1 apiGroup s; 2 kind s; 3 name s
IngressServiceBackend: 1 name s; 2 port ServiceBackendPort
ServiceBackendPort: 1 name s; 2 number i
PodDisruptionBudget: 1 metadata ObjectMeta; 2 spec PodDisruptionBudgetSpec
PodDisruptionBudgetSpec: 1 minAvailable ios; 2 selector LabelSelector; 3 maxUnavailable ios; 4 unhealthyPodEvictionPolicy s
PriorityClass: 1 metadata ObjectMeta; 2 value i; 3 globalDefault b; 4 description s; 5 preemptionPolicy s
ResourceQuota: 1 metadata ObjectMeta; 2 spec ResourceQuotaSpec
ResourceQuotaSpec: 1 hard mq; 2 scopes *s
Scale: 1 metadata ObjectMeta; 2 spec ScaleSpec
ScaleSpec: 1 replicas i
DeleteOptions: 1 gracePeriodSeconds i; 2 preconditions Preconditions; 3 orphanDependents b; 4 propagationPolicy s; 5 dryRun *s
Preconditions: 1 uid s; 2 resourceVersion s
";

#[derive(Debug, Clone)]
struct Field {
    name: String,
    ty: String,
    repeated: bool,
}

type Schema = HashMap<String, HashMap<u64, Field>>;

fn schema() -> &'static Schema {
    static S: OnceLock<Schema> = OnceLock::new();
    S.get_or_init(|| {
        let mut out = HashMap::new();
        for line in SCHEMA.lines().filter(|l| !l.trim().is_empty()) {
            let Some((msg, fields)) = line.split_once(':') else {
                continue;
            };
            let mut m = HashMap::new();
            for f in fields.split(';') {
                let parts: Vec<&str> = f.split_whitespace().collect();
                if let [num, name, ty] = parts.as_slice() {
                    let (repeated, ty) = match ty.strip_prefix('*') {
                        Some(t) => (true, t),
                        None => (false, *ty),
                    };
                    if let Ok(n) = num.parse() {
                        m.insert(
                            n,
                            Field {
                                name: (*name).into(),
                                ty: ty.into(),
                                repeated,
                            },
                        );
                    }
                }
            }
            out.insert(msg.trim().to_string(), m);
        }
        out
    })
}

/// One raw protobuf field.
#[derive(Debug)]
enum Wire<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

fn varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*pos)?;
        *pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

fn fields(b: &[u8]) -> Option<Vec<(u64, Wire<'_>)>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < b.len() {
        let tag = varint(b, &mut pos)?;
        let (num, wt) = (tag >> 3, tag & 7);
        let w = match wt {
            0 => Wire::Varint(varint(b, &mut pos)?),
            1 => {
                let s = b.get(pos..pos + 8)?;
                pos += 8;
                Wire::Fixed64(u64::from_le_bytes(s.try_into().ok()?))
            }
            2 => {
                let len = usize::try_from(varint(b, &mut pos)?).ok()?;
                let s = b.get(pos..pos.checked_add(len)?)?;
                pos += len;
                Wire::Bytes(s)
            }
            5 => {
                let s = b.get(pos..pos + 4)?;
                pos += 4;
                Wire::Fixed32(u32::from_le_bytes(s.try_into().ok()?))
            }
            _ => return None,
        };
        out.push((num, w));
    }
    Some(out)
}

fn decode_message(msg: &str, b: &[u8], unknown: &mut Vec<String>) -> Option<Value> {
    let schema = schema();
    let Some(table) = schema.get(msg) else {
        unknown.push(format!("message {msg}"));
        return Some(json!({}));
    };
    let mut out = Map::new();
    for (num, w) in fields(b)? {
        let Some(f) = table.get(&num) else {
            unknown.push(format!("{msg}.{num}"));
            continue;
        };
        let v = decode_value(&f.ty, &w, unknown)?;
        if !f.repeated && f.ty == "s" && v == "" {
            // Go's zero value: absent in JSON (omitempty), so defaulting applies
            continue;
        }
        if f.ty == "m" || f.ty == "my" || f.ty == "mq" {
            let entry = out.entry(f.name.clone()).or_insert_with(|| json!({}));
            if let (Some(obj), Value::Array(kv)) = (entry.as_object_mut(), v) {
                if let [Value::String(k), val] = kv.as_slice() {
                    obj.insert(k.clone(), val.clone());
                }
            }
        } else if f.repeated {
            let entry = out.entry(f.name.clone()).or_insert_with(|| json!([]));
            if let Some(a) = entry.as_array_mut() {
                a.push(v);
            }
        } else if let Value::Object(inner) = &v {
            // VolumeSource and similar are embedded inline in JSON
            if matches!(
                f.name.as_str(),
                "volumeSource" | "localObjectReference" | "ingressRuleValue"
            ) {
                for (k, x) in inner {
                    out.insert(k.clone(), x.clone());
                }
            } else {
                out.insert(f.name.clone(), v);
            }
        } else {
            out.insert(f.name.clone(), v);
        }
    }
    Some(Value::Object(out))
}

fn as_str(w: &Wire<'_>) -> Option<String> {
    match w {
        Wire::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    }
}

fn decode_value(ty: &str, w: &Wire<'_>, unknown: &mut Vec<String>) -> Option<Value> {
    Some(match ty {
        "s" => json!(as_str(w)?),
        "i" => match w {
            Wire::Varint(v) => json!(*v as i64),
            Wire::Fixed64(v) => json!(*v as i64),
            Wire::Fixed32(v) => json!(*v as i32),
            Wire::Bytes(_) => return None,
        },
        "b" => match w {
            Wire::Varint(v) => json!(*v != 0),
            _ => return None,
        },
        "y" => match w {
            Wire::Bytes(b) => json!(base64::engine::general_purpose::STANDARD.encode(b)),
            _ => return None,
        },
        "q" => {
            let Wire::Bytes(b) = w else { return None };
            let f = fields(b)?;
            json!(f
                .iter()
                .find(|(n, _)| *n == 1)
                .and_then(|(_, w)| as_str(w))
                .unwrap_or_default())
        }
        "t" => {
            let Wire::Bytes(b) = w else { return None };
            let secs = fields(b)?
                .iter()
                .find(|(n, _)| *n == 1)
                .and_then(|(_, w)| {
                    if let Wire::Varint(v) = w {
                        Some(*v as i64)
                    } else {
                        None
                    }
                })
                .unwrap_or(0);
            if secs == 0 {
                // Go's zero metav1.Time, which JSON shows as null (a template's creationTimestamp)
                return Some(Value::Null);
            }
            let t = chrono::DateTime::from_timestamp(secs, 0)?;
            json!(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        }
        "ios" => {
            let Wire::Bytes(b) = w else { return None };
            let f = fields(b)?;
            let get = |n: u64| f.iter().find(|(k, _)| *k == n).map(|(_, w)| w);
            let is_str = matches!(get(1), Some(Wire::Varint(1)));
            if is_str {
                json!(get(3).and_then(as_str).unwrap_or_default())
            } else {
                json!(match get(2) {
                    Some(Wire::Varint(v)) => *v as i64,
                    _ => 0,
                })
            }
        }
        "m" | "my" | "mq" => {
            let Wire::Bytes(b) = w else { return None };
            let f = fields(b)?;
            let key = f
                .iter()
                .find(|(n, _)| *n == 1)
                .and_then(|(_, w)| as_str(w))
                .unwrap_or_default();
            let val = f.iter().find(|(n, _)| *n == 2).map(|(_, w)| w);
            let val = match (ty, val) {
                (_, None) => json!(""),
                ("m", Some(w)) => json!(as_str(w)?),
                ("my", Some(w)) => decode_value("y", w, unknown)?,
                (_, Some(w)) => decode_value("q", w, unknown)?,
            };
            json!([key, val])
        }
        msg => {
            let Wire::Bytes(b) = w else { return None };
            decode_message(msg, b, unknown)?
        }
    })
}

/// Decodes a protobuf request body into a JSON object; unknown fields are listed.
pub fn decode(body: &[u8]) -> Result<(Value, Vec<String>), ApiError> {
    let bad = || ApiError::bad_request("the protobuf request body could not be decoded");
    let rest = body.strip_prefix(b"k8s\0").ok_or_else(bad)?;
    let mut unknown = Vec::new();
    let env = decode_message("Unknown", rest, &mut unknown).ok_or_else(bad)?;
    let kind = env["typeMeta"]["kind"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(env["raw"].as_str().unwrap_or_default())
        .map_err(|_| bad())?;
    if !schema().contains_key(&kind) {
        return Err(ApiError::unsupported_media(format!(
            "meshbook's simulated cluster cannot decode protobuf for kind `{kind}`; send JSON instead"
        )));
    }
    let mut obj = decode_message(&kind, &raw, &mut unknown).ok_or_else(bad)?;
    obj["apiVersion"] = env["typeMeta"]["apiVersion"].clone();
    obj["kind"] = json!(kind);
    if obj["apiVersion"].as_str().is_none_or(str::is_empty) {
        if let Some(m) = obj.as_object_mut() {
            m.remove("apiVersion");
        }
    }
    Ok((obj, unknown))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(num: u64, wt: u64) -> Vec<u8> {
        enc_varint((num << 3) | wt)
    }
    fn enc_varint(mut v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return out;
            }
            out.push(b | 0x80);
        }
    }
    fn bytes_field(num: u64, b: &[u8]) -> Vec<u8> {
        let mut out = tag(num, 2);
        out.extend(enc_varint(b.len() as u64));
        out.extend_from_slice(b);
        out
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode(b"nope").is_err());
        assert!(decode(b"k8s\0\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01").is_err());
        assert!(decode(b"k8s\0\x0a\x02\x0a").is_err());
    }

    #[test]
    fn decodes_a_namespace_envelope() {
        let mut meta = bytes_field(1, b"team-a");
        let mut label = bytes_field(1, b"env");
        label.extend(bytes_field(2, b"prod"));
        meta.extend(bytes_field(11, &label));
        let ns = bytes_field(1, &meta);
        let mut tm = bytes_field(1, b"v1");
        tm.extend(bytes_field(2, b"Namespace"));
        let mut env = bytes_field(1, &tm);
        env.extend(bytes_field(2, &ns));
        let mut body = b"k8s\0".to_vec();
        body.extend(env);
        let (obj, unknown) = decode(&body).unwrap();
        assert!(unknown.is_empty(), "{unknown:?}");
        assert_eq!(
            obj,
            json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "team-a", "labels": {"env": "prod"}}})
        );
    }
}
