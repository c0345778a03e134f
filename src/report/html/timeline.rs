//! The timeline of the HTML report as SVG shapes: a row of sections, a row of what happened on
//! no cluster (checks of URLs, tools without a context), and one lane per cluster with the
//! sections and steps that touched it, its waits, tool runs, applies and checks.

use serde::Serialize;

use super::model::{cluster_of, Model, SectionModel};
use super::palette::{cluster as cluster_colour, fit, r1};
use super::scale::Scale;
use crate::report::events::{CheckStatus, Event, Status};
use crate::report::record::TimedEvent;
use crate::report::terminal::human_ms;

pub const WIDTH: f64 = 1200.0;
pub const PLOT_X0: f64 = 150.0;
pub const PLOT_X1: f64 = 1188.0;
/// The narrowest a section is drawn, so that each can be seen and clicked.
pub const MIN_SECTION: f64 = 14.0;
const AXIS: f64 = 20.0;
const SECTIONS_H: f64 = 28.0;
const OTHER_H: f64 = 20.0;
const LANE_H: f64 = 60.0;

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

fn first_line(text: &str) -> &str {
    text.lines().find(|l| !l.trim().is_empty()).unwrap_or("")
}

/// Where each kind of shape goes: the row of sections, of no cluster, or a lane.
struct Layout {
    sections_y: f64,
    other_y: f64,
    lanes_y: f64,
}

impl Layout {
    fn lane_y(&self, lane: usize) -> f64 {
        self.lanes_y + lane as f64 * LANE_H
    }
}

struct Builder<'a> {
    model: &'a Model<'a>,
    scale: Scale,
    layout: Layout,
    shapes: Vec<Shape>,
}

