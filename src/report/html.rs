//! The HTML report (`--report run.html`): one self-contained page (styles, script and data
//! inline, nothing fetched) with the run's header, its first failure, a timeline of sections
//! and steps with one lane per cluster, traffic charts, and every section's events.
//!
//! | file | holds |
//! | --- | --- |
//! | `html/model.rs` | `Model`: events placed in steps, clusters touched, lanes |
//! | `html/scale.rs` | `Scale`: run time to x, every section at least a few pixels wide |
//! | `html/timeline.rs`, `html/marks.rs` | the timeline's rows and its SVG shapes |
//! | `html/traffic.rs`, `html/chart.rs` | the traffic charts, their columns and tables |
//! | `html/rows.rs` | events as rows |
//! | `html/page.rs` | `Page`: everything the template shows |
//! | `html/page.hbs`, `page.css`, `page.js` | the template, its styles and its script |
//!
//! Secrets are masked like in every other report: the page's data is redacted value by value
//! before it is escaped into HTML (so an escaped form cannot slip through), then the whole page.

mod chart;
mod marks;
mod model;
mod page;
mod palette;
mod rows;
mod scale;
mod timeline;
mod traffic;

use super::record::RunReport;
use super::redact::Redactor;

const TEMPLATE: &str = include_str!("html/page.hbs");
const STYLE: &str = include_str!("html/page.css");
const SCRIPT: &str = include_str!("html/page.js");

