//! Manifests by URL: fetched once per run on real clusters; on simulated clusters resolved
//! through the offline map `stdlib/sim/urls.yaml` to manifests bundled with meshbook.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;

use crate::assets::Tree;

const MAP: &str = "sim/urls.yaml";

/// A manifest URL that could not be resolved or fetched.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The offline map itself is missing or malformed (a meshbook or `MESHBOOK_STDLIB` bug).
    #[error("{map}: {problem}")]
    Map { map: String, problem: String },
    /// Simulated clusters have no offline copy of the URL.
    #[error("no offline copy of {url} for simulated clusters")]
    NoOfflineCopy { url: String, map: String },
    /// The map names a file the stdlib does not have.
    #[error("{url} maps to `{file}`, which is not in the stdlib ({shown})")]
    MissingFile {
        url: String,
        file: String,
        shown: String,
    },
    #[error("cannot build an HTTP client: {0}")]
    Client(String),
    /// The request failed (network, DNS, TLS).
    #[error("cannot fetch {url}: {message}")]
    Fetch { url: String, message: String },
    /// The server answered with an error status.
    #[error("fetching {url} answered {status}")]
    Status { url: String, status: String },
    #[error("cannot read {url}: {message}")]
    Read { url: String, message: String },
}

impl crate::base::error::Help for ManifestError {
    fn help(&self) -> Option<String> {
        match self {
            ManifestError::NoOfflineCopy { map, .. } => Some(format!(
                "add an entry to {map} mapping it to a manifest under stdlib/sim/"
            )),
            ManifestError::Fetch { .. } => {
                Some("check the URL and your network, or apply a local copy with apply_file".into())
            }
            ManifestError::Status { .. } => {
                Some("check the URL (release branch, file name)".into())
            }
            _ => None,
        }
    }
}

crate::base::error::paragraph_into_string!(ManifestError);

#[derive(Deserialize)]
struct Entry {
    url: String,
    file: String,
}

/// The bundled file an URL maps to for simulated clusters: an exact URL, or a `/regex/`.
pub fn offline_file(url: &str) -> Result<String, ManifestError> {
    let map_error = |problem: String| ManifestError::Map {
        map: Tree::Stdlib.display(MAP),
        problem,
    };
    let text = Tree::Stdlib
        .read(MAP)
        .ok_or_else(|| map_error("no offline URL map".into()))?;
    let entries: Vec<Entry> = serde_yaml::from_str(&text).map_err(|e| map_error(e.to_string()))?;
    for e in &entries {
        let hit = match e.url.strip_prefix('/').and_then(|r| r.strip_suffix('/')) {
            Some(re) => regex::Regex::new(re)
                .map_err(|err| map_error(format!("bad pattern `{}`: {err}", e.url)))?
                .is_match(url),
            None => e.url == url,
        };
        if hit {
            return Ok(e.file.clone());
        }
    }
    Err(ManifestError::NoOfflineCopy {
        url: url.to_string(),
        map: Tree::Stdlib.display(MAP),
    })
}

/// The manifest at `url`, from the run's cache, the offline map (simulated) or the network.
pub async fn fetch(
    url: &str,
    simulated: bool,
    cache: &Mutex<HashMap<String, String>>,
) -> Result<String, ManifestError> {
    let key = format!("{}{url}", if simulated { "sim:" } else { "" });
    if let Some(text) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(text.clone());
    }
    let text = if simulated {
        let file = offline_file(url)?;
        Tree::Stdlib
            .read(&file)
            .map(|c| c.into_owned())
            .ok_or_else(|| ManifestError::MissingFile {
                url: url.to_string(),
                shown: Tree::Stdlib.display(&file),
                file: file.clone(),
            })?
    } else {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| ManifestError::Client(e.to_string()))?;
        let resp = client
            .get(url)
            .send()
            .await
            .map_err(|e| ManifestError::Fetch {
                url: url.to_string(),
                message: e.to_string(),
            })?;
        let status = resp.status();
        if !status.is_success() {
            return Err(ManifestError::Status {
                url: url.to_string(),
                status: status.to_string(),
            });
        }
        resp.text().await.map_err(|e| ManifestError::Read {
            url: url.to_string(),
            message: e.to_string(),
        })?
    };
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, text.clone());
    Ok(text)
}
