//! Manifests by URL: fetched once per run on real clusters; on simulated clusters resolved
//! through the offline map `stdlib/sim/urls.yaml` to manifests bundled with meshbook.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;

use crate::assets::Tree;

const MAP: &str = "sim/urls.yaml";

#[derive(Deserialize)]
struct Entry {
    url: String,
    file: String,
}

/// The bundled file an URL maps to for simulated clusters: an exact URL, or a `/regex/`.
pub fn offline_file(url: &str) -> Result<String, String> {
    let text = Tree::Stdlib
        .read(MAP)
        .ok_or_else(|| format!("no offline URL map ({})", Tree::Stdlib.display(MAP)))?;
    let entries: Vec<Entry> =
        serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", Tree::Stdlib.display(MAP)))?;
    for e in &entries {
        let hit = match e.url.strip_prefix('/').and_then(|r| r.strip_suffix('/')) {
            Some(re) => regex::Regex::new(re)
                .map_err(|err| {
                    format!(
                        "{}: bad pattern `{}`: {err}",
                        Tree::Stdlib.display(MAP),
                        e.url
                    )
                })?
                .is_match(url),
            None => e.url == url,
        };
        if hit {
            return Ok(e.file.clone());
        }
    }
    Err(format!(
        "no offline copy of {url} for simulated clusters\nhelp: add an entry to {} mapping it to a manifest under stdlib/sim/",
        Tree::Stdlib.display(MAP)
    ))
}

/// The manifest at `url`, from the run's cache, the offline map (simulated) or the network.
pub async fn fetch(
    url: &str,
    simulated: bool,
    cache: &Mutex<HashMap<String, String>>,
) -> Result<String, String> {
    let key = format!("{}{url}", if simulated { "sim:" } else { "" });
    if let Some(text) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(text.clone());
    }
    let text = if simulated {
        let file = offline_file(url)?;
        Tree::Stdlib
            .read(&file)
            .map(|c| c.into_owned())
            .ok_or_else(|| {
                format!(
                    "{url} maps to `{file}`, which is not in the stdlib ({})",
                    Tree::Stdlib.display(&file)
                )
            })?
    } else {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        let resp = client
            .get(url)
            .send()
            .await
            .map_err(|e| format!("cannot fetch {url}: {e}\nhelp: check the URL and your network, or apply a local copy with apply_file"))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!(
                "fetching {url} answered {status}\nhelp: check the URL (release branch, file name)"
            ));
        }
        resp.text()
            .await
            .map_err(|e| format!("cannot read {url}: {e}"))?
    };
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, text.clone());
    Ok(text)
}
