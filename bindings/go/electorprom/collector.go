// Package electorprom exposes the process's electors to a Prometheus
// registry: client-go's leader_election_master_status and
// leader_election_slowpath_total, so its dashboards and alerts apply, and
// the engine's counters as elector_<name>_total.
//
//	prometheus.MustRegister(electorprom.NewCollector())
//
// It reads elector.Metrics() at each scrape, so it always matches the text
// exposition.
package electorprom

import (
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"elector.dev/elector"
)

// Collector is a prometheus.Collector of every running elector of the process.
type Collector struct{}

// NewCollector returns the collector; register it once per registry.
func NewCollector() *Collector { return &Collector{} }

// Describe sends nothing: the series come and go with electors, so the
// collector is unchecked.
func (*Collector) Describe(chan<- *prometheus.Desc) {}

// Collect reads the engine's exposition and sends each series as a constant
// metric; a failure to read it is sent as an invalid metric, which the
// registry reports.
func (*Collector) Collect(metrics chan<- prometheus.Metric) {
	text, err := elector.Metrics()
	if err == nil {
		var families map[string]*dto.MetricFamily
		parser := expfmt.NewTextParser(model.LegacyValidation)
		if families, err = parser.TextToMetricFamilies(strings.NewReader(text)); err == nil {
			send(metrics, families)
			return
		}
	}
	desc := prometheus.NewDesc("elector_metrics", "The elector's metrics.", nil, nil)
	metrics <- prometheus.NewInvalidMetric(desc, err)
}

func send(metrics chan<- prometheus.Metric, families map[string]*dto.MetricFamily) {
	names := make([]string, 0, len(families))
	for name := range families {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		family := families[name]
		valueType := prometheus.GaugeValue
		if family.GetType() == dto.MetricType_COUNTER {
			valueType = prometheus.CounterValue
		}
		for _, m := range family.GetMetric() {
			labels := make([]string, 0, len(m.GetLabel()))
			values := make([]string, 0, len(m.GetLabel()))
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName())
				values = append(values, l.GetValue())
			}
			value := m.GetGauge().GetValue()
			if valueType == prometheus.CounterValue {
				value = m.GetCounter().GetValue()
			}
			desc := prometheus.NewDesc(name, family.GetHelp(), labels, nil)
			metrics <- prometheus.MustNewConstMetric(desc, valueType, value, values...)
		}
	}
}
