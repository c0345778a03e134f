//! Everything the HTML page shows, computed from the run (the template only lays it out).

use serde::Serialize;

use super::model::{Model, SectionModel};
use super::palette;
use super::rows::{rows, Row};
use super::timeline::{status_class, timeline, Timeline};
use super::traffic::{self, Card};
use crate::report::events::{Event, Status};
use crate::report::record::TimedEvent;
use crate::report::terminal::human_ms;

#[derive(Debug, Serialize)]
pub struct ClusterView {
    pub name: String,
    pub colour: &'static str,
    #[serde(rename = "where")]
    pub place: String,
    pub server: String,
    pub version: String,
}

#[derive(Debug, Serialize)]
pub struct Param {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Serialize)]
pub struct Intervention {
    pub at: String,
    pub section: String,
    pub kind: String,
    pub detail: String,
}

#[derive(Debug, Serialize)]
pub struct Total {
    pub value: u64,
    pub label: &'static str,
    pub class: &'static str,
}

/// The first failure, shown before anything else.
#[derive(Debug, Serialize)]
pub struct Failure {
    pub sec: String,
    pub step: Option<String>,
    pub section: String,
    pub step_title: Option<String>,
    pub duration: String,
    pub error: String,
    /// The section's failed checks, with their evidence and trace.
    pub checks: Vec<Row>,
}

#[derive(Debug, Serialize)]
pub struct StepView {
    pub index: String,
    pub title: String,
    pub status: &'static str,
    pub status_text: &'static str,
    pub mark: &'static str,
    pub duration: String,
    pub error: Option<String>,
    pub indent: usize,
}

#[derive(Debug, Serialize)]
pub struct Chip {
    pub name: String,
    pub colour: &'static str,
}

#[derive(Debug, Serialize)]
pub struct SectionView {
    pub id: String,
    pub sec: String,
    pub title: String,
    pub status: &'static str,
    pub status_text: &'static str,
    pub mark: &'static str,
    pub duration: String,
    pub open: bool,
    pub error: Option<String>,
    pub steps: Vec<StepView>,
    pub rows: Vec<Row>,
    pub clusters: Vec<Chip>,
}

#[derive(Debug, Serialize)]
pub struct Page {
    pub title: String,
    pub runbook: String,
    pub target: String,
    pub started_at: String,
    pub duration: String,
    pub status: &'static str,
    pub status_text: &'static str,
    pub exit_code: u8,
    pub exit_text: &'static str,
    pub clusters: Vec<ClusterView>,
    pub params: Vec<Param>,
    pub interventions: Vec<Intervention>,
    pub totals: Vec<Total>,
    pub failure: Option<Failure>,
    pub failed: usize,
    pub skipped: usize,
    pub timeline: Timeline,
    pub traffic: Vec<Card>,
    pub setup: Vec<Row>,
    pub sections: Vec<SectionView>,
    pub bundle: Option<String>,
    pub version: &'static str,
}

fn mark(s: Status) -> &'static str {
    match s {
        Status::Passed => "✓",
        Status::Failed => "✗",
        Status::Skipped => "–",
        Status::NotRun => "·",
        Status::Unverified => "?",
        Status::Stopped => "■",
    }
}

/// How the run ended, as `meshbook run` exits: a failure whose error says the run was
/// interrupted is Ctrl-C (130).
fn exit(model: &Model) -> (u8, &'static str) {
    if model.report.status != Status::Failed {
        return (0, "every section passed");
    }
    let interrupted = model.report.sections.iter().any(|s| {
        s.error.as_deref().is_some_and(|e| {
            e.contains("interrupted (Ctrl-C)")
                || e.contains("the run was interrupted")
                || e.trim() == "error: interrupted"
        })
    });
    if interrupted {
        (130, "interrupted")
    } else {
        (1, "a section failed")
    }
}

fn target(t: &str) -> String {
    match t {
        "simulated" | "" => "simulated clusters (no real cluster was touched)".into(),
        "none" => "no clusters".into(),
        contexts => format!("contexts {}", contexts.replace(',', ", ")),
    }
}

fn colour_rows(model: &Model, mut rows: Vec<Row>) -> Vec<Row> {
    for r in &mut rows {
        r.colour = r
            .cluster
            .as_ref()
            .and_then(|c| model.lanes.iter().position(|l| l == c))
            .map(palette::cluster);
    }
    rows
}

fn section_rows(model: &Model, s: &SectionModel) -> Vec<Row> {
    let index = s.index;
    let events = &s.report.events;
    let traffic_id = |i: usize| {
        matches!(events[i].event, Event::Traffic { .. }).then(|| traffic::id(Some(index), i))
    };
    colour_rows(model, rows(events, Some(s), &traffic_id))
}

fn section_view(model: &Model, s: &SectionModel) -> SectionView {
    let r = s.report;
    let steps = r
        .steps
        .iter()
        .enumerate()
        .map(|(k, st)| StepView {
            index: k.to_string(),
            title: st.title.clone(),
            status: status_class(st.status),
            status_text: st.status.as_str(),
            mark: mark(st.status),
            duration: human_ms(st.duration_ms),
            error: st.error.clone(),
            indent: s.depth.get(k).copied().unwrap_or(0) * 16,
        })
        .collect::<Vec<_>>();
    // Steps in the order they started (the record lists them as they finished).
    let mut steps = steps;
    steps.sort_by_key(|v| {
        let k: usize = v.index.parse().unwrap_or(0);
        r.steps[k].events.start
    });
    SectionView {
        id: format!("sec-{}", s.index),
        sec: s.index.to_string(),
        title: r.title.clone(),
        status: status_class(r.status),
        status_text: r.status.as_str(),
        mark: mark(r.status),
        duration: match r.status {
            Status::NotRun => String::new(),
            _ => human_ms(r.duration_ms),
        },
        open: r.status == Status::Failed,
        error: r.error.clone(),
        steps,
        rows: section_rows(model, s),
        clusters: s
            .clusters
            .iter()
            .map(|c| Chip {
                name: c.clone(),
                colour: palette::cluster(model.lanes.iter().position(|l| l == c).unwrap_or(0)),
            })
            .collect(),
    }
}

