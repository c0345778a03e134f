//! What the HTML report needs to know about a run beyond its record: which events belong to
//! which step, which clusters each section and step touched, and one lane per cluster.

use crate::report::events::Event;
use crate::report::record::{RunReport, SectionReport, TimedEvent};

/// The cluster an event happened on, if any.
pub fn cluster_of(e: &Event) -> Option<&str> {
    match e {
        Event::Applied { cluster, .. }
        | Event::Deleted { cluster, .. }
        | Event::Operation { cluster, .. }
        | Event::WaitSatisfied { cluster, .. } => Some(cluster),
        Event::ToolRun { cluster, .. } | Event::Traffic { cluster, .. } => cluster.as_deref(),
        _ => None,
    }
}

/// A section with its events placed in its steps.
pub struct SectionModel<'a> {
    pub index: usize,
    pub report: &'a SectionReport,
    /// Per event: the steps (indexes into `report.steps`) it happened in, outermost first.
    pub steps_of: Vec<Vec<usize>>,
    /// Per step: how many steps enclose it.
    pub depth: Vec<usize>,
    /// Clusters the section touched, in lane order.
    pub clusters: Vec<String>,
    /// Per step: clusters it touched (its nested steps' included), in lane order.
    pub step_clusters: Vec<Vec<String>>,
}

/// The run: lanes and sections.
pub struct Model<'a> {
    pub report: &'a RunReport,
    /// One per cluster: those the run started with, then any that appeared during it.
    pub lanes: Vec<String>,
    pub sections: Vec<SectionModel<'a>>,
}

impl<'a> Model<'a> {
    pub fn new(report: &'a RunReport) -> Model<'a> {
        let mut lanes: Vec<String> = report.clusters.iter().map(|c| c.name.clone()).collect();
        let all_events = report
            .events
            .iter()
            .chain(report.sections.iter().flat_map(|s| s.events.iter()));
        for e in all_events {
            if let Some(c) = cluster_of(&e.event) {
                if !lanes.iter().any(|l| l == c) {
                    lanes.push(c.to_string());
                }
            }
        }
        let sections = report
            .sections
            .iter()
            .enumerate()
            .map(|(index, s)| SectionModel::new(index, s, &lanes))
            .collect();
        Model {
            report,
            lanes,
            sections,
        }
    }

    /// The first failed section.
    pub fn failed(&self) -> Option<&SectionModel<'a>> {
        self.sections
            .iter()
            .find(|s| s.report.status == crate::report::Status::Failed)
    }
}

/// The one cluster an error names in backticks (`` `c2` ``), if exactly one.
fn named_cluster(lanes: &[String], error: &str) -> Option<String> {
    let named: Vec<&String> = lanes
        .iter()
        .filter(|l| error.contains(&format!("`{l}`")))
        .collect();
    match named[..] {
        [one] => Some(one.clone()),
        _ => None,
    }
}

fn in_lane_order(lanes: &[String], touched: impl Iterator<Item = String>) -> Vec<String> {
    let touched: Vec<String> = touched.collect();
    lanes
        .iter()
        .filter(|l| touched.contains(l))
        .cloned()
        .collect()
}

