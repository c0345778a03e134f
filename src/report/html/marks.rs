//! The shapes of the timeline: a bar per section (in its row and in the lanes of the clusters
//! it touched), a bar per step in the lanes of the clusters it touched (or in the row of no
//! cluster), waits and tool runs as bars under them, applies and deletes as ticks, checks as
//! diamonds.

use super::model::{cluster_of, Model, SectionModel};
use super::palette::{fit, r1};
use super::scale::Scale;
use super::timeline::{check_class, status_class, Shape, LANE_H, OTHER_H, SECTIONS_H};
use crate::report::events::{Event, Status};
use crate::report::record::TimedEvent;
use crate::report::terminal::human_ms;

fn first_line(text: &str) -> &str {
    text.lines().find(|l| !l.trim().is_empty()).unwrap_or("")
}

/// Where each kind of shape goes: the row of sections, of no cluster, or a lane.
pub(super) struct Layout {
    pub sections_y: f64,
    pub other_y: f64,
    pub lanes_y: f64,
}

impl Layout {
    pub fn lane_y(&self, lane: usize) -> f64 {
        self.lanes_y + lane as f64 * LANE_H
    }
}

pub(super) struct Builder<'a> {
    model: &'a Model<'a>,
    scale: Scale,
    layout: Layout,
    pub shapes: Vec<Shape>,
}

impl<'a> Builder<'a> {
    pub fn new(model: &'a Model<'a>, scale: Scale, layout: Layout) -> Builder<'a> {
        Builder {
            model,
            scale,
            layout,
            shapes: Vec::new(),
        }
    }

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

    pub fn section(&mut self, s: &SectionModel) {
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
    pub fn events(&mut self, events: &[TimedEvent], s: Option<&SectionModel>) {
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

/// Applies and deletes a few pixels apart in the same step and lane become one mark whose
/// tooltip lists them (a chart of 300 CRDs is 300 ticks on one spot otherwise).
pub(super) fn merge_marks(shapes: Vec<Shape>) -> Vec<Shape> {
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
