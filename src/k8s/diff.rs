//! What an apply would change, as `kubectl diff` shows it: the object before and the object a
//! server-side dry run returns, as YAML without the server's bookkeeping, in unified-diff lines.

use serde_json::Value;

/// The object as `kubectl diff` compares it: no managedFields, resourceVersion, generation,
/// uid or creationTimestamp (a dry run makes them up).
pub fn comparable(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(meta) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in [
            "resourceVersion",
            "managedFields",
            "generation",
            "uid",
            "creationTimestamp",
        ] {
            meta.remove(k);
        }
    }
    o
}

fn yaml_lines(obj: Option<&Value>) -> Vec<String> {
    match obj {
        None => Vec::new(),
        Some(v) => serde_yaml::to_string(&comparable(v))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect(),
    }
}

/// A unified diff (`--- live`, `+++ after apply`, `@@` hunks with 3 lines of context) between
/// the object before and after; `None` when nothing changes.
pub fn unified(label: &str, before: Option<&Value>, after: &Value) -> Option<String> {
    let a = yaml_lines(before);
    let b = yaml_lines(Some(after));
    if a == b {
        return None;
    }
    let ops = line_ops(&a, &b);
    let mut out = format!("--- {label} (live)\n+++ {label} (after apply)\n");
    // Group the operations into hunks with up to 3 lines of context around changes.
    const CONTEXT: usize = 3;
    let changed: Vec<usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, o)| !matches!(o, Op::Same(..)))
        .map(|(i, _)| i)
        .collect();
    let mut i = 0;
    while i < changed.len() {
        let start = changed[i].saturating_sub(CONTEXT);
        let mut end = changed[i];
        while i + 1 < changed.len() && changed[i + 1] <= end + 2 * CONTEXT + 1 {
            i += 1;
            end = changed[i];
        }
        let end = (end + CONTEXT + 1).min(ops.len());
        let (mut a_start, mut b_start) = (1, 1);
        for o in &ops[..start] {
            match o {
                Op::Same(..) => {
                    a_start += 1;
                    b_start += 1;
                }
                Op::Del(_) => a_start += 1,
                Op::Add(_) => b_start += 1,
            }
        }
        let a_len = ops[start..end]
            .iter()
            .filter(|o| !matches!(o, Op::Add(_)))
            .count();
        let b_len = ops[start..end]
            .iter()
            .filter(|o| !matches!(o, Op::Del(_)))
            .count();
        let a_start = if a_len == 0 { a_start - 1 } else { a_start };
        let b_start = if b_len == 0 { b_start - 1 } else { b_start };
        out.push_str(&format!("@@ -{a_start},{a_len} +{b_start},{b_len} @@\n"));
        for o in &ops[start..end] {
            match o {
                Op::Same(l) => out.push_str(&format!(" {l}\n")),
                Op::Del(l) => out.push_str(&format!("-{l}\n")),
                Op::Add(l) => out.push_str(&format!("+{l}\n")),
            }
        }
        i += 1;
    }
    Some(out)
}

enum Op<'a> {
    Same(&'a str),
    Del(&'a str),
    Add(&'a str),
}

/// Line operations turning `a` into `b`, from a longest common subsequence (objects are small).
fn line_ops<'a>(a: &'a [String], b: &'a [String]) -> Vec<Op<'a>> {
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut ops = Vec::new();
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            ops.push(Op::Same(&a[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            // Removed lines first, as diff -u shows them.
            ops.push(Op::Del(&a[i]));
            i += 1;
        } else {
            ops.push(Op::Add(&b[j]));
            j += 1;
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_new_object_is_all_added_and_bookkeeping_is_left_out() {
        let after = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "uid": "x", "resourceVersion": "7"}, "data": {"k": "v"}});
        let d = unified("configmap/a", None, &after).unwrap();
        assert!(
            d.starts_with("--- configmap/a (live)\n+++ configmap/a (after apply)\n@@ -0,0 +1,"),
            "{d}"
        );
        assert!(
            d.contains("+kind: ConfigMap\n") && d.contains("+  k: v\n"),
            "{d}"
        );
        assert!(!d.contains("uid") && !d.contains("resourceVersion"), "{d}");
    }

    #[test]
    fn a_change_shows_the_changed_lines_in_context() {
        let before = json!({"kind": "Deployment", "metadata": {"name": "web", "generation": 1}, "spec": {"replicas": 1, "paused": false}});
        let after = json!({"kind": "Deployment", "metadata": {"name": "web", "generation": 2}, "spec": {"replicas": 3, "paused": false}});
        let d = unified("deployment/web", Some(&before), &after).unwrap();
        assert!(d.contains("-  replicas: 1\n+  replicas: 3\n"), "{d}");
        assert!(d.contains("@@ -3,4 +3,4 @@\n"), "{d}");
        assert!(d.contains("   paused: false\n"), "{d}");
        assert!(unified("deployment/web", Some(&before), &before).is_none());
    }
}
