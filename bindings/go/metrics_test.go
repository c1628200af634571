package elector_test

import (
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"elector.dev/elector"
)

// The process's exposition, read by Prometheus's own text parser: client-go's
// families with a series per elector, 1 for the leader and 0 for the standby.
func TestMetricsParseWithClientGosNames(t *testing.T) {
	lease := uniqueLease("go-metrics")
	_, leaderEvents := start(t, config(t, lease, `leader "one"\`))
	waitFor(t, leaderEvents, elector.EventAcquired, 10*time.Second)
	_, standbyEvents := start(t, config(t, lease, "standby"))
	waitFor(t, standbyEvents, elector.EventLeaderChanged, 10*time.Second)

	text, err := elector.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("%v in:\n%s", err, text)
	}
	status := map[string]float64{}
	for _, m := range families["leader_election_master_status"].GetMetric() {
		if label(m, "name") == lease {
			status[label(m, "identity")] = m.GetGauge().GetValue()
		}
	}
	want := map[string]float64{`leader "one"\`: 1, "standby": 0}
	if len(status) != 2 || status[`leader "one"\`] != 1 || status["standby"] != 0 {
		t.Fatalf("master status %v, want %v", status, want)
	}
	for _, name := range []string{"leader_election_slowpath_total", "elector_renewals_total", "elector_queued_events"} {
		if families[name] == nil {
			t.Errorf("no %s in:\n%s", name, text)
		}
	}
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
