//! Files bundled into the binary: `stdlib/` (Rhai modules, simulator rules, offline manifests)
//! and `runbooks/` (bundled runbooks and their assets).
//!
//! `MESHBOOK_STDLIB=<dir>` lays a directory on disk over the embedded `stdlib/`: its files win
//! over the bundled ones of the same path, and the others stay available (so a directory with
//! only `sim/tools/mine.yaml` adds a simulated tool rule; `MESHBOOK_STDLIB=./stdlib` makes a
//! development build read the stdlib from disk). `MESHBOOK_RUNBOOKS=<dir>` does the same for
//! `runbooks/`.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use include_dir::{include_dir, Dir};

static STDLIB: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/stdlib");
static RUNBOOKS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/runbooks");

/// One tree of bundled files, embedded or overridden by a directory on disk.
#[derive(Clone, Copy, Debug)]
pub enum Tree {
    Stdlib,
    Runbooks,
}

impl Tree {
    fn override_dir(self) -> Option<PathBuf> {
        let var = match self {
            Tree::Stdlib => "MESHBOOK_STDLIB",
            Tree::Runbooks => "MESHBOOK_RUNBOOKS",
        };
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    }

    fn embedded(self) -> &'static Dir<'static> {
        match self {
            Tree::Stdlib => &STDLIB,
            Tree::Runbooks => &RUNBOOKS,
        }
    }

    /// A display name for messages, e.g. `stdlib/sim/rules.yaml` or the override path.
    pub fn display(self, rel: &str) -> String {
        match self.override_dir().filter(|d| d.join(rel).exists()) {
            Some(dir) => dir.join(rel).display().to_string(),
            None => match self {
                Tree::Stdlib => format!("stdlib/{rel}"),
                Tree::Runbooks => format!("runbooks/{rel}"),
            },
        }
    }

    /// Reads a file by its path relative to the tree's root (`sim/rules.yaml`).
    pub fn read(self, rel: &str) -> Option<Cow<'static, str>> {
        let rel = rel.trim_start_matches("./");
        if let Some(dir) = self.override_dir() {
            if let Ok(text) = std::fs::read_to_string(dir.join(rel)) {
                return Some(Cow::Owned(text));
            }
        }
        self.embedded()
            .get_file(rel)
            .and_then(|f| f.contents_utf8())
            .map(Cow::Borrowed)
    }

    /// Lists files (relative paths, sorted) under a folder of the tree, recursively.
    pub fn list(self, folder: &str) -> Vec<String> {
        let folder = folder.trim_matches('/');
        let mut out = Vec::new();
        if let Some(dir) = self.override_dir() {
            walk_disk(&dir, &dir.join(folder), &mut out);
        }
        let embedded = if folder.is_empty() {
            Some(self.embedded())
        } else {
            self.embedded().get_dir(folder)
        };
        if let Some(embedded) = embedded {
            walk_embedded(embedded, &mut out);
        }
        out.sort();
        out.dedup();
        out
    }

    /// The `*.yaml` / `*.yml` files under a folder as `(display name, text)`, sorted: what every
    /// rule loader (simulator controllers, simulated tools, workload behaviours) reads.
    pub fn yaml_files(self, folder: &str) -> Vec<(String, String)> {
        self.list(folder)
            .into_iter()
            .filter(|f| f.ends_with(".yaml") || f.ends_with(".yml"))
            .filter_map(|f| Some((self.display(&f), self.read(&f)?.into_owned())))
            .collect()
    }
}

fn walk_embedded(dir: &Dir<'static>, out: &mut Vec<String>) {
    for file in dir.files() {
        out.push(file.path().to_string_lossy().replace('\\', "/"));
    }
    for sub in dir.dirs() {
        walk_embedded(sub, out);
    }
}

fn walk_disk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk_disk(root, &path, out);
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_reads_embedded_stdlib() {
        let files = Tree::Stdlib.list("");
        assert!(files.iter().any(|f| f == "README.md"), "{files:?}");
        assert!(Tree::Stdlib.read("README.md").unwrap().contains("stdlib"));
        assert!(Tree::Stdlib.read("no/such/file").is_none());
    }
}
