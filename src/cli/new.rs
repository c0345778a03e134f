//! `meshbook new`: a starter runbook with a header, one section per step named, and a
//! clean-up, that passes `meshbook check` and runs on simulated clusters as written.

use std::path::PathBuf;

use clap::Args;

use super::error::CliError;
use super::exit;

const NEW_EXAMPLES: &str = "\
Examples:
  meshbook new canary                                    # canary.rhai: one cluster, two sections
  meshbook new compare --clusters east,west --steps 'Deploy,Compare versions'
  meshbook new ./scenarios/failover.rhai --clusters cluster1,cluster2

Then: meshbook check canary.rhai, and meshbook run canary.rhai (simulated clusters until you map
contexts with --context NAME=CONTEXT).";

/// Write a starter runbook.
#[derive(Args, Debug)]
#[command(after_help = NEW_EXAMPLES)]
pub struct NewArgs {
    /// The runbook's name (writes NAME.rhai), or a path ending in .rhai.
    pub name: String,
    /// Logical clusters, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "cluster1")]
    pub clusters: Vec<String>,
    /// Section titles, comma-separated, in order; a "Clean up" section is added at the end.
    #[arg(long, value_delimiter = ',', default_value = "Deploy,Check")]
    pub steps: Vec<String>,
    /// Replace the file if it exists.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: NewArgs) -> Result<u8, CliError> {
    let path = if args.name.ends_with(".rhai") || args.name.contains('/') {
        PathBuf::from(&args.name)
    } else {
        PathBuf::from(format!("{}.rhai", args.name))
    };
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| args.name.clone());
    let clusters: Vec<String> = dedup(&args.clusters);
    if clusters.is_empty() {
        return Err(CliError::new("--clusters names no cluster")
            .with_help("e.g. --clusters cluster1,cluster2"));
    }
    if let Some(bad) = clusters.iter().find(|c| !is_cluster_name(c)) {
        return Err(CliError::new(format!("`{bad}` is not a usable cluster name")).with_help("use lowercase letters, digits and `-`, starting with a letter (e.g. cluster1, east)"));
    }
    let steps: Vec<String> = dedup(&args.steps)
        .into_iter()
        .filter(|s| !s.eq_ignore_ascii_case("clean up"))
        .collect();
    if path.exists() && !args.force {
        return Err(CliError::new(format!(
            "`{}` exists; meshbook new does not overwrite a runbook",
            path.display()
        ))
        .with_help("pick another name, or add --force to replace it"));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Err(e) = std::fs::create_dir_all(dir) {
            return Err(CliError::new(format!(
                "cannot create `{}`: {e}",
                dir.display()
            )));
        }
    }
    let text = starter(&stem, &clusters, &steps);
    if let Err(e) = std::fs::write(&path, text) {
        return Err(CliError::new(format!(
            "cannot write `{}`: {e}",
            path.display()
        )));
    }
    let shown = path.display();
    println!(
        "wrote {shown}: {} section{} and a clean-up on {}",
        steps.len(),
        if steps.len() == 1 { "" } else { "s" },
        clusters.join(", ")
    );
    println!("next: meshbook check {shown} && meshbook run {shown}   (simulated clusters)");
    let mapping: Vec<String> = clusters
        .iter()
        .map(|c| format!("--context {c}=CONTEXT"))
        .collect();
    println!(
        "then: meshbook run {shown} {}   (real clusters)",
        mapping.join(" ")
    );
    Ok(exit::OK)
}

fn dedup(items: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for i in items.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        if !out.iter().any(|o| o.eq_ignore_ascii_case(i)) {
            out.push(i.to_string());
        }
    }
    out
}

fn is_cluster_name(s: &str) -> bool {
    s.len() <= 63
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.ends_with('-')
}

/// The variable a cluster handle gets: `c1` for `cluster1`, else the name as an identifier.
fn handle_var(cluster: &str) -> String {
    match cluster.strip_prefix("cluster") {
        Some(n) if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) => format!("c{n}"),
        _ => cluster.replace('-', "_"),
    }
}

/// `my-canary` -> `My canary`.
fn title_of(stem: &str) -> String {
    let words = stem.replace(['-', '_'], " ");
    let mut chars = words.trim().chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => "Runbook".into(),
    }
}

