//! Traffic charts of the HTML report: for each URL, its checks and samples in the order they
//! ran, each a column of its answers coloured by the cluster that served them (or by key when
//! no answer named a cluster). A failover reads left to right: one colour, then the other, then
//! the first again. Simulated answers are hatched; attempts whose expectations did not hold are
//! outlined in red; checks that sent nothing are dashed.

use serde::Serialize;

use super::chart::{cells, line, spans, Cell, Line, Span};
use super::model::Model;
use super::palette::{self, r1};
use crate::report::events::{CheckStatus, Event, TrafficAttempt, TrafficCount};

const WIDTH: f64 = 1200.0;
pub(super) const LEFT: f64 = 16.0;
const TOP: f64 = 40.0;
pub(super) const BAR_H: f64 = 110.0;
const HEIGHT: f64 = TOP + BAR_H + 24.0;

/// One check or sample.
#[derive(Clone, Debug, Serialize)]
pub struct Column {
    pub id: String,
    pub x: f64,
    pub w: f64,
    pub cells: Vec<Cell>,
    pub class: &'static str,
    pub simulated: bool,
    /// Nothing answered: drawn as a dashed outline.
    pub empty: bool,
    pub glyph: &'static str,
    pub cx: f64,
    pub label: String,
    pub tip: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct LegendItem {
    pub label: String,
    pub fill: &'static str,
}

/// The traffic to one URL.
#[derive(Clone, Debug, Serialize)]
pub struct Card {
    pub url: String,
    pub entry: Option<String>,
    pub by_cluster: bool,
    pub clusters: usize,
    pub summary: String,
    pub width: f64,
    pub height: f64,
    pub base: f64,
    pub top: f64,
    pub columns: Vec<Column>,
    pub spans: Vec<Span>,
    pub legend: Vec<LegendItem>,
    /// Which marks the chart uses, for its legend.
    pub any_simulated: bool,
    pub any_unmet: bool,
    pub any_empty: bool,
    pub lines: Vec<Line>,
}

/// A traffic event and where it happened.
pub(super) struct Seen<'a> {
    pub id: String,
    pub section: Option<usize>,
    pub step: Option<usize>,
    pub at_ms: u64,
    pub name: &'a str,
    pub url: &'a str,
    pub entry: Option<&'a str>,
    pub status: CheckStatus,
    pub simulated: bool,
    pub counts: &'a [TrafficCount],
    pub attempts: &'a [TrafficAttempt],
    pub elapsed_ms: u64,
}

/// The id of the traffic chart column of event `event` of section `section` (`None`: set-up).
pub fn id(section: Option<usize>, event: usize) -> String {
    match section {
        Some(s) => format!("t-{s}-{event}"),
        None => format!("t-setup-{event}"),
    }
}

fn collect<'a>(model: &'a Model) -> Vec<Seen<'a>> {
    let lists = std::iter::once((None, &model.report.events))
        .chain(model.sections.iter().map(|s| (Some(s), &s.report.events)));
    let mut out = Vec::new();
    for (section, events) in lists {
        for (i, e) in events.iter().enumerate() {
            if let Event::Traffic {
                name,
                url,
                cluster,
                status,
                simulated,
                counts,
                attempts,
                elapsed_ms,
            } = &e.event
            {
                out.push(Seen {
                    id: id(section.map(|s| s.index), i),
                    section: section.map(|s| s.index),
                    step: section.and_then(|s| s.step_of(i)),
                    at_ms: e.at_ms,
                    name,
                    url,
                    entry: cluster.as_deref(),
                    status: *status,
                    simulated: *simulated,
                    counts,
                    attempts,
                    elapsed_ms: *elapsed_ms,
                });
            }
        }
    }
    out
}

/// How answers are coloured in one chart.
pub(super) struct Colours<'a> {
    model: &'a Model<'a>,
    by_cluster: bool,
    keys: Vec<String>,
}

impl Colours<'_> {
    pub fn of(&self, served_by: Option<&str>, key: &str) -> &'static str {
        if self.by_cluster {
            served_by
                .and_then(|c| self.model.lanes.iter().position(|l| l == c))
                .map_or(palette::UNNAMED, palette::cluster)
        } else {
            let n = self.keys.iter().position(|k| k == key).unwrap_or(0);
            palette::key(key, n)
        }
    }

    pub fn name(&self, served_by: Option<&str>, key: &str) -> String {
        match (self.by_cluster, served_by) {
            (true, Some(c)) => format!("{c} · {key}"),
            (true, None) => format!("no cluster named · {key}"),
            (false, _) => key.to_string(),
        }
    }
}

