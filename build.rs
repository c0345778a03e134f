//! Rebuilds when a bundled file changes (`include_dir!` embeds `stdlib/` and `runbooks/`, but
//! cargo only knows to look at them when told), and stamps the git commit into the binary for
//! `meshbook --version` (`MESHBOOK_COMMIT` set at build time wins, for packaging from a
//! source archive without `.git`).

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-changed=stdlib");
    println!("cargo:rerun-if-changed=runbooks");
    println!("cargo:rerun-if-env-changed=MESHBOOK_COMMIT");
    // Re-run when HEAD moves: the worktree's HEAD, the branch it points at, packed refs.
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        println!("cargo:rerun-if-changed={dir}/HEAD");
    }
    if let Some(common) = git(&["rev-parse", "--git-common-dir"]) {
        println!("cargo:rerun-if-changed={common}/packed-refs");
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            println!("cargo:rerun-if-changed={common}/{branch}");
        }
    }
    let commit = std::env::var("MESHBOOK_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| {
            let hash = git(&["rev-parse", "--short=12", "HEAD"])?;
            let date = git(&["log", "-1", "--format=%cs", "HEAD"]).unwrap_or_default();
            Some(format!("{hash} {date}").trim().to_string())
        })
        .unwrap_or_else(|| "commit unknown".to_string());
    println!("cargo:rustc-env=MESHBOOK_COMMIT={commit}");
}
