//! The Prometheus text exposition (format 0.0.4) of the process's electors.
//!
//! client-go's names come first, so that dashboards and alerts written for
//! client-go's leader election work unchanged:
//! `leader_election_master_status` (1 while leading) and
//! `leader_election_slowpath_total` (writes refused because another writer
//! was first). Every figure of [`Stats`] follows as `elector_<name>_total`
//! (a counter) or `elector_<name>` (a gauge). Each series carries the lease's
//! `name` (client-go's label), its `namespace` and the elector's `identity`,
//! so that two electors of one lease in one process stay two series.

use std::fmt::Write;

use crate::Elector;
use crate::stats::{StatKind, Stats};

/// The exposition of every elector of this process not dropped yet.
pub fn gather() -> String {
    exposition(&Elector::all())
}

/// The exposition of `electors`: one family per metric, each with a series
/// per elector.
pub fn exposition(electors: &[Elector]) -> String {
    let labels: Vec<String> = electors.iter().map(series_labels).collect();
    let stats: Vec<Stats> = electors.iter().map(Elector::stats).collect();
    let mut text = String::new();
    family(
        &mut text,
        "leader_election_master_status",
        "gauge",
        "Whether this elector leads the lease (1) or not (0).",
        labels
            .iter()
            .zip(electors)
            .map(|(l, e)| (l, u64::from(e.is_leader()))),
    );
    family(
        &mut text,
        "leader_election_slowpath_total",
        "counter",
        "Writes of the lease refused because another writer was first (client-go's slow path).",
        labels.iter().zip(stats.iter().map(|s| s.conflicts)),
    );
    for (index, field) in Stats::FIELDS.iter().enumerate() {
        let (name, kind) = match field.kind {
            StatKind::Counter => (format!("elector_{}_total", field.name), "counter"),
            StatKind::Gauge => (format!("elector_{}", field.name), "gauge"),
        };
        family(
            &mut text,
            &name,
            kind,
            field.help,
            labels.iter().zip(stats.iter().map(|s| s.values()[index])),
        );
    }
    text
}

fn family<'a>(
    text: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    series: impl Iterator<Item = (&'a String, u64)>,
) {
    let _ = writeln!(text, "# HELP {name} {help}");
    let _ = writeln!(text, "# TYPE {name} {kind}");
    for (labels, value) in series {
        let _ = writeln!(text, "{name}{{{labels}}} {value}");
    }
}

fn series_labels(elector: &Elector) -> String {
    let config = elector.config();
    format!(
        "name=\"{}\",namespace=\"{}\",identity=\"{}\"",
        escaped(config.lease_name()),
        escaped(config.namespace()),
        escaped(config.identity())
    )
}

/// A label value as the text format wants it: backslash, double quote and
/// line feed escaped.
fn escaped(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    fn elector(lease: &str, identity: &str) -> Elector {
        Elector::new(Config::builder("ns", lease, identity).build().unwrap())
    }

    #[test]
    fn every_family_has_a_series_per_elector_and_parses() {
        let electors = [elector("a", "pod-\"1\"\\x"), elector("b", "pod-2")];
        let text = exposition(&electors);
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        let scrape = prometheus_parse::Scrape::parse(lines.into_iter().map(Ok)).unwrap();
        let families = 2 + Stats::FIELDS.len();
        assert_eq!(scrape.samples.len(), 2 * families);
        assert_eq!(scrape.docs.len(), families);
        let status: Vec<_> = scrape
            .samples
            .iter()
            .filter(|s| s.metric == "leader_election_master_status")
            .collect();
        assert_eq!(status.len(), 2);
        assert_eq!(status[0].labels.get("name"), Some("a"));
        // prometheus-parse keeps escapes as written; Go's expfmt, in the Go
        // binding's test, reads them back.
        assert!(text.contains(r#"identity="pod-\"1\"\\x""#), "{text}");
        assert_eq!(status[0].value, prometheus_parse::Value::Gauge(0.0));
        assert!(text.contains("# TYPE elector_queued_events gauge\n"));
        assert!(text.contains("# TYPE elector_renewals_total counter\n"));
    }

    #[test]
    fn the_process_gathers_its_live_electors() {
        let kept = elector("kept", "pod-1");
        drop(elector("dropped", "pod-1"));
        let text = gather();
        assert!(text.contains(
            r#"leader_election_master_status{name="kept",namespace="ns",identity="pod-1"} 0"#
        ));
        assert!(!text.contains("\"dropped\""));
        drop(kept);
    }
}
