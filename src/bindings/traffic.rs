//! What a traffic check saw, for the report's traffic charts (`Event::Traffic`): each answer's
//! key and, when the answer names one of the run's clusters, the cluster that served it.
//!
//! An answer names a cluster when a header value or the body mentions exactly one of the run's
//! clusters as a whole word: by its logical name, its kube context, or the value of the
//! runbook's `<CLUSTER>_NAME` parameter (the walkthroughs' convention, e.g. `CLUSTER2_NAME`,
//! which Bookinfo's reviews print as the `CLUSTER_NAME` of the pod that answered).

use std::collections::BTreeMap;
use std::time::Instant;

use crate::http::{Attempt, Response, ERROR_KEY};
use crate::report::{CheckStatus, Event, TrafficAttempt, TrafficCount};
use crate::session::Session;

/// The names each cluster of the run may be called by in an answer.
#[derive(Clone, Debug, Default)]
pub struct ClusterNames(Vec<(String, Vec<String>)>);

impl ClusterNames {
    /// The run's clusters: logical name, kube context, `<NAME>_NAME` parameter.
    pub fn of(s: &Session) -> ClusterNames {
        ClusterNames(
            s.fleet
                .members()
                .iter()
                .map(|m| {
                    let name = m.name().to_string();
                    let mut aliases = vec![name.clone()];
                    aliases.extend(m.cluster.context().map(String::from));
                    let param = format!("{}_NAME", name.to_uppercase().replace('-', "_"));
                    aliases.extend(s.params.get(&param).cloned());
                    aliases.retain(|a| !a.trim().is_empty());
                    aliases.dedup();
                    (name, aliases)
                })
                .collect(),
        )
    }

    /// The one cluster an answer names (headers first, then the body), if exactly one.
    pub fn served_by(&self, r: &Response) -> Option<String> {
        if !r.answered() {
            return None;
        }
        let named = |text: &str| -> Vec<&str> {
            self.0
                .iter()
                .filter(|(_, aliases)| aliases.iter().any(|a| mentions(text, a)))
                .map(|(name, _)| name.as_str())
                .collect()
        };
        for (_, value) in &r.headers {
            if let [one] = named(value)[..] {
                return Some(one.to_string());
            }
        }
        match named(&r.body)[..] {
            [one] => Some(one.to_string()),
            _ => None,
        }
    }
}

/// Whether `text` contains `word` with no letter, digit, `-` or `_` on either side.
fn mentions(text: &str, word: &str) -> bool {
    let part = |c: char| c.is_alphanumeric() || c == '-' || c == '_';
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(part) && !after.is_some_and(part)
    })
}

/// Answers of one traffic check as they come, then its `Event::Traffic`.
pub struct Seen {
    names: ClusterNames,
    url: String,
    cluster: Option<String>,
    started: Instant,
    attempts: Vec<TrafficAttempt>,
    answers: Vec<(String, Option<String>)>,
}

impl Seen {
    /// Starts watching a check of `url` entering by `cluster` (when known).
    pub fn new(s: &Session, url: &str, cluster: Option<String>) -> Seen {
        Seen {
            names: ClusterNames::of(s),
            url: url.to_string(),
            cluster,
            started: Instant::now(),
            attempts: Vec::new(),
            answers: Vec::new(),
        }
    }

    pub fn names(&self) -> &ClusterNames {
        &self.names
    }

    /// One attempt of an `expect_http`.
    pub fn attempt(&mut self, a: &Attempt) {
        let r = &a.response;
        self.attempts.push(TrafficAttempt {
            after_ms: u64::try_from(a.elapsed.as_millis()).unwrap_or(u64::MAX),
            status: r.status,
            key: if r.answered() {
                r.status.to_string()
            } else {
                ERROR_KEY.to_string()
            },
            held: a.unmet.is_empty(),
            served_by: self.names.served_by(r),
        });
    }

    /// One answer of a `sample`, counted under `key`.
    pub fn answer(&mut self, key: String, served_by: Option<String>) {
        self.answers.push((key, served_by));
    }

