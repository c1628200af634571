package electorprom_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"elector.dev/elector"
	"elector.dev/elector/electorprom"
)

// A registry gathers client-go's master status from the collector: 1 for
// the elector that leads.
func TestCollectorGathersTheMasterStatus(t *testing.T) {
	kubeconfig := os.Getenv("ELECTOR_KUBECONFIG")
	if kubeconfig == "" {
		t.Fatal("ELECTOR_KUBECONFIG is not set: run through tests/run")
	}
	lease := fmt.Sprintf("go-collector-%d", time.Now().UnixNano())
	e, err := elector.New(elector.Config{LeaseName: lease, Identity: "pod-a", Kubeconfig: kubeconfig, Context: "elector"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	events := e.Events()
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(10 * time.Second)
	for acquired := false; !acquired; {
		select {
		case ev := <-events:
			acquired = ev.Kind == elector.EventAcquired
		case <-timeout:
			t.Fatal("no acquired event within 10s")
		}
	}
	go func() {
		for range events {
		}
	}()

	registry := prometheus.NewRegistry()
	registry.MustRegister(electorprom.NewCollector())
	families, err := registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, family := range families {
		if family.GetName() != "leader_election_master_status" {
			continue
		}
		for _, m := range family.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "name" && l.GetValue() == lease {
					if got := m.GetGauge().GetValue(); got != 1 {
						t.Fatalf("master status %v, want 1", got)
					}
					return
				}
			}
		}
	}
	t.Fatalf("no master status for %s in %d families", lease, len(families))
}
