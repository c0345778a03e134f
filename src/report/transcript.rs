//! One readable line per event: the transcript the Markdown and JUnit reports and the
//! terminal's detail lines share. Text is used as given (the report was redacted before it is
//! rendered); nothing is rewritten or lowercased after that (a kind is written the way kubectl
//! writes it, `deployment/web`, from the field itself).

use super::events::Event;
use super::record::TimedEvent;

/// One readable line for an event (a check with a trace spans several), or `None` for events
/// that are only structure.
pub fn event_line(e: &TimedEvent) -> Option<String> {
    Some(match &e.event {
        Event::Say { text } => text.clone(),
        Event::Notice { text } => format!("note: {text}"),
        Event::Applied {
            cluster,
            kind,
            namespace,
            name,
            outcome,
            dry_run,
        } => format!(
            "[{cluster}] {}/{name} {}{}",
            kind.to_lowercase(),
            outcome.as_str(),
            match (namespace, dry_run) {
                (Some(ns), true) => format!(" (namespace {ns}, dry run)"),
                (Some(ns), false) => format!(" (namespace {ns})"),
                (None, true) => " (dry run)".to_string(),
                (None, false) => String::new(),
            }
        ),
        Event::Deleted {
            cluster,
            kind,
            namespace,
            name,
            existed,
        } => format!(
            "[{cluster}] {}/{name} {}{}",
            kind.to_lowercase(),
            if *existed {
                "deleted"
            } else {
                "already absent"
            },
            namespace
                .as_ref()
                .map(|ns| format!(" (namespace {ns})"))
                .unwrap_or_default()
        ),
        Event::Operation {
            cluster,
            verb,
            target,
            ..
        } => format!("[{cluster}] {verb} {target}"),
        Event::WaitSatisfied {
            cluster,
            what,
            elapsed_ms,
        } => format!(
            "[{cluster}] {what} ({})",
            super::terminal::human_ms(*elapsed_ms)
        ),
        Event::Check {
            name,
            status,
            evidence,
            trace,
        } => {
            let mut line = format!("check {}: {name}: {evidence}", status.as_str());
            for hop in trace {
                line.push_str("\n    trace: ");
                line.push_str(hop);
            }
            line
        }
        Event::ToolRun {
            cluster,
            program,
            argv,
            code,
            simulated,
            ..
        } => format!(
            "{}{program} {} -> exit {code}{}",
            cluster
                .as_ref()
                .map(|c| format!("[{c}] "))
                .unwrap_or_default(),
            argv.join(" "),
            if *simulated { " (simulated)" } else { "" }
        ),
        Event::Intervention { kind, detail } => format!("{kind}: {detail}"),
        Event::ClusterReady {
            cluster,
            context,
            server,
            version,
        } => format!(
            "{cluster} -> {} ({server}, {version})",
            context.as_deref().unwrap_or("simulated")
        ),
        Event::AttemptFailed {
            title,
            attempt,
            error,
            ..
        } => format!(
            "attempt {attempt} of `{title}` failed; running it again: {}",
            error.lines().next().unwrap_or_default()
        ),
        Event::Stopped { section } => format!("stopped before `{section}` at the prompt"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::events::CheckStatus;

    fn line(event: Event) -> String {
        event_line(&TimedEvent { at_ms: 0, event }).unwrap_or_default()
    }

    #[test]
    fn checks_keep_their_case_and_say_simulated() {
        let text = line(Event::Check {
            name: "contains `Simple Bookstore App`".into(),
            status: CheckStatus::Simulated,
            evidence: "HTTP 200".into(),
            trace: vec!["served by cluster2/productpage-v1".into()],
        });
        assert_eq!(
            text,
            "check passed (simulated): contains `Simple Bookstore App`: HTTP 200\n    trace: served by cluster2/productpage-v1"
        );
    }
}
