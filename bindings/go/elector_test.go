package elector_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"elector.dev/elector"
)

// config for identity on lease, as the elector user of the local control
// plane (ELECTOR_KUBECONFIG, set by tests/run), with short timings.
func config(t *testing.T, lease, identity string) elector.Config {
	t.Helper()
	kubeconfig := os.Getenv("ELECTOR_KUBECONFIG")
	if kubeconfig == "" {
		t.Fatal("ELECTOR_KUBECONFIG is not set: run through tests/run")
	}
	return elector.Config{
		LeaseName:     lease,
		Identity:      identity,
		LeaseDuration: 3 * time.Second,
		RenewDeadline: 2 * time.Second,
		RetryPeriod:   500 * time.Millisecond,
		Kubeconfig:    kubeconfig,
		Context:       "elector",
	}
}

func uniqueLease(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), time.Now().UnixNano()%1_000_000)
}

func start(t *testing.T, cfg elector.Config) (*elector.Elector, <-chan elector.Event) {
	t.Helper()
	e, err := elector.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	events := e.Events()
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	return e, events
}

// waitFor reads events until one of kind arrives, skipping the others.
func waitFor(t *testing.T, events <-chan elector.Event, kind elector.EventKind, within time.Duration) elector.Event {
	t.Helper()
	timeout := time.After(within)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("events closed while waiting for %v", kind)
			}
			if ev.Kind == kind {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %v within %v", kind, within)
		}
	}
}

func TestElectionAndHandover(t *testing.T) {
	lease := uniqueLease("go-handover")
	a, aEvents := start(t, config(t, lease, "go-a"))
	acquired := waitFor(t, aEvents, elector.EventAcquired, 10*time.Second)
	if acquired.Identity != "go-a" || !acquired.HasTerm || acquired.Term != 0 || len(acquired.LeaseJSON) == 0 {
		t.Fatalf("acquired event: %+v", acquired)
	}
	b, bEvents := start(t, config(t, lease, "go-b"))
	changed := waitFor(t, bEvents, elector.EventLeaderChanged, 10*time.Second)
	if changed.Identity != "go-a" {
		t.Fatalf("b sees leader %q", changed.Identity)
	}
	if !a.IsLeader() || b.IsLeader() {
		t.Fatal("exactly a must lead")
	}
	if leader, ok := b.Leader(); !ok || leader != "go-a" {
		t.Fatalf("b.Leader() = %q, %v", leader, ok)
	}

	stopped := time.Now()
	a.Stop()
	lost := waitFor(t, aEvents, elector.EventLost, time.Second)
	if lost.LostReason != elector.LostStopped {
		t.Fatalf("lost: %+v", lost)
	}
	waitFor(t, aEvents, elector.EventStopped, time.Second)
	if _, open := <-aEvents; open {
		t.Fatal("events not closed after stopped")
	}
	acquired = waitFor(t, bEvents, elector.EventAcquired, 10*time.Second)
	if elapsed := time.Since(stopped); elapsed > 2500*time.Millisecond {
		t.Fatalf("handover took %v: it waited for expiry instead of the release", elapsed)
	}
	if term, ok := b.Term(); !ok || term != 1 || acquired.Term != 1 {
		t.Fatalf("term after takeover: %d %v %+v", term, ok, acquired)
	}
	if s := b.Stats(); s.Acquisitions != 1 || s.Watches == 0 {
		t.Fatalf("stats: %+v", s)
	}
	if err := b.Check(0); err != nil {
		t.Fatal(err)
	}
}