impl<'a> SectionModel<'a> {
    fn new(index: usize, report: &'a SectionReport, lanes: &[String]) -> SectionModel<'a> {
        let steps = &report.steps;
        let mut steps_of: Vec<Vec<usize>> = vec![Vec::new(); report.events.len()];
        // Outermost first: longer ranges first, then by start.
        let mut order: Vec<usize> = (0..steps.len()).collect();
        order.sort_by_key(|&k| {
            (
                steps[k].events.start,
                std::cmp::Reverse(steps[k].events.len()),
            )
        });
        for &k in &order {
            for i in steps[k].events.clone() {
                if let Some(of) = steps_of.get_mut(i) {
                    of.push(k);
                }
            }
        }
        let depth = (0..steps.len())
            .map(|k| {
                let r = &steps[k].events;
                (0..steps.len())
                    .filter(|&o| {
                        let q = &steps[o].events;
                        o != k
                            && q.start <= r.start
                            && r.end <= q.end
                            && (q.len() > r.len() || o < k)
                            && !r.is_empty()
                    })
                    .count()
            })
            .collect();
        let clusters_of = |events: &[TimedEvent]| {
            in_lane_order(
                lanes,
                events
                    .iter()
                    .filter_map(|e| cluster_of(&e.event).map(String::from)),
            )
        };
        let step_clusters = steps
            .iter()
            .map(|st| {
                let end = st.events.end.min(report.events.len());
                let start = st.events.start.min(end);
                let touched = clusters_of(&report.events[start..end]);
                // A wait that timed out leaves no event, only its error: "... on `c2`".
                match (touched.is_empty(), &st.error) {
                    (true, Some(e)) => named_cluster(lanes, e).into_iter().collect(),
                    _ => touched,
                }
            })
            .collect();
        SectionModel {
            index,
            report,
            steps_of,
            depth,
            clusters: clusters_of(&report.events),
            step_clusters,
        }
    }

    /// The innermost step event `i` happened in.
    pub fn step_of(&self, i: usize) -> Option<usize> {
        self.steps_of.get(i).and_then(|s| s.last().copied())
    }

    /// The innermost failed step (the first to fail: inner steps finish first).
    pub fn failed_step(&self) -> Option<usize> {
        self.report
            .steps
            .iter()
            .position(|s| s.status == crate::report::Status::Failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::events::{ApplyOutcome, Status};
    use crate::report::record::Recorder;

    fn applied(cluster: &str) -> Event {
        Event::Applied {
            cluster: cluster.into(),
            kind: "Namespace".into(),
            namespace: None,
            name: "n".into(),
            outcome: ApplyOutcome::Created,
            dry_run: false,
        }
    }

    #[test]
    fn events_land_in_their_innermost_step_and_steps_know_their_clusters() {
        let mut r = Recorder::new(vec!["a".into()]);
        r.record(&Event::SectionStarted { title: "a".into() });
        r.record(&applied("c0"));
        r.record(&Event::StepStarted {
            title: "outer".into(),
        });
        r.record(&applied("c1"));
        r.record(&Event::StepStarted {
            title: "inner".into(),
        });
        r.record(&applied("c2"));
        for title in ["inner", "outer"] {
            r.record(&Event::StepFinished {
                title: title.into(),
                status: Status::Passed,
                duration_ms: 1,
                error: None,
            });
        }
        r.record(&Event::SectionFinished {
            title: "a".into(),
            status: Status::Passed,
            duration_ms: 2,
            error: None,
        });
        let report = r.finish();
        let m = Model::new(&report);
        assert_eq!(m.lanes, ["c0", "c1", "c2"]);
        let s = &m.sections[0];
        // steps: [inner, outer] in finish order.
        assert_eq!(s.report.steps[0].title, "inner");
        assert_eq!(s.step_of(0), None);
        assert_eq!(s.step_of(2), Some(1));
        assert_eq!(s.steps_of[4], [1, 0]);
        assert_eq!(s.depth, [1, 0]);
        assert_eq!(s.step_clusters, [vec!["c2"], vec!["c1", "c2"]]);
        assert_eq!(s.clusters, ["c0", "c1", "c2"]);
    }

    #[test]
    fn a_failed_step_without_events_is_on_the_cluster_its_error_names() {
        let lanes = vec!["c1".to_string(), "c2".to_string()];
        let e = "timed out after 1s waiting for rollout of Deployment demo/nope on `c2`";
        assert_eq!(named_cluster(&lanes, e).as_deref(), Some("c2"));
        assert_eq!(named_cluster(&lanes, "`c1` and `c2`"), None);
        assert_eq!(named_cluster(&lanes, "on c2"), None);
    }
}
