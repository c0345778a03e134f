//! The columns and the table of a traffic chart: each check's or sample's answers as cells,
//! the sections the columns ran in, and one line per check under the chart.

use serde::Serialize;

use super::model::Model;
use super::palette::{fit, r1};
use super::rows::{check_badge, Badge};
use super::timeline::check_class;
use super::traffic::{Colours, Seen, BAR_H, LEFT};
use crate::report::events::TrafficCount;
use crate::report::terminal::human_ms;

/// One answer (or a share of a sample's answers) in a column.
#[derive(Clone, Debug, Serialize)]
pub struct Cell {
    pub y: f64,
    pub h: f64,
    pub fill: &'static str,
    pub unmet: bool,
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

/// A column's cells, bottom to top: each attempt in order, or a sample's shares.
pub(super) fn cells(s: &Seen, colours: &Colours, base: f64) -> Vec<Cell> {
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
pub(super) fn ordered(counts: &[TrafficCount]) -> Vec<&TrafficCount> {
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

pub(super) fn line(s: &Seen, number: usize, place: String, colours: &Colours) -> Line {
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
pub(super) fn spans(model: &Model, group: &[&Seen], slot: f64) -> Vec<Span> {
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