impl Builder<'_> {
    fn lane(&self, cluster: &str) -> Option<usize> {
        self.model.lanes.iter().position(|l| l == cluster)
    }

    #[allow(clippy::too_many_arguments)] // a shape's geometry and what it stands for
    fn push(
        &mut self,
        (x0, x1): (f64, f64),
        (y, h): (f64, f64),
        min_w: f64,
        class: String,
        (sec, step, cluster): (String, Option<usize>, Option<&str>),
        tip: String,
        label: Option<String>,
    ) {
        let w = (x1 - x0).max(min_w);
        self.shapes.push(Shape {
            x: r1(x0),
            y: r1(y),
            w: r1(w),
            h: r1(h),
            points: None,
            class,
            sec,
            step: step.map(|k| k.to_string()),
            cluster: cluster.map(String::from),
            tip,
            label,
            lx: r1(x0 + 4.0),
            ly: r1(y + h / 2.0 + 4.0),
        });
    }

    fn diamond(
        &mut self,
        x: f64,
        cy: f64,
        class: String,
        (sec, step, cluster): (String, Option<usize>, Option<&str>),
        tip: String,
    ) {
        let r = 5.5;
        self.shapes.push(Shape {
            x: r1(x - r),
            y: r1(cy - r),
            w: r1(2.0 * r),
            h: r1(2.0 * r),
            points: Some(format!(
                "{},{} {},{} {},{} {},{}",
                r1(x),
                r1(cy - r),
                r1(x + r),
                r1(cy),
                r1(x),
                r1(cy + r),
                r1(x - r),
                r1(cy)
            )),
            class,
            sec,
            step: step.map(|k| k.to_string()),
            cluster: cluster.map(String::from),
            tip,
            label: None,
            lx: 0.0,
            ly: 0.0,
        });
    }

    fn section(&mut self, s: &SectionModel) {
        let r = s.report;
        let (x0, x1) = self.scale.section(s.index);
        let status = status_class(r.status);
        let what = match r.status {
            Status::Skipped | Status::NotRun => r.status.as_str().to_string(),
            _ => format!("{}, {}", r.status.as_str(), human_ms(r.duration_ms)),
        };
        let mut tip = format!("{} ({what})", r.title);
        if let Some(e) = &r.error {
            tip.push_str(&format!("\n{}", first_line(e)));
        }
        let sec = s.index.to_string();
        let y = self.layout.sections_y;
        self.push(
            (x0 + 0.5, x1 - 0.5),
            (y + 3.0, SECTIONS_H - 6.0),
            2.0,
            format!("bar section {status}"),
            (sec.clone(), None, None),
            tip.clone(),
            fit(&r.title, x1 - x0 - 8.0),
        );
        for c in &s.clusters {
            let Some(lane) = self.lane(c) else { continue };
            let y = self.layout.lane_y(lane);
            self.push(
                (x0 + 0.5, x1 - 0.5),
                (y + 3.0, 12.0),
                2.0,
                format!("bar band {status}"),
                (sec.clone(), None, Some(c)),
                format!("{tip}\non {c}"),
                fit(&r.title, x1 - x0 - 8.0),
            );
        }
        for (k, step) in r.steps.iter().enumerate() {
            let sx0 = self.scale.x(Some(s.index), step.started_ms);
            let sx1 = self
                .scale
                .x(Some(s.index), step.started_ms + step.duration_ms);
            let depth = s.depth.get(k).copied().unwrap_or(0) as f64;
            let inset = (depth * 3.0).min(6.0);
            let mut tip = format!(
                "{} › {} ({}, {})",
                r.title,
                step.title,
                step.status.as_str(),
                human_ms(step.duration_ms)
            );
            if let Some(e) = &step.error {
                tip.push_str(&format!("\n{}", first_line(e)));
            }
            let class = format!("bar step {} depth{}", status_class(step.status), depth);
            let touched = s.step_clusters.get(k).map_or(&[][..], |c| &c[..]);
            if touched.is_empty() {
                // A step on no cluster (checks of URLs, `say`) sits in the row of no cluster.
                let y = self.layout.other_y + 3.0 + inset / 2.0;
                self.push(
                    (sx0, sx1.min(x1)),
                    (y, OTHER_H - 6.0 - inset),
                    3.0,
                    class.clone(),
                    (sec.clone(), Some(k), None),
                    tip.clone(),
                    None,
                );
            }
            for c in touched {
                let Some(lane) = self.lane(c) else { continue };
                let y = self.layout.lane_y(lane) + 18.0 + inset;
                self.push(
                    (sx0, sx1.min(x1)),
                    (y, 18.0 - 2.0 * inset),
                    3.0,
                    class.clone(),
                    (sec.clone(), Some(k), Some(c)),
                    format!("{tip}\non {c}"),
                    fit(&step.title, sx1 - sx0 - 8.0).filter(|_| depth == 0.0),
                );
            }
        }
        self.events(&r.events, Some(s));
    }

    /// Waits, tools, applies and checks of a list of events.
    fn events(&mut self, events: &[TimedEvent], s: Option<&SectionModel>) {
        let sec = s.map_or_else(|| "setup".to_string(), |s| s.index.to_string());
        let index = s.map(|s| s.index);
        let scale = self.scale.clone();
        for (i, e) in events.iter().enumerate() {
            let step = s.and_then(|s| s.step_of(i));
            let x = |t: u64| scale.x(index, t);
            let cluster = cluster_of(&e.event);
            let lane_y = cluster
                .and_then(|c| self.lane(c))
                .map(|l| self.layout.lane_y(l));
            let activity_y = lane_y.map_or(self.layout.other_y + 4.0, |y| y + 40.0);
            let place = (sec.clone(), step, cluster);
            match &e.event {
                Event::WaitSatisfied {
                    what, elapsed_ms, ..
                } => {
                    let (x0, x1) = (x(e.at_ms.saturating_sub(*elapsed_ms)), x(e.at_ms));
                    self.push(
                        (x0, x1),
                        (activity_y, 12.0),
                        2.0,
                        "mark wait".into(),
                        place,
                        format!("wait: {what} ({})", human_ms(*elapsed_ms)),
                        None,
                    );
                }
                Event::ToolRun {
                    program,
                    argv,
                    code,
                    duration_ms,
                    simulated,
                    ..
                } => {
                    let (x0, x1) = (x(e.at_ms.saturating_sub(*duration_ms)), x(e.at_ms));
                    let class = match (code, simulated) {
                        (0, true) => "mark tool simulated",
                        (0, false) => "mark tool",
                        _ => "mark tool failed",
                    };
                    self.push(
                        (x0, x1),
                        (activity_y, 12.0),
                        2.0,
                        class.into(),
                        place,
                        format!(
                            "tool: {program} {} -> exit {code}{} ({})",
                            argv.join(" "),
                            if *simulated { " (simulated)" } else { "" },
                            human_ms(*duration_ms)
                        ),
                        None,
                    );
                }
                Event::Applied {
                    kind,
                    name,
                    outcome,
                    ..
                } if lane_y.is_some() => {
                    let x0 = x(e.at_ms);
                    self.push(
                        (x0, x0),
                        (activity_y + 1.0, 10.0),
                        1.6,
                        format!("mark apply {}", outcome.as_str()),
                        place,
                        format!("{}/{name} {}", kind.to_lowercase(), outcome.as_str()),
                        None,
                    );
                }
                Event::Deleted { kind, name, .. } if lane_y.is_some() => {
                    let x0 = x(e.at_ms);
                    self.push(
                        (x0, x0),
                        (activity_y + 1.0, 10.0),
                        1.6,
                        "mark delete".into(),
                        place,
                        format!("{}/{name} deleted", kind.to_lowercase()),
                        None,
                    );
                }
                Event::Check { name, status, .. } => {
                    // The traffic event that follows a check says where its requests went in.
                    let entry = events.get(i + 1).and_then(|n| match &n.event {
                        Event::Traffic {
                            name: n, cluster, ..
                        } if n == name => cluster.as_deref(),
                        _ => None,
                    });
                    let cy = entry
                        .and_then(|c| self.lane(c))
                        .map_or(self.layout.other_y + OTHER_H / 2.0, |l| {
                            self.layout.lane_y(l) + 46.0
                        });
                    self.diamond(
                        x(e.at_ms),
                        cy,
                        format!("check {}", check_class(*status)),
                        (sec.clone(), step, entry),
                        format!("check {}: {name}", status.as_str()),
                    );
                }
                Event::Traffic { name, status, .. } => {
                    // A sample that answered has no check of its own: its traffic is the mark.
                    let checked = i > 0
                        && matches!(&events[i - 1].event, Event::Check { name: n, .. } if n == name);
                    if !checked {
                        let cy = lane_y.map_or(self.layout.other_y + OTHER_H / 2.0, |y| y + 46.0);
                        self.diamond(
                            x(e.at_ms),
                            cy,
                            format!("check {}", check_class(*status)),
                            place,
                            format!("{} {name}", status.as_str()),
                        );
                    }
                }
                _ => {}
            }
        }
    }
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
    let mut b = Builder {
        model,
        scale,
        layout,
        shapes: Vec::new(),
    };
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

