//! Rebuilds when a bundled file changes: `include_dir!` embeds `stdlib/` and `runbooks/`, but
//! cargo only knows to look at them when told.
fn main() {
    println!("cargo:rerun-if-changed=stdlib");
    println!("cargo:rerun-if-changed=runbooks");
}