    /// The event (once): answers counted by key and serving cluster. `totals` (a sample's counts by
    /// key) adds the answers not seen one by one (failures never reach a key function).
    pub fn event(
        &mut self,
        name: String,
        status: CheckStatus,
        totals: Option<&BTreeMap<String, u64>>,
    ) -> Event {
        let mut cells: BTreeMap<(String, Option<String>), u64> = BTreeMap::new();
        let seen = self
            .attempts
            .iter()
            .map(|a| (a.key.clone(), a.served_by.clone()))
            .chain(std::mem::take(&mut self.answers));
        for cell in seen {
            *cells.entry(cell).or_default() += 1;
        }
        for (key, total) in totals.into_iter().flatten() {
            let counted: u64 = cells
                .iter()
                .filter(|((k, _), _)| k == key)
                .map(|(_, n)| n)
                .sum();
            if *total > counted {
                *cells.entry((key.clone(), None)).or_default() += total - counted;
            }
        }
        Event::Traffic {
            name,
            url: self.url.clone(),
            cluster: self.cluster.clone(),
            status,
            simulated: status == CheckStatus::Simulated,
            counts: cells
                .into_iter()
                .map(|((key, served_by), count)| TrafficCount {
                    key,
                    served_by,
                    count,
                })
                .collect(),
            attempts: std::mem::take(&mut self.attempts),
            elapsed_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> ClusterNames {
        ClusterNames(vec![
            (
                "cluster1".into(),
                vec!["cluster1".into(), "kind-east".into()],
            ),
            (
                "cluster2".into(),
                vec!["cluster2".into(), "kind-west".into()],
            ),
        ])
    }

    fn page(body: &str) -> Response {
        Response {
            status: 200,
            body: body.into(),
            ..Response::default()
        }
    }

    #[test]
    fn an_answer_naming_one_cluster_was_served_by_it() {
        let n = names();
        assert_eq!(
            n.served_by(&page("<dd>Reviews served by: reviews-v1 cluster2</dd>")),
            Some("cluster2".into())
        );
        assert_eq!(
            n.served_by(&page("context kind-east.")),
            Some("cluster1".into())
        );
        // Both, none, or only as part of a longer word: unknown.
        assert_eq!(n.served_by(&page("cluster1 then cluster2")), None);
        assert_eq!(n.served_by(&page("cluster10 and my-cluster2")), None);
        assert_eq!(
            n.served_by(&Response::failed("refused", Default::default())),
            None
        );
        let header = Response {
            headers: vec![("x-cluster".into(), "cluster1".into())],
            ..page("cluster1 or cluster2")
        };
        assert_eq!(n.served_by(&header), Some("cluster1".into()));
    }

    #[test]
    fn counts_fold_attempts_answers_and_unseen_failures() {
        let mut seen = Seen {
            names: names(),
            url: "http://x/".into(),
            cluster: None,
            started: Instant::now(),
            attempts: Vec::new(),
            answers: Vec::new(),
        };
        seen.answer("v1".into(), Some("cluster1".into()));
        seen.answer("v1".into(), Some("cluster1".into()));
        seen.answer("v2".into(), Some("cluster2".into()));
        let totals: BTreeMap<String, u64> =
            [("v1".into(), 2), ("v2".into(), 1), ("error".into(), 3)].into();
        let Event::Traffic {
            counts, simulated, ..
        } = seen.event("s".into(), CheckStatus::Passed, Some(&totals))
        else {
            unreachable!()
        };
        assert!(!simulated);
        let cells: Vec<(&str, Option<&str>, u64)> = counts
            .iter()
            .map(|c| (c.key.as_str(), c.served_by.as_deref(), c.count))
            .collect();
        assert_eq!(
            cells,
            [
                ("error", None, 3),
                ("v1", Some("cluster1"), 2),
                ("v2", Some("cluster2"), 1)
            ]
        );
    }
}