/// Applies and deletes a few pixels apart in the same step and lane become one mark whose
/// tooltip lists them (a chart of 300 CRDs is 300 ticks on one spot otherwise).
fn merge_marks(shapes: Vec<Shape>) -> Vec<Shape> {
    const LISTED: usize = 12;
    let mut out: Vec<Shape> = Vec::with_capacity(shapes.len());
    let mut counts: Vec<usize> = Vec::with_capacity(shapes.len());
    for s in shapes {
        let small = s.class.starts_with("mark apply") || s.class.starts_with("mark delete");
        let same = |o: &Shape| {
            o.class == s.class
                && o.sec == s.sec
                && o.step == s.step
                && o.cluster == s.cluster
                && o.y == s.y
                && (s.x - (o.x + o.w)).abs() < 4.0
        };
        let found = small.then(|| out.iter().rposition(same)).flatten();
        match found {
            Some(k) => {
                let o = &mut out[k];
                o.w = r1((s.x + s.w - o.x).max(o.w));
                counts[k] += 1;
                if counts[k] <= LISTED {
                    o.tip.push('\n');
                    o.tip.push_str(&s.tip);
                } else if counts[k] == LISTED + 1 {
                    o.tip.push_str("\n…");
                }
            }
            None => {
                out.push(s);
                counts.push(1);
            }
        }
    }
    for (s, n) in out.iter_mut().zip(counts) {
        if n > 1 {
            s.tip = format!("{n} objects:\n{}", s.tip);
        }
    }
    out
}