fn rhai_string(s: &str) -> String {
    format!("{s:?}")
}

/// The starter runbook's text.
pub fn starter(stem: &str, clusters: &[String], steps: &[String]) -> String {
    let namespace: String = {
        let n: String = stem
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let n = n.trim_matches('-').to_string();
        if n.is_empty() || !n.starts_with(|c: char| c.is_ascii_lowercase()) {
            "demo".into()
        } else {
            n.chars().take(50).collect()
        }
    };
    let mut out = String::new();
    out.push_str(&format!("//! title: {}\n", title_of(stem)));
    out.push_str("//! summary: One line on what this runbook shows.\n");
    out.push_str(
        "//! clusters:                 # logical cluster: variable holding its kube context\n",
    );
    for c in clusters {
        let var = c.to_uppercase().replace('-', "_");
        out.push_str(&format!("//!   {c}: {var}\n"));
    }
    out.push_str("//! params:                   # defaults; change with --set NAME=value\n");
    out.push_str(&format!("//!   NAMESPACE: {namespace}\n"));
    out.push_str(
        "//! env:                      # variables the run needs (secrets are masked as ***)\n",
    );
    out.push_str("//!   # LICENSE_KEY: { secret: true, description: \"a license key\" }\n\n");
    out.push_str("// Rehearse on simulated clusters:  meshbook run ");
    out.push_str(&format!("{stem}.rhai\n"));
    out.push_str(
        "// Every function and its arguments: meshbook docs (or :help NAME in meshbook repl)\n\n",
    );
    out.push_str("let ns = param(\"NAMESPACE\");\n");
    for c in clusters {
        out.push_str(&format!(
            "let {} = cluster({});\n",
            handle_var(c),
            rhai_string(c)
        ));
    }
    let first = handle_var(&clusters[0]);
    for (i, step) in steps.iter().enumerate() {
        out.push_str(&format!("\nsection({}, || {{\n", rhai_string(step)));
        if i == 0 {
            out.push_str("    for c in clusters() {\n");
            out.push_str("        c.create_namespace(ns);\n");
            out.push_str("        expect(c.get(\"namespace\", ns) != (), `namespace ${ns} exists on ${c.name}`);\n");
            out.push_str("    }\n");
            out.push_str(&format!(
                "    // e.g. {first}.apply(read_file(\"app.yaml\"), #{{namespace: ns}}); {first}.wait_rollout(ns, \"web\");\n"
            ));
        } else {
            out.push_str(&format!(
                "    // e.g. let d = {first}.get(\"deployment\", \"web\", ns); expect(d != (), \"web is deployed\");\n"
            ));
            out.push_str(&format!(
                "    say({});\n",
                rhai_string(&format!("TODO: {step}"))
            ));
        }
        out.push_str("});\n");
    }
    out.push_str("\nsection(\"Clean up\", || {\n");
    out.push_str("    for c in clusters() {\n");
    out.push_str("        c.delete(\"namespace\", ns);\n");
    out.push_str("    }\n");
    out.push_str("});\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_and_titles_read_well() {
        assert_eq!(handle_var("cluster1"), "c1");
        assert_eq!(handle_var("east-1"), "east_1");
        assert_eq!(title_of("my-canary"), "My canary");
        assert!(is_cluster_name("east") && !is_cluster_name("East") && !is_cluster_name("1a"));
    }

    #[test]
    fn the_starter_has_a_header_every_step_and_a_clean_up() {
        let text = starter(
            "demo",
            &["east".into(), "west".into()],
            &["Deploy \"v1\"".into(), "Compare".into()],
        );
        let rb = crate::runbook::Runbook::from_source(
            "demo".into(),
            "demo.rhai".into(),
            crate::runbook::Origin::Inline,
            text.clone(),
        )
        .unwrap();
        let names: Vec<_> = rb.header.clusters.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, vec!["east", "west"]);
        assert!(!rb.header.clusters_from_script);
        assert!(
            text.contains("section(\"Deploy \\\"v1\\\"\", || {"),
            "{text}"
        );
        assert!(text.contains("section(\"Clean up\""), "{text}");
    }
}
