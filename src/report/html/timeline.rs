//! The timeline of the HTML report as SVG shapes: a row of sections, a row of what happened on
//! no cluster (checks of URLs, tools without a context), and one lane per cluster with the
//! sections and steps that touched it, its waits, tool runs, applies and checks.

use serde::Serialize;

use super::marks::{merge_marks, Builder, Layout};
use super::model::Model;
use super::palette::{cluster as cluster_colour, r1};
use super::scale::Scale;
use crate::report::events::{CheckStatus, Status};

pub const WIDTH: f64 = 1200.0;
pub const PLOT_X0: f64 = 150.0;
pub const PLOT_X1: f64 = 1188.0;
/// The narrowest a section is drawn, so that each can be seen and clicked.
pub const MIN_SECTION: f64 = 14.0;
pub(super) const AXIS: f64 = 20.0;
pub(super) const SECTIONS_H: f64 = 28.0;
pub(super) const OTHER_H: f64 = 20.0;
pub(super) const LANE_H: f64 = 60.0;

#[derive(Clone, Debug, Serialize)]
pub struct Tick {
    pub x: f64,
    pub label: String,
    /// The bottom of its grid line.
    pub y1: f64,
}

/// A row of the timeline: its label in the gutter and its band.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub y: f64,
    pub h: f64,
    pub label: String,
    pub class: &'static str,
    pub colour: Option<&'static str>,
    pub cluster: Option<String>,
    /// The label's baseline.
    pub ly: f64,
}

/// A clickable shape: a bar (`rect`) or a check (`polygon`).
#[derive(Clone, Debug, Serialize)]
pub struct Shape {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    /// Set for a polygon (a check's diamond).
    pub points: Option<String>,
    pub class: String,
    /// The section's index, or `setup` for events outside any section.
    pub sec: String,
    /// The step's index (a string: step 0 is a step).
    pub step: Option<String>,
    pub cluster: Option<String>,
    /// The tooltip.
    pub tip: String,
    pub label: Option<String>,
    pub lx: f64,
    pub ly: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Timeline {
    pub width: f64,
    pub height: f64,
    pub plot_x0: f64,
    pub plot_x1: f64,
    pub ticks: Vec<Tick>,
    pub rows: Vec<Row>,
    pub shapes: Vec<Shape>,
    pub lanes: usize,
}

/// The CSS class of a section or step status.
pub fn status_class(s: Status) -> &'static str {
    match s {
        Status::Passed => "passed",
        Status::Failed => "failed",
        Status::Skipped => "skipped",
        Status::NotRun => "not_run",
        Status::Unverified => "unverified",
        Status::Stopped => "stopped",
    }
}

pub fn check_class(s: CheckStatus) -> &'static str {
    match s {
        CheckStatus::Passed => "passed",
        CheckStatus::Failed => "failed",
        CheckStatus::Skipped => "skipped",
        CheckStatus::Simulated => "simulated",
    }
}

/// The scale of a run: every section at least [`MIN_SECTION`] wide.
pub fn scale(model: &Model) -> Scale {
    let spans: Vec<(u64, u64)> = model
        .report
        .sections
        .iter()
        .map(|s| (s.started_ms, s.duration_ms))
        .collect();
    Scale::new(
        &spans,
        model.report.duration_ms,
        PLOT_X0,
        PLOT_X1 - PLOT_X0,
        MIN_SECTION,
    )
}

/// The timeline of a run.
pub fn timeline(model: &Model) -> Timeline {
    let layout = Layout {
        sections_y: AXIS,
        other_y: AXIS + SECTIONS_H,
        lanes_y: AXIS + SECTIONS_H + OTHER_H + 4.0,
    };
    let height = layout.lanes_y + model.lanes.len() as f64 * LANE_H + 4.0;
    let mut rows = vec![
        Row {
            y: layout.sections_y,
            h: SECTIONS_H,
            label: "sections".into(),
            class: "row sections",
            colour: None,
            cluster: None,
            ly: layout.sections_y + SECTIONS_H / 2.0 + 4.0,
        },
        Row {
            y: layout.other_y,
            h: OTHER_H,
            label: "no cluster".into(),
            class: "row other",
            colour: None,
            cluster: None,
            ly: layout.other_y + OTHER_H / 2.0 + 4.0,
        },
    ];
    for (lane, name) in model.lanes.iter().enumerate() {
        rows.push(Row {
            y: layout.lane_y(lane),
            h: LANE_H,
            label: name.clone(),
            class: "row lane",
            colour: Some(cluster_colour(lane)),
            cluster: Some(name.clone()),
            ly: layout.lane_y(lane) + 13.0,
        });
    }
    let scale = scale(model);
    let ticks = scale
        .ticks(model.report.duration_ms, 48.0)
        .into_iter()
        .map(|t| Tick {
            x: r1(t.x),
            label: t.label,
            y1: r1(height),
        })
        .collect();
    let mut b = Builder::new(model, scale, layout);
    b.events(&model.report.events, None);
    for s in &model.sections {
        b.section(s);
    }
    // Bars under marks under checks, so nothing small hides behind something big.
    let rank = |s: &Shape| {
        if s.class.starts_with("bar") {
            0
        } else if s.class.starts_with("mark") {
            1
        } else {
            2
        }
    };
    b.shapes.sort_by_key(rank);
    let shapes = merge_marks(b.shapes);
    Timeline {
        width: WIDTH,
        height: r1(height),
        plot_x0: PLOT_X0,
        plot_x1: PLOT_X1,
        ticks,
        rows,
        shapes,
        lanes: model.lanes.len(),
    }
}
