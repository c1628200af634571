//! The Prometheus text exposition (format 0.0.4) of the process's running
//! electors.
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

/// One metric and its series, one per elector.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub name: String,
    pub help: &'static str,
    pub kind: StatKind,
    pub series: Vec<Series>,
}

/// One elector's value of a metric, with its labels: `name` (the lease),
/// `namespace` and `identity`.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: [(&'static str, String); 3],
    pub value: u64,
}

/// The exposition of every running elector of this process (started and
/// not stopped).
pub fn gather() -> String {
    exposition(&Elector::running())
}

/// The families of every running elector of this process, for a host that feeds its own registry (prom-client, client_golang).
pub fn gather_families() -> Vec<Family> {
    families(&Elector::running())
}

/// The exposition of `electors`: one family per metric, each with a series
/// per elector.
pub fn exposition(electors: &[Elector]) -> String {
    let mut text = String::new();
    for family in families(electors) {
        let kind = match family.kind {
            StatKind::Counter => "counter",
            StatKind::Gauge => "gauge",
        };
        let _ = writeln!(text, "# HELP {} {}", family.name, family.help);
        let _ = writeln!(text, "# TYPE {} {kind}", family.name);
        for series in &family.series {
            let labels: Vec<String> = series
                .labels
                .iter()
                .map(|(name, value)| format!("{name}=\"{}\"", escaped(value)))
                .collect();
            let _ = writeln!(
                text,
                "{}{{{}}} {}",
                family.name,
                labels.join(","),
                series.value
            );
        }
    }
    text
}

/// The metrics of `electors`, client-go's first.
pub fn families(electors: &[Elector]) -> Vec<Family> {
    let labels: Vec<[(&'static str, String); 3]> = electors.iter().map(series_labels).collect();
    let stats: Vec<Stats> = electors.iter().map(Elector::stats).collect();
    let family = |name: String, help, kind, values: &mut dyn Iterator<Item = u64>| Family {
        name,
        help,
        kind,
        series: labels
            .iter()
            .zip(values)
            .map(|(labels, value)| Series {
                labels: labels.clone(),
                value,
            })
            .collect(),
    };
    let mut families = vec![
        family(
            "leader_election_master_status".into(),
            "Whether this elector leads the lease (1) or not (0).",
            StatKind::Gauge,
            &mut electors.iter().map(|e| u64::from(e.is_leader())),
        ),
        family(
            "leader_election_slowpath_total".into(),
            "Writes of the lease refused because another writer was first (client-go's slow path).",
            StatKind::Counter,
            &mut stats.iter().map(|s| s.conflicts),
        ),
    ];
    for (index, field) in Stats::FIELDS.iter().enumerate() {
        let name = match field.kind {
            StatKind::Counter => format!("elector_{}_total", field.name),
            StatKind::Gauge => format!("elector_{}", field.name),
        };
        families.push(family(
            name,
            field.help,
            field.kind,
            &mut stats.iter().map(|s| s.values()[index]),
        ));
    }
    families
}

fn series_labels(elector: &Elector) -> [(&'static str, String); 3] {
    let config = elector.config();
    [
        ("name", config.lease_name().to_string()),
        ("namespace", config.namespace().to_string()),
        ("identity", config.identity().to_string()),
    ]
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
    fn the_process_gathers_only_running_electors() {
        // Running electors are gathered in the bindings' tests, against the
        // control plane; here, one never started is not.
        let created = elector("created-not-started", "pod-1");
        assert!(!gather().contains("created-not-started"));
        assert!(exposition(std::slice::from_ref(&created)).contains("created-not-started"));
    }
}
