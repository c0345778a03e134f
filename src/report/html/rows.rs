//! Events as rows of the HTML report: what happened, on which cluster, in which step.

use serde::Serialize;

use super::model::{cluster_of, SectionModel};
use crate::report::events::{CheckStatus, Event};
use crate::report::record::TimedEvent;
use crate::report::terminal::human_ms;

/// A short coloured label.
#[derive(Clone, Debug, Serialize)]
pub struct Badge {
    pub text: String,
    pub class: String,
}

impl Badge {
    fn new(text: &str, class: &str) -> Option<Badge> {
        Some(Badge {
            text: text.into(),
            class: class.into(),
        })
    }
}

/// One event as the report lists it.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// Offset from the start of the run: `+1.2s`.
    pub at: String,
    /// What kind of event: the row's class and its label.
    pub kind: &'static str,
    pub cluster: Option<String>,
    /// The cluster's colour (set by the page).
    pub colour: Option<&'static str>,
    /// The steps it happened in (indexes, space-separated), for the timeline's selection.
    pub steps: String,
    pub text: String,
    pub badge: Option<Badge>,
    /// A second line: evidence, a wait's subject.
    pub note: Option<String>,
    /// Preformatted lines: a trace, a tool's output tail.
    pub detail: Option<String>,
    /// The traffic chart of a traffic event.
    pub link: Option<String>,
}

/// The class and text of a check status.
pub fn check_badge(status: CheckStatus) -> Badge {
    let class = match status {
        CheckStatus::Passed => "passed",
        CheckStatus::Failed => "failed",
        CheckStatus::Skipped => "skipped",
        CheckStatus::Simulated => "simulated",
    };
    Badge {
        text: status.as_str().into(),
        class: class.into(),
    }
}

fn at(ms: u64) -> String {
    format!("+{}", human_ms(ms))
}

fn object(kind: &str, namespace: Option<&String>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{}/{name} -n {ns}", kind.to_lowercase()),
        None => format!("{}/{name}", kind.to_lowercase()),
    }
}