/// The traffic charts of a run, one per URL, in the order the URLs were first checked.
pub fn cards(model: &Model) -> Vec<Card> {
    let seen = collect(model);
    let mut urls: Vec<&str> = Vec::new();
    for s in &seen {
        if !urls.contains(&s.url) {
            urls.push(s.url);
        }
    }
    urls.into_iter()
        .map(|url| {
            let group: Vec<&Seen> = seen.iter().filter(|s| s.url == url).collect();
            card(model, url, &group)
        })
        .collect()
}

fn card(model: &Model, url: &str, group: &[&Seen]) -> Card {
    let answers = || {
        group.iter().flat_map(|s| {
            s.counts
                .iter()
                .map(|c| (c.served_by.as_deref(), c.key.as_str()))
        })
    };
    let by_cluster = answers().any(|(c, _)| c.is_some());
    let mut keys: Vec<String> = Vec::new();
    for (_, k) in answers() {
        if !keys.iter().any(|x| x == k) {
            keys.push(k.to_string());
        }
    }
    let colours = Colours {
        model,
        by_cluster,
        keys,
    };
    let mut served: Vec<&str> = Vec::new();
    let attempts = group
        .iter()
        .flat_map(|s| s.attempts.iter().map(|a| a.served_by.as_deref()));
    for c in answers().map(|(c, _)| c).chain(attempts).flatten() {
        if !served.contains(&c) {
            served.push(c);
        }
    }
    let n = group.len().max(1) as f64;
    let slot = ((WIDTH - 2.0 * LEFT) / n).min(64.0);
    let w = (slot * 0.64).max(3.0);
    let base = TOP + BAR_H;
    let mut columns = Vec::new();
    let mut lines = Vec::new();
    for (k, s) in group.iter().enumerate() {
        let x = LEFT + slot * k as f64 + (slot - w) / 2.0;
        let cells = cells(s, &colours, base);
        let (glyph, class) = match s.status {
            CheckStatus::Passed => ("✓", "passed"),
            CheckStatus::Failed => ("✗", "failed"),
            CheckStatus::Skipped => ("–", "skipped"),
            CheckStatus::Simulated => ("✓", "simulated"),
        };
        let place = place(model, s);
        let tip = format!(
            "#{} {}\n{}\n{}{}",
            k + 1,
            s.name,
            place,
            s.status.as_str(),
            if s.simulated && s.status != CheckStatus::Simulated {
                " (simulated data plane)"
            } else {
                ""
            }
        );
        columns.push(Column {
            id: s.id.clone(),
            x: r1(x),
            w: r1(w),
            empty: cells.is_empty(),
            cells,
            class,
            simulated: s.simulated,
            glyph,
            cx: r1(x + w / 2.0),
            label: format!("#{}", k + 1),
            tip,
        });
        lines.push(line(s, k + 1, place, &colours));
    }
    let spans = spans(model, group, slot);
    let mut legend: Vec<LegendItem> = Vec::new();
    if by_cluster {
        for (lane, name) in model.lanes.iter().enumerate() {
            if served.contains(&name.as_str()) {
                legend.push(LegendItem {
                    label: format!("served by {name}"),
                    fill: palette::cluster(lane),
                });
            }
        }
        if answers().any(|(c, _)| c.is_none()) {
            legend.push(LegendItem {
                label: "no cluster named".into(),
                fill: palette::UNNAMED,
            });
        }
    } else {
        for (n, key) in colours.keys.iter().enumerate() {
            legend.push(LegendItem {
                label: key.clone(),
                fill: palette::key(key, n),
            });
        }
    }
    let count = |st: CheckStatus| group.iter().filter(|s| s.status == st).count();
    let mut summary = vec![format!(
        "{} check{}",
        group.len(),
        if group.len() == 1 { "" } else { "s" }
    )];
    for st in [
        CheckStatus::Passed,
        CheckStatus::Simulated,
        CheckStatus::Failed,
        CheckStatus::Skipped,
    ] {
        if count(st) > 0 {
            summary.push(format!("{} {}", count(st), st.as_str()));
        }
    }
    if by_cluster {
        summary.push(format!(
            "served by {} cluster{}",
            served.len(),
            if served.len() == 1 { "" } else { "s" }
        ));
    }
    // As wide as its columns (a chart of three checks is not a page wide).
    let width = r1((2.0 * LEFT + slot * group.len() as f64).max(360.0));
    Card {
        any_simulated: columns.iter().any(|c| c.simulated && !c.empty),
        any_unmet: columns.iter().any(|c| c.cells.iter().any(|c| c.unmet)),
        any_empty: columns.iter().any(|c| c.empty),
        url: url.to_string(),
        entry: group.iter().find_map(|s| s.entry.map(String::from)),
        by_cluster,
        clusters: served.len(),
        summary: summary.join(" · "),
        width,
        height: HEIGHT,
        base,
        top: TOP,
        columns,
        spans,
        legend,
        lines,
    }
}

