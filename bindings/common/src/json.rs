//! Events and stats as JSON. Leases are Kubernetes JSON; timestamps are
//! RFC 3339 in UTC.

use elector_core::{Event, Lease, LostReason, Stats};
use serde_json::{Value, json};

/// One event: `{"kind": "acquired", ...}`, with the fields of its variant.
pub fn event(event: &Event) -> Value {
    let lease = |l: &Lease| serde_json::to_value(l).unwrap_or(Value::Null);
    match event {
        Event::Acquired {
            lease: l,
            identity,
            term,
        } => json!({"kind": "acquired", "lease": lease(l), "identity": identity, "term": term}),
        Event::Renewed {
            lease: l,
            renew_time,
        } => json!({
            "kind": "renewed", "lease": lease(l),
            "renew_time": renew_time.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        }),
        Event::Lost {
            lease: l, reason, ..
        } => {
            let (reason, holder) = lost_reason(reason);
            json!({"kind": "lost", "lease": lease(l), "reason": reason, "holder": holder})
        }
        Event::LeaderChanged { lease: l, leader } => json!({
            "kind": "leader_changed", "lease": l.as_ref().map(lease), "leader": leader,
        }),
        Event::Error { kind, message } => {
            json!({"kind": "error", "error_kind": kind.name(), "message": message})
        }
        Event::Stopped => json!({"kind": "stopped"}),
        _ => json!({"kind": "unknown"}),
    }
}

/// A lost reason's stable name, and the new holder when taken over.
fn lost_reason(reason: &LostReason) -> (&'static str, Option<&str>) {
    match reason {
        LostReason::Stopped => ("stopped", None),
        LostReason::RenewDeadlineExceeded => ("renew_deadline_exceeded", None),
        LostReason::TakenOver { holder } => ("taken_over", holder.as_deref()),
        LostReason::Deleted => ("deleted", None),
        _ => ("unknown", None),
    }
}

/// The engine's figures, by core's names.
pub fn stats(s: &Stats) -> Value {
    s.named()
        .map(|(field, value)| (field.name.to_string(), Value::from(value)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}