/// Renders the page of a run, every secret masked.
pub fn render(report: &RunReport, redactor: &Redactor) -> String {
    let model = model::Model::new(report);
    let page = page::page(&model);
    let mut data = serde_json::to_value(&page).unwrap_or_default();
    data = redactor.redact_json(&data);
    if let serde_json::Value::Object(map) = &mut data {
        map.insert("style".into(), STYLE.into());
        map.insert("script".into(), SCRIPT.into());
    }
    // Not strict: absent values (`None`) are simply not shown; the tests check what is.
    let mut hb = crate::base::template::html_registry();
    let html = hb
        .register_template_string("page", TEMPLATE)
        .map_err(|e| e.to_string())
        .and_then(|()| hb.render("page", &data).map_err(|e| e.to_string()))
        // The template is ours and tested: this is a bug, said plainly in the page.
        .unwrap_or_else(|e| {
            format!(
                "<!DOCTYPE html><meta charset=\"utf-8\"><title>meshbook report</title><p>meshbook could not render this report: {}</p>",
                handlebars::html_escape(&e)
            )
        });
    redactor.redact(&html)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::events::{ApplyOutcome, CheckStatus, Event, Status, TrafficAttempt};
    use crate::report::record::Recorder;
    use std::collections::BTreeMap;

    fn event(r: &mut Recorder, e: Event) {
        r.record(&e);
    }

    /// Two clusters, a passing section with a step on both, a failover in traffic, and a
    /// failed section whose check carries a secret in several forms.
    fn run(secret: &str) -> RunReport {
        let mut r = Recorder::new(vec!["Link".into(), "Failover".into(), "Later".into()]);
        event(
            &mut r,
            Event::RunStarted {
                runbook: "demo".into(),
                title: "Demo <run>".into(),
                target: "simulated".into(),
            },
        );
        for c in ["cluster1", "cluster2"] {
            event(
                &mut r,
                Event::ClusterReady {
                    cluster: c.into(),
                    context: None,
                    server: "http://127.0.0.1:1".into(),
                    version: "v1.32".into(),
                },
            );
        }
        event(
            &mut r,
            Event::Parameters {
                values: BTreeMap::from([
                    ("ISTIO_VERSION".to_string(), "1.26.2".to_string()),
                    ("TOKEN".to_string(), secret.to_string()),
                ]),
            },
        );
        event(
            &mut r,
            Event::SectionStarted {
                title: "Link".into(),
            },
        );
        event(
            &mut r,
            Event::StepStarted {
                title: "Both".into(),
            },
        );
        for c in ["cluster1", "cluster2"] {
            event(
                &mut r,
                Event::Applied {
                    cluster: c.into(),
                    kind: "Namespace".into(),
                    namespace: None,
                    name: "istio-gateways".into(),
                    outcome: ApplyOutcome::Created,
                    dry_run: false,
                },
            );
            event(
                &mut r,
                Event::WaitSatisfied {
                    cluster: c.into(),
                    what: "deployment/x rolled out".into(),
                    elapsed_ms: 3,
                },
            );
        }
        event(
            &mut r,
            Event::StepFinished {
                title: "Both".into(),
                status: Status::Passed,
                duration_ms: 4,
                error: None,
            },
        );
        event(
            &mut r,
            Event::SectionFinished {
                title: "Link".into(),
                status: Status::Passed,
                duration_ms: 5,
                error: None,
            },
        );
        event(
            &mut r,
            Event::SectionStarted {
                title: "Failover".into(),
            },
        );
        event(
            &mut r,
            Event::StepStarted {
                title: "Served by cluster2".into(),
            },
        );
        let attempt = |c: &str, held| TrafficAttempt {
            after_ms: 1,
            status: 200,
            key: "200".into(),
            held,
            served_by: Some(c.into()),
        };
        event(
            &mut r,
            Event::Check {
                name: "GET http://in/: contains cluster2".into(),
                status: CheckStatus::Failed,
                evidence: format!("body <b>{secret}</b>"),
                trace: vec![format!("served by cluster1: key {secret}")],
            },
        );
        event(
            &mut r,
            Event::Traffic {
                name: "GET http://in/: contains cluster2".into(),
                url: "http://in/".into(),
                cluster: None,
                status: CheckStatus::Failed,
                simulated: true,
                counts: vec![crate::report::TrafficCount {
                    key: "200".into(),
                    served_by: Some("cluster1".into()),
                    count: 2,
                }],
                attempts: vec![attempt("cluster1", false), attempt("cluster2", false)],
                elapsed_ms: 2,
            },
        );
        event(
            &mut r,
            Event::StepFinished {
                title: "Served by cluster2".into(),
                status: Status::Failed,
                duration_ms: 2,
                error: Some("check failed".into()),
            },
        );
        event(
            &mut r,
            Event::SectionFinished {
                title: "Failover".into(),
                status: Status::Failed,
                duration_ms: 3,
                error: Some(format!("error: check failed: {secret}")),
            },
        );
        event(
            &mut r,
            Event::RunFinished {
                status: Status::Failed,
                duration_ms: 20,
            },
        );
        r.finish()
    }

    #[test]
    fn the_page_is_self_contained_and_shows_the_failure_first() {
        let html = render(&run("s3cr&t<value>"), &Redactor::new());
        assert!(html.starts_with("<!DOCTYPE html>"), "{}", &html[..200]);
        for external in ["src=\"http", "href=\"http", "<link", "@import", "url(http"] {
            assert!(!html.contains(external), "{external}");
        }
        let failure = html.find("id=\"failure\"").expect("a failure block");
        let timeline = html.find("id=\"timeline\"").expect("a timeline");
        assert!(failure < timeline);
        assert!(html.contains("Demo &lt;run&gt;"));
        assert_eq!(html.matches("class=\"row lane\"").count(), 2);
        assert_eq!(html.matches("class=\"shape bar section ").count(), 3);
        assert!(html.contains("exit 1"));
        assert!(html.contains("ISTIO_VERSION"));
        // The simulated answers are hatched with the chart's own pattern.
        assert!(html.contains("<pattern id=\"sim-0\""));
        assert!(html.contains("class=\"simhatch\"") && html.contains("fill=\"url(#sim-0)\""));
    }

    #[test]
    fn secrets_are_masked_in_every_form_the_page_holds() {
        let secret = "s3cr&t<value>";
        let red = Redactor::new();
        red.add(secret).expect("a secret long enough to mask");
        let html = render(&run(secret), &red);
        let escaped = handlebars::html_escape(secret);
        for form in [secret, escaped.as_str(), "s3cr&amp;t"] {
            assert!(!html.contains(form), "{form} leaked");
        }
        assert!(html.contains("***"));
    }
}
