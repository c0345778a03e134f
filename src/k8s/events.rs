//! Recent Events of a namespace or of one object.

use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, ListParams};
use serde::Serialize;

use super::clusters::Cluster;
use super::error::Result;
use super::retry::retrying;

/// One Event, as `kubectl events` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventSummary {
    /// `Normal` or `Warning`.
    pub kind: String,
    /// Reason, e.g. `FailedScheduling`.
    pub reason: String,
    /// `Kind/name` of the object.
    pub object: String,
    /// Message.
    pub message: String,
    /// How many times it happened.
    pub count: i32,
    /// When it last happened (RFC 3339), if known.
    pub last_seen: Option<String>,
}

fn summarize(e: Event) -> EventSummary {
    let last_seen = e
        .last_timestamp
        .map(|t| t.0.to_string())
        .or_else(|| e.event_time.map(|t| t.0.to_string()))
        .or_else(|| e.metadata.creation_timestamp.map(|t| t.0.to_string()));
    EventSummary {
        kind: e.type_.unwrap_or_else(|| "Normal".into()),
        reason: e.reason.unwrap_or_default(),
        object: format!(
            "{}/{}",
            e.involved_object.kind.unwrap_or_default(),
            e.involved_object.name.unwrap_or_default()
        ),
        message: e.message.unwrap_or_default().trim().to_string(),
        count: e.count.unwrap_or(1),
        last_seen,
    }
}

/// Lines `<indent>Warning  BackOff  Pod/x: message (x3)`, oldest first, each preceded by `\n`.
pub fn render_events(events: &[EventSummary], indent: &str) -> String {
    events
        .iter()
        .map(|e| {
            let count = if e.count > 1 {
                format!(" (x{})", e.count)
            } else {
                String::new()
            };
            format!(
                "\n{indent}{}  {}  {}: {}{count}",
                e.kind, e.reason, e.object, e.message
            )
        })
        .collect()
}

impl Cluster {
    /// The last `limit` Events of a namespace, oldest first; of one object when `name` is given
    /// (`fieldSelector=involvedObject.name=NAME`, checked again here).
    pub async fn recent_events(
        &self,
        ns: &str,
        name: Option<&str>,
        limit: usize,
    ) -> Result<Vec<EventSummary>> {
        let api: Api<Event> = Api::namespaced(self.client().clone(), ns);
        let mut lp = ListParams::default();
        if let Some(n) = name {
            lp = lp.fields(&format!("involvedObject.name={n}"));
        }
        let list = retrying(|| api.list(&lp))
            .await
            .map_err(|e| self.api_error("list", format!("Events in {ns}"), e))?;
        let mut events: Vec<EventSummary> = list
            .items
            .into_iter()
            .filter(|e| name.is_none() || e.involved_object.name.as_deref() == name)
            .map(summarize)
            .collect();
        events.sort_by(|a, b| a.last_seen.cmp(&b.last_seen));
        let skip = events.len().saturating_sub(limit);
        Ok(events.split_off(skip))
    }

    /// The last `limit` Events of a workload and the Warnings of what it owns by name
    /// (`web` -> ReplicaSet `web-7c9f`, Pod `web-7c9f-x2x`): where a stuck rollout says why.
    pub async fn workload_events(
        &self,
        ns: &str,
        name: &str,
        limit: usize,
    ) -> Result<Vec<EventSummary>> {
        let all = self.recent_events(ns, None, usize::MAX).await?;
        let mut events: Vec<EventSummary> = all.into_iter().filter(|e| is_about(name, e)).collect();
        let skip = events.len().saturating_sub(limit);
        Ok(events.split_off(skip))
    }
}

/// Whether an Event is about a workload: its own, or a Warning of an object named after it.
pub fn is_about(workload: &str, e: &EventSummary) -> bool {
    let involved = e
        .object
        .split_once('/')
        .map_or(e.object.as_str(), |(_, n)| n);
    involved == workload || (e.kind == "Warning" && involved.starts_with(&format!("{workload}-")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workload_owns_the_warnings_of_its_pods() {
        let ev = |kind: &str, object: &str| EventSummary {
            kind: kind.into(),
            reason: "r".into(),
            object: object.into(),
            message: String::new(),
            count: 1,
            last_seen: None,
        };
        assert!(is_about("web", &ev("Normal", "Deployment/web")));
        assert!(is_about("web", &ev("Warning", "Pod/web-7c9f-x2x")));
        assert!(!is_about("web", &ev("Normal", "Pod/web-7c9f-x2x")));
        assert!(!is_about("web", &ev("Warning", "Pod/webhook-1")));
        assert!(!is_about("web", &ev("Warning", "Deployment/other")));
    }

    #[test]
    fn events_render_one_per_line() {
        let e = EventSummary {
            kind: "Warning".into(),
            reason: "BackOff".into(),
            object: "Pod/web-1".into(),
            message: "restarting".into(),
            count: 3,
            last_seen: None,
        };
        assert_eq!(
            render_events(&[e], "  "),
            "\n  Warning  BackOff  Pod/web-1: restarting (x3)"
        );
    }
}