/// Rows of a list of events; `traffic_id` names the chart of the `i`th event when it has one.
pub fn rows(
    events: &[TimedEvent],
    section: Option<&SectionModel>,
    traffic_id: &dyn Fn(usize) -> Option<String>,
) -> Vec<Row> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < events.len() {
        let steps = section
            .and_then(|s| s.steps_of.get(i))
            .map(|k| {
                k.iter()
                    .map(|k| k.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        let e = &events[i];
        // A run of tool output lines: one row per tool, its last lines together.
        if matches!(e.event, Event::ToolLine { .. }) {
            let end = events[i..]
                .iter()
                .position(|e| !matches!(e.event, Event::ToolLine { .. }))
                .map_or(events.len(), |n| i + n);
            let mut labels: Vec<(&str, Vec<&str>)> = Vec::new();
            for e in &events[i..end] {
                if let Event::ToolLine { label, line } = &e.event {
                    match labels.iter_mut().find(|(l, _)| l == label) {
                        Some((_, lines)) => lines.push(line),
                        None => labels.push((label, vec![line])),
                    }
                }
            }
            for (label, lines) in labels {
                out.push(Row {
                    at: at(e.at_ms),
                    kind: "output",
                    cluster: None,
                    colour: None,
                    steps: steps.clone(),
                    text: format!("output of {label} (last lines)"),
                    badge: None,
                    note: None,
                    detail: Some(lines.join("\n")),
                    link: None,
                });
            }
            i = end;
            continue;
        }
        if let Some(row) = row(e, steps, traffic_id(i)) {
            out.push(row);
        }
        i += 1;
    }
    out
}

fn row(e: &TimedEvent, steps: String, link: Option<String>) -> Option<Row> {
    let mut r = Row {
        at: at(e.at_ms),
        kind: "note",
        cluster: cluster_of(&e.event).map(String::from),
        colour: None,
        steps,
        text: String::new(),
        badge: None,
        note: None,
        detail: None,
        link: None,
    };
    match &e.event {
        Event::Say { text } => {
            r.kind = "say";
            r.text = text.clone();
        }
        Event::Notice { text } => {
            r.kind = "notice";
            r.text = text.clone();
        }
        Event::StepStarted { title } => {
            r.kind = "step";
            r.text = title.clone();
        }
        Event::Applied {
            kind,
            namespace,
            name,
            outcome,
            dry_run,
            ..
        } => {
            r.kind = "apply";
            r.text = object(kind, namespace.as_ref(), name);
            r.badge = Badge::new(outcome.as_str(), outcome.as_str());
            if *dry_run {
                r.note = Some("dry run".into());
            }
        }
        Event::Deleted {
            kind,
            namespace,
            name,
            existed,
            ..
        } => {
            r.kind = "delete";
            r.text = object(kind, namespace.as_ref(), name);
            r.badge = if *existed {
                Badge::new("deleted", "deleted")
            } else {
                Badge::new("already absent", "unchanged")
            };
        }
        Event::Operation {
            verb,
            target,
            duration_ms,
            ..
        } => {
            r.kind = "operation";
            r.text = format!("{verb} {target}");
            r.note = Some(human_ms(*duration_ms));
        }
        Event::WaitSatisfied {
            what, elapsed_ms, ..
        } => {
            r.kind = "wait";
            r.text = what.clone();
            r.badge = Badge::new(&format!("waited {}", human_ms(*elapsed_ms)), "wait");
        }
        Event::Check {
            name,
            status,
            evidence,
            trace,
        } => {
            r.kind = "check";
            r.text = name.clone();
            r.badge = Some(check_badge(*status));
            r.note = Some(evidence.clone()).filter(|e| !e.is_empty());
            if !trace.is_empty() {
                r.detail = Some(format!("trace:\n{}", trace.join("\n")));
            }
        }
        Event::ToolRun {
            program,
            argv,
            code,
            duration_ms,
            simulated,
            ..
        } => {
            r.kind = "tool";
            r.text = format!("{program} {}", argv.join(" "));
            r.badge = match (code, simulated) {
                (0, true) => Badge::new("exit 0 (simulated)", "simulated"),
                (0, false) => Badge::new("exit 0", "passed"),
                (c, _) => Badge::new(&format!("exit {c}"), "failed"),
            };
            r.note = Some(human_ms(*duration_ms));
        }
        Event::Traffic {
            name,
            status,
            simulated,
            counts,
            attempts,
            ..
        } => {
            r.kind = "traffic";
            let answers: u64 = counts.iter().map(|c| c.count).sum();
            r.text = if answers == 0 {
                format!("traffic: {name}: no answers")
            } else {
                format!(
                    "traffic: {name}: {answers} answer{}{}{}",
                    if answers == 1 { "" } else { "s" },
                    if attempts.is_empty() {
                        String::new()
                    } else {
                        format!(" over {} attempt(s)", attempts.len())
                    },
                    if *simulated {
                        " (simulated data plane)"
                    } else {
                        ""
                    }
                )
            };
            r.badge = Some(check_badge(*status));
            r.link = link;
        }
        Event::Intervention { kind, detail } => {
            r.kind = "intervention";
            r.text = format!("{kind}: {detail}");
        }
        Event::AttemptFailed { attempt, error, .. } => {
            r.kind = "intervention";
            r.text = format!(
                "attempt {attempt} failed, run again: {}",
                error.lines().next().unwrap_or_default()
            );
        }
        Event::Stopped { section } => {
            r.kind = "intervention";
            r.text = format!("stopped at `{section}`");
        }
        Event::ClusterReady {
            cluster,
            context,
            server,
            version,
        } => {
            r.kind = "cluster";
            r.cluster = Some(cluster.clone());
            r.text = format!(
                "{cluster} -> {} ({server}, {version})",
                context.as_deref().unwrap_or("simulated")
            );
        }
        Event::RunStarted { .. }
        | Event::Parameters { .. }
        | Event::WaitProgress { .. }
        | Event::SectionStarted { .. }
        | Event::SectionFinished { .. }
        | Event::StepFinished { .. }
        | Event::RunFinished { .. }
        | Event::ToolLine { .. } => return None,
    }
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timed(at_ms: u64, event: Event) -> TimedEvent {
        TimedEvent { at_ms, event }
    }

    #[test]
    fn tool_output_is_one_row_per_tool_and_checks_show_their_trace() {
        let line = |label: &str, line: &str| {
            timed(
                5,
                Event::ToolLine {
                    label: label.into(),
                    line: line.into(),
                },
            )
        };
        let events = vec![
            line("c1 helm", "a"),
            line("c2 helm", "x"),
            line("c1 helm", "b"),
            timed(
                7,
                Event::Check {
                    name: "GET /".into(),
                    status: CheckStatus::Simulated,
                    evidence: "200".into(),
                    trace: vec!["served by cluster2/productpage".into()],
                },
            ),
        ];
        let rows = rows(&events, None, &|_| None);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].detail.as_deref(), Some("a\nb"));
        assert_eq!(rows[1].text, "output of c2 helm (last lines)");
        let check = &rows[2];
        assert_eq!(check.badge.as_ref().unwrap().class, "simulated");
        assert_eq!(check.badge.as_ref().unwrap().text, "passed (simulated)");
        assert!(check
            .detail
            .as_ref()
            .unwrap()
            .contains("served by cluster2"));
    }
}
