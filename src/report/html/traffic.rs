//! Traffic charts of the HTML report: for each URL, its checks and samples in the order they
//! ran, each a column of its answers coloured by the cluster that served them (or by key when
//! no answer named a cluster). A failover reads left to right: one colour, then the other, then
//! the first again. Simulated answers are hatched; attempts whose expectations did not hold are
//! outlined in red; checks that sent nothing are dashed.

use serde::Serialize;

use super::model::Model;
use super::palette::{self, fit, r1};
use super::rows::{check_badge, Badge};
use super::timeline::check_class;
use crate::report::events::{CheckStatus, Event, TrafficAttempt, TrafficCount};
use crate::report::terminal::human_ms;

const WIDTH: f64 = 1200.0;
const LEFT: f64 = 16.0;
const TOP: f64 = 40.0;
const BAR_H: f64 = 110.0;
const HEIGHT: f64 = TOP + BAR_H + 24.0;

/// One answer (or a share of a sample's answers) in a column.
#[derive(Clone, Debug, Serialize)]
pub struct Cell {
    pub y: f64,
    pub h: f64,
    pub fill: &'static str,
    pub unmet: bool,
    pub tip: String,
}

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

/// A section's stretch of columns, labelled above them.
#[derive(Clone, Debug, Serialize)]
pub struct Span {
    pub x: f64,
    pub x1: f64,
    pub label: Option<String>,
    pub first: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct LegendItem {
    pub label: String,
    pub fill: &'static str,
}

/// A coloured share of a table row's answers.
#[derive(Clone, Debug, Serialize)]
pub struct Share {
    pub pct: f64,
    pub fill: &'static str,
    pub label: String,
}

/// One check or sample in the table under the chart.
#[derive(Clone, Debug, Serialize)]
pub struct Line {
    pub id: String,
    pub number: usize,
    pub at: String,
    pub place: String,
    pub name: String,
    pub badge: Badge,
    pub simulated: bool,
    pub shares: Vec<Share>,
    pub counts: String,
    pub attempts: String,
    pub class: &'static str,
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
struct Seen<'a> {
    id: String,
    section: Option<usize>,
    step: Option<usize>,
    at_ms: u64,
    name: &'a str,
    url: &'a str,
    entry: Option<&'a str>,
    status: CheckStatus,
    simulated: bool,
    counts: &'a [TrafficCount],
    attempts: &'a [TrafficAttempt],
    elapsed_ms: u64,
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
struct Colours<'a> {
    model: &'a Model<'a>,
    by_cluster: bool,
    keys: Vec<String>,
}

impl Colours<'_> {
    fn of(&self, served_by: Option<&str>, key: &str) -> &'static str {
        if self.by_cluster {
            served_by
                .and_then(|c| self.model.lanes.iter().position(|l| l == c))
                .map_or(palette::UNNAMED, palette::cluster)
        } else {
            let n = self.keys.iter().position(|k| k == key).unwrap_or(0);
            palette::key(key, n)
        }
    }

    fn name(&self, served_by: Option<&str>, key: &str) -> String {
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

/// A column's cells, bottom to top: each attempt in order, or a sample's shares.
fn cells(s: &Seen, colours: &Colours, base: f64) -> Vec<Cell> {
    if !s.attempts.is_empty() {
        let h = BAR_H / s.attempts.len() as f64;
        return s
            .attempts
            .iter()
            .enumerate()
            .map(|(i, a)| Cell {
                y: r1(base - h * (i + 1) as f64),
                h: r1(h),
                fill: colours.of(a.served_by.as_deref(), &a.key),
                unmet: !a.held,
                tip: format!(
                    "attempt {} at +{}: {}{}",
                    i + 1,
                    human_ms(a.after_ms),
                    colours.name(a.served_by.as_deref(), &a.key),
                    if a.held {
                        ""
                    } else {
                        " (expectations not met)"
                    }
                ),
            })
            .collect();
    }
    let total: u64 = s.counts.iter().map(|c| c.count).sum();
    if total == 0 {
        return Vec::new();
    }
    let mut y = base;
    ordered(s.counts)
        .into_iter()
        .map(|c| {
            let h = BAR_H * c.count as f64 / total as f64;
            y -= h;
            Cell {
                y: r1(y),
                h: r1(h),
                fill: colours.of(c.served_by.as_deref(), &c.key),
                unmet: false,
                tip: format!(
                    "{}: {} of {total}",
                    colours.name(c.served_by.as_deref(), &c.key),
                    c.count
                ),
            }
        })
        .collect()
}

/// Counts by serving cluster (named ones first), then key.
fn ordered(counts: &[TrafficCount]) -> Vec<&TrafficCount> {
    let mut v: Vec<&TrafficCount> = counts.iter().collect();
    v.sort_by(|a, b| {
        (a.served_by.is_none(), &a.served_by, &a.key).cmp(&(
            b.served_by.is_none(),
            &b.served_by,
            &b.key,
        ))
    });
    v
}

fn line(s: &Seen, number: usize, place: String, colours: &Colours) -> Line {
    let total: u64 = s.counts.iter().map(|c| c.count).sum();
    let counted = ordered(s.counts);
    let shares = counted
        .iter()
        .map(|c| Share {
            pct: r1(100.0 * c.count as f64 / total.max(1) as f64),
            fill: colours.of(c.served_by.as_deref(), &c.key),
            label: colours.name(c.served_by.as_deref(), &c.key),
        })
        .collect();
    let counts = if counted.is_empty() {
        "no answers".to_string()
    } else {
        counted
            .iter()
            .map(|c| {
                format!(
                    "{}: {}",
                    colours.name(c.served_by.as_deref(), &c.key),
                    c.count
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let attempts = if s.attempts.is_empty() {
        String::new()
    } else {
        let unmet = s.attempts.iter().filter(|a| !a.held).count();
        format!(
            "{} attempt{}{} in {}",
            s.attempts.len(),
            if s.attempts.len() == 1 { "" } else { "s" },
            if unmet > 0 {
                format!(", {unmet} not met")
            } else {
                String::new()
            },
            human_ms(s.elapsed_ms)
        )
    };
    Line {
        id: s.id.clone(),
        number,
        at: format!("+{}", human_ms(s.at_ms.saturating_sub(s.elapsed_ms))),
        place,
        name: s.name.to_string(),
        badge: check_badge(s.status),
        simulated: s.simulated,
        shares,
        counts,
        attempts,
        class: check_class(s.status),
    }
}

/// Runs of columns in the same section, labelled with its title.
fn spans(model: &Model, group: &[&Seen], slot: f64) -> Vec<Span> {
    let mut spans: Vec<(Option<usize>, usize, usize)> = Vec::new();
    for (k, s) in group.iter().enumerate() {
        match spans.last_mut() {
            Some((sec, _, end)) if *sec == s.section => *end = k + 1,
            _ => spans.push((s.section, k, k + 1)),
        }
    }
    spans
        .into_iter()
        .enumerate()
        .map(|(n, (sec, a, b))| {
            let x = LEFT + slot * a as f64;
            let x1 = LEFT + slot * b as f64;
            let title = sec
                .and_then(|i| model.sections.get(i))
                .map_or("set-up", |s| s.report.title.as_str());
            Span {
                x: r1(x),
                x1: r1(x1),
                label: fit(title, x1 - x - 6.0),
                first: n == 0,
            }
        })
        .collect()
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
