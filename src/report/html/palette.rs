//! Colours of the HTML report: one per cluster (its lane and its share of traffic), and one per
//! answer key when no answer named a cluster.

/// Cluster colours, by lane; none of them is the red of a failure or the green of a pass.
const CLUSTERS: &[&str] = &[
    "#2f6fde", "#f08c2e", "#17a2a2", "#c2409a", "#8c6d46", "#5b6b8c", "#b5a000", "#7048c8",
];

/// Key colours (status codes, sample keys).
const KEYS: &[&str] = &[
    "#6d5bd0", "#2a9d8f", "#e0a82e", "#457b9d", "#8ab17d", "#d16b8e", "#4f7cac", "#a0825b",
];

/// Answers that named no cluster (in a chart coloured by cluster).
pub const UNNAMED: &str = "#b8bcc4";

/// The colour of the cluster in lane `lane`.
pub fn cluster(lane: usize) -> &'static str {
    CLUSTERS[lane % CLUSTERS.len()]
}

/// The colour of key `key`, the `n`th distinct key of its chart.
pub fn key(key: &str, n: usize) -> &'static str {
    match key {
        "error" => "#9b2d20",
        "unmatched" => "#8a8f98",
        _ => KEYS[n % KEYS.len()],
    }
}

/// Rounds to a tenth (short SVG coordinates).
pub fn r1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// `text` cut to about `width` pixels of 11px text, with an ellipsis when cut.
pub fn fit(text: &str, width: f64) -> Option<String> {
    let room = (width / 6.4).floor() as usize;
    let count = text.chars().count();
    if room < 3 {
        None
    } else if count <= room {
        Some(text.to_string())
    } else {
        Some(format!(
            "{}…",
            text.chars().take(room - 1).collect::<String>().trim_end()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_fit_or_are_left_out() {
        assert_eq!(
            fit("Link Clusters", 200.0).as_deref(),
            Some("Link Clusters")
        );
        assert_eq!(fit("Link Clusters", 40.0).as_deref(), Some("Link…"));
        assert_eq!(fit("Link Clusters", 12.0), None);
        assert_ne!(cluster(0), cluster(1));
        assert_eq!(key("error", 0), key("error", 3));
    }
}
