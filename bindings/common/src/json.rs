//! Events and stats as JSON. Leases are Kubernetes JSON; timestamps are
//! RFC 3339 in UTC.

use elector_core::metrics::Family;
use elector_core::{Event, Lease, LostReason, StatKind, Stats};
use serde_json::{Value, json};

/// Whether events carry the Lease they saw, as Kubernetes JSON. Serializing
/// it costs more than the rest of the event (every renewal has one), so a
/// host whose API does not show it leaves it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leases {
    Included,
    Omitted,
}

/// One event: `{"kind": "acquired", ...}`, with the fields of its variant;
/// `lease` is null when `leases` is `Omitted`.
pub fn event(event: &Event, leases: Leases) -> Value {
    let lease = |l: &Lease| match leases {
        Leases::Included => serde_json::to_value(l).unwrap_or(Value::Null),
        Leases::Omitted => Value::Null,
    };
    match event {
        Event::Acquired {
            lease: l,
            identity,
            term,
        } => json!({"kind": event.name(), "lease": lease(l), "identity": identity, "term": term}),
        Event::Renewed {
            lease: l,
            renew_time,
        } => json!({
            "kind": event.name(), "lease": lease(l),
            "renew_time": renew_time.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        }),
        Event::Lost {
            lease: l, reason, ..
        } => {
            let holder = match reason {
                LostReason::TakenOver { holder } => holder.as_deref(),
                _ => None,
            };
            json!({"kind": event.name(), "lease": lease(l), "reason": reason.name(), "holder": holder})
        }
        Event::LeaderChanged { lease: l, leader } => json!({
            "kind": event.name(), "lease": l.as_ref().map(lease), "leader": leader,
        }),
        Event::Error { kind, message } => {
            json!({"kind": event.name(), "error_kind": kind.name(), "message": message})
        }
        _ => json!({"kind": event.name()}),
    }
}

/// Metric families in prom-client's shape: `[{"name", "help", "type",
/// "aggregator", "values": [{"labels": {...}, "value"}]}]`.
pub fn metric_families(families: &[Family]) -> Value {
    families
        .iter()
        .map(|family| {
            let values: Vec<Value> = family
                .series
                .iter()
                .map(|series| {
                    let labels: serde_json::Map<String, Value> = series
                        .labels
                        .iter()
                        .map(|(name, value)| (name.to_string(), Value::from(value.as_str())))
                        .collect();
                    json!({"labels": labels, "value": series.value})
                })
                .collect();
            let kind = match family.kind {
                StatKind::Counter => "counter",
                StatKind::Gauge => "gauge",
            };
            json!({
                "name": family.name, "help": family.help, "type": kind,
                "aggregator": "sum", "values": values,
            })
        })
        .collect()
}

/// The engine's figures, by core's names.
pub fn stats(s: &Stats) -> Value {
    s.named()
        .map(|(field, value)| (field.name.to_string(), Value::from(value)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}