fn failure(model: &Model) -> Option<Failure> {
    let s = model.failed()?;
    let step = s.failed_step();
    let rows = section_rows(model, s);
    let checks = rows
        .into_iter()
        .filter(|r| r.kind == "check" && r.badge.as_ref().is_some_and(|b| b.class == "failed"))
        .collect();
    Some(Failure {
        sec: s.index.to_string(),
        step: step.map(|k| k.to_string()),
        section: s.report.title.clone(),
        step_title: step.map(|k| s.report.steps[k].title.clone()),
        duration: human_ms(s.report.duration_ms),
        error: s
            .report
            .error
            .clone()
            .or_else(|| step.and_then(|k| s.report.steps[k].error.clone()))
            .unwrap_or_else(|| "failed".into()),
        checks,
    })
}

fn interventions(model: &Model) -> Vec<Intervention> {
    let lists = std::iter::once(("between sections".to_string(), &model.report.events)).chain(
        model
            .report
            .sections
            .iter()
            .map(|s| (format!("in {}", s.title), &s.events)),
    );
    let mut out = Vec::new();
    for (section, events) in lists {
        for TimedEvent { at_ms, event } in events.iter() {
            if let Event::Intervention { kind, detail } = event {
                out.push(Intervention {
                    at: format!("+{}", human_ms(*at_ms)),
                    section: section.clone(),
                    kind: kind.clone(),
                    detail: detail.clone(),
                });
            }
        }
    }
    out
}

fn totals(model: &Model) -> Vec<Total> {
    let s = &model.report.summary;
    let t = |value, label, class| Total {
        value,
        label,
        class,
    };
    vec![
        t(s.sections_passed, "sections passed", "passed"),
        t(s.sections_failed, "failed", "failed"),
        t(s.sections_skipped, "skipped", "skipped"),
        t(s.sections_not_run, "not run", "not_run"),
        t(s.checks_passed, "checks passed", "passed"),
        t(s.checks_simulated, "passed (simulated)", "simulated"),
        t(s.checks_failed, "failed", "failed"),
        t(s.checks_skipped, "skipped", "skipped"),
        t(s.created, "objects created", "created"),
        t(s.configured, "configured", "configured"),
        t(s.unchanged, "unchanged", "unchanged"),
        t(s.deleted, "deleted", "deleted"),
        t(s.tools_run, "tool runs", "tool"),
        t(s.interventions, "interventions", "intervention"),
    ]
}

/// The page of a run.
pub fn page(model: &Model) -> Page {
    let report = model.report;
    let (exit_code, exit_text) = exit(model);
    let params = report
        .events
        .iter()
        .find_map(|e| match &e.event {
            Event::Parameters { values } => Some(
                values
                    .iter()
                    .map(|(name, value)| Param {
                        name: name.clone(),
                        value: value.clone(),
                    })
                    .collect(),
            ),
            _ => None,
        })
        .unwrap_or_default();
    let setup_events = &report.events;
    let setup_id = |i: usize| {
        matches!(setup_events[i].event, Event::Traffic { .. }).then(|| traffic::id(None, i))
    };
    let setup = colour_rows(model, rows(setup_events, None, &setup_id))
        .into_iter()
        .filter(|r| r.kind != "cluster")
        .collect();
    let count = |f: &dyn Fn(Status) -> bool| report.sections.iter().filter(|s| f(s.status)).count();
    Page {
        title: if report.title.is_empty() {
            report.runbook.clone()
        } else {
            report.title.clone()
        },
        runbook: report.runbook.clone(),
        target: target(&report.target),
        started_at: report.started_at.clone(),
        duration: human_ms(report.duration_ms),
        status: status_class(report.status),
        status_text: match exit_code {
            0 => "passed",
            130 => "interrupted",
            _ => "failed",
        },
        exit_code,
        exit_text,
        clusters: report
            .clusters
            .iter()
            .enumerate()
            .map(|(lane, c)| ClusterView {
                name: c.name.clone(),
                colour: palette::cluster(lane),
                place: c
                    .context
                    .as_ref()
                    .map_or_else(|| "simulated".to_string(), |ctx| format!("context {ctx}")),
                server: c.server.clone(),
                version: c.version.clone(),
            })
            .collect(),
        params,
        interventions: interventions(model),
        totals: totals(model),
        failure: failure(model),
        failed: count(&|s| s == Status::Failed),
        skipped: count(&|s| matches!(s, Status::Skipped | Status::NotRun)),
        timeline: timeline(model),
        traffic: traffic::cards(model),
        setup,
        sections: model
            .sections
            .iter()
            .map(|s| section_view(model, s))
            .collect(),
        bundle: report.bundle.clone(),
        version: env!("CARGO_PKG_VERSION"),
    }
}