fn place(model: &Model, s: &Seen) -> String {
    match s.section.and_then(|i| model.sections.get(i)) {
        None => "set-up".into(),
        Some(sec) => match s.step.and_then(|k| sec.report.steps.get(k)) {
            Some(step) => format!("{} › {}", sec.report.title, step.title),
            None => sec.report.title.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::events::Status;
    use crate::report::record::Recorder;

    fn attempt(served_by: &str, held: bool) -> TrafficAttempt {
        TrafficAttempt {
            after_ms: 10,
            status: 200,
            key: "200".into(),
            held,
            served_by: Some(served_by.into()),
        }
    }

    fn check(url: &str, attempts: Vec<TrafficAttempt>) -> Event {
        let mut counts: Vec<TrafficCount> = Vec::new();
        for a in &attempts {
            match counts.iter_mut().find(|c| c.served_by == a.served_by) {
                Some(c) => c.count += 1,
                None => counts.push(TrafficCount {
                    key: a.key.clone(),
                    served_by: a.served_by.clone(),
                    count: 1,
                }),
            }
        }
        Event::Traffic {
            name: "GET".into(),
            url: url.into(),
            cluster: None,
            status: CheckStatus::Simulated,
            simulated: true,
            counts,
            attempts,
            elapsed_ms: 5,
        }
    }

    #[test]
    fn a_failover_is_one_column_per_check_coloured_by_the_serving_cluster() {
        let mut r = Recorder::new(vec!["before".into(), "during".into()]);
        r.record(&Event::ClusterReady {
            cluster: "cluster1".into(),
            context: None,
            server: "s".into(),
            version: "v".into(),
        });
        r.record(&Event::ClusterReady {
            cluster: "cluster2".into(),
            context: None,
            server: "s".into(),
            version: "v".into(),
        });
        for (title, events) in [
            (
                "before",
                vec![check("http://in/", vec![attempt("cluster1", true)])],
            ),
            (
                "during",
                vec![
                    check(
                        "http://in/",
                        vec![attempt("cluster1", false), attempt("cluster2", true)],
                    ),
                    check("http://other/", vec![]),
                ],
            ),
        ] {
            r.record(&Event::SectionStarted {
                title: title.into(),
            });
            for e in &events {
                r.record(e);
            }
            r.record(&Event::SectionFinished {
                title: title.into(),
                status: Status::Passed,
                duration_ms: 1,
                error: None,
            });
        }
        let report = r.finish();
        let model = Model::new(&report);
        let cards = cards(&model);
        assert_eq!(cards.len(), 2);
        let c = &cards[0];
        assert!(c.by_cluster);
        assert_eq!(c.clusters, 2);
        assert_eq!(c.columns.len(), 2);
        assert_eq!(c.columns[1].cells.len(), 2);
        assert!(c.columns[1].cells[0].unmet);
        assert_ne!(c.columns[1].cells[0].fill, c.columns[1].cells[1].fill);
        assert_eq!(c.columns[0].cells[0].fill, c.columns[1].cells[0].fill);
        assert!(c.columns[0].simulated);
        assert_eq!(c.spans.len(), 2);
        assert_eq!(c.legend.len(), 2);
        assert!(cards[1].columns[0].empty);
        assert_eq!(c.lines[1].counts, "cluster1 · 200: 1, cluster2 · 200: 1");
    }
}