func TestInvalidConfig(t *testing.T) {
	base := func() elector.Config { return elector.Config{LeaseName: "lease", Identity: "me"} }
	cases := []struct {
		name   string
		mutate func(*elector.Config)
		code   elector.Code
		field  string
	}{
		{"namespace", func(c *elector.Config) { c.Namespace = "Bad_NS" }, elector.InvalidNamespace, "namespace"},
		{"lease name", func(c *elector.Config) { c.LeaseName = "" }, elector.InvalidLeaseName, "lease_name"},
		{"identity", func(c *elector.Config) { c.Identity = "" }, elector.InvalidIdentity, "identity"},
		{"lease duration", func(c *elector.Config) { c.LeaseDuration = 10 * time.Second }, elector.InvalidTiming, "lease_duration"},
		{"renew deadline", func(c *elector.Config) { c.RenewDeadline = 2400 * time.Millisecond }, elector.InvalidTiming, "renew_deadline"},
		{"negative", func(c *elector.Config) { c.RetryPeriod = -time.Second }, elector.InvalidTiming, "retry_period"},
		{"sub-millisecond", func(c *elector.Config) { c.RenewDeadline = 10*time.Second + time.Microsecond }, elector.InvalidTiming, "renew_deadline"},
		{"label", func(c *elector.Config) { c.Labels = map[string]string{"bad key": "v"} }, elector.InvalidLabel, "labels"},
		{"owner", func(c *elector.Config) { c.Owner = &elector.OwnerReference{"v1", "Pod", "p", ""} }, elector.InvalidOwnerReference, "owner_reference.uid"},
		{"url", func(c *elector.Config) { c.URL = "not a url" }, elector.InvalidConnection, "url"},
		{"insecure without a URL", func(c *elector.Config) { c.InsecureSkipTLSVerify = true }, elector.InvalidConnection, "insecure_skip_tls_verify"},
		{"token twice", func(c *elector.Config) { c.URL, c.Token, c.TokenFile = "https://k", "t", "/t" }, elector.InvalidConnection, "token"},
		{"NUL", func(c *elector.Config) { c.Identity = "a\x00b" }, elector.InvalidArgument, "identity"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base()
			tc.mutate(&cfg)
			e, err := elector.New(cfg)
			var electorErr *elector.Error
			if e != nil || !errors.As(err, &electorErr) {
				t.Fatalf("New = %v, %v; want an *elector.Error", e, err)
			}
			if !errors.Is(err, &elector.Error{Code: tc.code}) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("got %v (code %d), want code %d naming %q", err, electorErr.Code, tc.code, tc.field)
			}
		})
	}

	if errors.Is(err0(), (*elector.Error)(nil)) {
		t.Fatal("an error matched a nil *Error")
	}

	cfg := base()
	cfg.Kubeconfig = "/nonexistent/kubeconfig"
	e, err := elector.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.Start(); !errors.Is(err, &elector.Error{Code: elector.Connect}) || !strings.Contains(err.Error(), "/nonexistent/kubeconfig") {
		t.Fatalf("Start with a missing kubeconfig: %v", err)
	}
}

func err0() error {
	_, err := elector.New(elector.Config{})
	return err
}

func TestEventsAfterStopAreClosedAtOnce(t *testing.T) {
	e, err := elector.New(elector.Config{LeaseName: "l", Identity: "i", Kubeconfig: "/nonexistent"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.Run(context.Background()); err == nil {
		t.Fatal("Run with a missing kubeconfig succeeded")
	}
	select {
	case _, open := <-e.Events():
		if open {
			t.Fatal("an event after stop")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Events() after stop is not closed")
	}
}

func TestCloseFromAnotherGoroutineDuringEvents(t *testing.T) {
	lease := uniqueLease("go-close")
	for round := 0; round < 20; round++ {
		e, events := start(t, config(t, lease, fmt.Sprintf("go-close-%d", round)))
		var wg sync.WaitGroup
		wg.Add(1)
		kinds := []elector.EventKind{}
		go func() {
			defer wg.Done()
			for ev := range events {
				kinds = append(kinds, ev.Kind)
			}
		}()
		if round%2 == 0 {
			time.Sleep(time.Duration(round) * 10 * time.Millisecond)
		}
		closed := make(chan struct{})
		go func() {
			_ = e.Close()
			close(closed)
		}()
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatal("Close did not return")
		}
		wg.Wait()
		if len(kinds) == 0 || kinds[len(kinds)-1] != elector.EventStopped {
			t.Fatalf("round %d: events %v do not end with stopped", round, kinds)
		}
		if e.IsLeader() {
			t.Fatal("leader after Close")
		}
		if err := e.Start(); err == nil {
			t.Fatal("Start after Close succeeded")
		}
	}
}

func TestRunStopsWhenTheContextEnds(t *testing.T) {
	e, err := elector.New(config(t, uniqueLease("go-run"), "go-run"))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	events := e.Events()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	waitFor(t, events, elector.EventAcquired, 10*time.Second)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
	waitFor(t, events, elector.EventStopped, time.Second)
}
