package elector_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
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
	events := e.Events()
	t.Cleanup(func() {
		// Take what is left, so that a leader's Lost is acknowledged.
		go func() {
			for range events {
			}
		}()
		_ = e.Close()
	})
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
	// Stop returns once Lost is taken (acknowledged) and the lease released.
	stopReturned := make(chan struct{})
	go func() { a.Stop(); close(stopReturned) }()
	lost := waitFor(t, aEvents, elector.EventLost, time.Second)
	if lost.LostReason != elector.LostStopped {
		t.Fatalf("lost: %+v", lost)
	}
	waitFor(t, aEvents, elector.EventStopped, time.Second)
	<-stopReturned
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
	refused := map[string]bool{}
	cases := []struct {
		name   string
		mutate func(*elector.Config)
		code   elector.Code
		field  string
	}{
		{"namespace", func(c *elector.Config) { c.Namespace = "Bad_NS" }, elector.InvalidNamespace, "Namespace"},
		{"lease name", func(c *elector.Config) { c.LeaseName = "" }, elector.InvalidLeaseName, "LeaseName"},
		{"identity", func(c *elector.Config) { c.Identity = "" }, elector.InvalidIdentity, "Identity"},
		{"lease duration", func(c *elector.Config) { c.LeaseDuration = 10 * time.Second }, elector.InvalidTiming, "LeaseDuration"},
		{"lease duration past int32 seconds", func(c *elector.Config) { c.LeaseDuration = 1 << 62 }, elector.InvalidTiming, "LeaseDuration"},
		{"renew deadline", func(c *elector.Config) { c.RenewDeadline = 2400 * time.Millisecond }, elector.InvalidTiming, "RenewDeadline"},
		{"negative", func(c *elector.Config) { c.RetryPeriod = -time.Second }, elector.InvalidTiming, "RetryPeriod"},
		{"retry period", func(c *elector.Config) { c.RetryPeriod = time.Millisecond }, elector.InvalidTiming, "RetryPeriod"},
		{"sub-millisecond", func(c *elector.Config) { c.RenewDeadline = 10*time.Second + time.Microsecond }, elector.InvalidTiming, "RenewDeadline"},
		{"release timeout", func(c *elector.Config) { c.ReleaseTimeout = -time.Millisecond }, elector.InvalidTiming, "ReleaseTimeout"},
		{"stop timeout", func(c *elector.Config) { c.StopTimeout = time.Nanosecond }, elector.InvalidTiming, "StopTimeout"},
		{"label", func(c *elector.Config) { c.Labels = map[string]string{"bad key": "v"} }, elector.InvalidLabel, "Labels"},
		{"owner apiVersion", func(c *elector.Config) { c.Owner = &elector.OwnerReference{"", "Pod", "p", "u"} }, elector.InvalidOwnerReference, "Owner.APIVersion"},
		{"owner kind", func(c *elector.Config) { c.Owner = &elector.OwnerReference{"v1", "", "p", "u"} }, elector.InvalidOwnerReference, "Owner.Kind"},
		{"owner name", func(c *elector.Config) { c.Owner = &elector.OwnerReference{"v1", "Pod", "", "u"} }, elector.InvalidOwnerReference, "Owner.Name"},
		{"owner uid", func(c *elector.Config) { c.Owner = &elector.OwnerReference{"v1", "Pod", "p", ""} }, elector.InvalidOwnerReference, "Owner.UID"},
		{"kubeconfig with a URL", func(c *elector.Config) { c.URL, c.Kubeconfig = "https://k", "/k" }, elector.InvalidConnection, "Kubeconfig"},
		{"context with a URL", func(c *elector.Config) { c.URL, c.Context = "https://k", "ctx" }, elector.InvalidConnection, "Context"},
		{"url", func(c *elector.Config) { c.URL = "not a url" }, elector.InvalidConnection, "URL"},
		{"token without a URL", func(c *elector.Config) { c.Token = "t" }, elector.InvalidConnection, "Token"},
		{"token file without a URL", func(c *elector.Config) { c.TokenFile = "/t" }, elector.InvalidConnection, "TokenFile"},
		{"token twice", func(c *elector.Config) { c.URL, c.Token, c.TokenFile = "https://k", "t", "/t" }, elector.InvalidConnection, "TokenFile"},
		{"CA file without a URL", func(c *elector.Config) { c.CAFile = "/ca" }, elector.InvalidConnection, "CAFile"},
		{"insecure without a URL", func(c *elector.Config) { c.InsecureSkipTLSVerify = true }, elector.InvalidConnection, "InsecureSkipTLSVerify"},
		{"NUL", func(c *elector.Config) { c.Identity = "a\x00b" }, elector.InvalidArgument, "Identity"},
		{"UTF-8", func(c *elector.Config) { c.Owner = &elector.OwnerReference{"v1", "Pod", "\xff", "u"} }, elector.InvalidUTF8, "Owner.Name"},
		{"release timeout past int32 seconds", func(c *elector.Config) { c.ReleaseTimeout = 1 << 62 }, elector.InvalidTiming, "ReleaseTimeout"},
		{"stop timeout past int32 seconds", func(c *elector.Config) { c.StopTimeout = 1 << 62 }, elector.InvalidTiming, "StopTimeout"},
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
			if !errors.Is(err, &elector.Error{Code: tc.code}) || electorErr.Field != tc.field ||
				!strings.HasPrefix(electorErr.Message, "invalid "+tc.field+": ") {
				t.Fatalf("got %v (code %d, field %q), want code %d naming %q", err, electorErr.Code, electorErr.Field, tc.code, tc.field)
			}
			refused[tc.field] = true
		})
	}

	// Every option of the library has a case, but KeepLeaseOnStop: a bool
	// has no invalid value.
	for _, name := range elector.CoreOptionNames() {
		if field := elector.ConfigFields[name]; field != "KeepLeaseOnStop" && !refused[field] {
			t.Errorf("no invalid case for option %s (Config.%s)", name, field)
		}
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
	waitFor(t, events, elector.EventStopped, time.Second)
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
}

// unit is one unit of leader work: who did it, and when it began and ended.
type unit struct {
	who        string
	begin, end time.Time
}

// worker leads on cfg until ctx is done, running units that each wait
// `length` (as a database call would) and check for the end of the term only
// between units, so that a unit in flight at the loss runs to its end.
func worker(cfg elector.Config, length time.Duration, mu *sync.Mutex, units *[]unit) func(ctx context.Context) error {
	e, err := elector.New(cfg)
	if err != nil {
		panic(err)
	}
	return func(ctx context.Context) error {
		defer e.Close()
		return e.Lead(ctx, func(ctx context.Context, term int64) error {
			for ctx.Err() == nil {
				begin := time.Now()
				time.Sleep(length)
				mu.Lock()
				*units = append(*units, unit{cfg.Identity, begin, time.Now()})
				mu.Unlock()
			}
			return nil
		})
	}
}

func TestLeadHandsOverOnlyAfterTheUnitInFlight(t *testing.T) {
	lease := uniqueLease("go-lead")
	var mu sync.Mutex
	var units []unit
	count := func(who string) (n int) {
		mu.Lock()
		defer mu.Unlock()
		for _, u := range units {
			if u.who == who {
				n++
			}
		}
		return n
	}
	waitUntil := func(what func() bool) {
		for deadline := time.Now().Add(10 * time.Second); !what(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("condition not met in time")
			}
		}
	}
	long := func(identity string) elector.Config {
		cfg := config(t, lease, identity)
		// A lease far longer than the handover: one within it was a release.
		cfg.LeaseDuration, cfg.RenewDeadline = 30*time.Second, 15*time.Second
		return cfg
	}
	const length = 300 * time.Millisecond
	aCtx, stopA := context.WithCancel(context.Background())
	aDone := make(chan error, 1)
	go func() { aDone <- worker(long("go-a"), length, &mu, &units)(aCtx) }()
	waitUntil(func() bool { return count("go-a") > 0 })
	bCtx, stopB := context.WithCancel(context.Background())
	bDone := make(chan error, 1)
	go func() { bDone <- worker(long("go-b"), length, &mu, &units)(bCtx) }()
	time.Sleep(time.Second + length/2) // b follows; a is mid-unit
	stopA()
	if err := <-aDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("a's Lead returned %v", err)
	}
	stoppedAt := time.Now()
	waitUntil(func() bool { return count("go-b") > 0 })
	stopB()
	<-bDone

	mu.Lock()
	defer mu.Unlock()
	var aEnd, bBegin time.Time
	for _, u := range units {
		if u.who == "go-a" && u.end.After(aEnd) {
			aEnd = u.end
		}
		if u.who == "go-b" && (bBegin.IsZero() || u.begin.Before(bBegin)) {
			bBegin = u.begin
		}
	}
	if !aEnd.Before(bBegin) {
		t.Fatalf("b began a unit at %v, before a's last ended at %v", bBegin, aEnd)
	}
	if handover := bBegin.Sub(stoppedAt); handover > 10*time.Second {
		t.Fatalf("b began %v after a stopped: the lease expired instead of being released", handover)
	}
}

func TestLeadReturnsTheWorksErrorAndStops(t *testing.T) {
	e, err := elector.New(config(t, uniqueLease("go-lead-err"), "go-a"))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	failed := errors.New("work failed")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.Lead(ctx, func(context.Context, int64) error { return failed }); !errors.Is(err, failed) {
		t.Fatalf("Lead returned %v", err)
	}
	var stopped *elector.Error
	if e.IsLeader() || !errors.As(e.Start(), &stopped) || stopped.Code != elector.Stopped {
		t.Fatalf("not stopped after the work failed: leader %v", e.IsLeader())
	}
	if _, open := <-e.Events(); open {
		t.Fatal("Events after Lead: want a closed channel")
	}
	other, err := elector.New(config(t, uniqueLease("go-lead-taken"), "go-a"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	other.Events()
	if err := other.Lead(ctx, func(context.Context, int64) error { return nil }); !errors.Is(err, elector.ErrEventsTaken) {
		t.Fatalf("Lead after Events returned %v", err)
	}
}

// TestConfigHasEveryOption holds Config to the library's options: each maps
// to a field of Config (or of OwnerReference).
func TestConfigHasEveryOption(t *testing.T) {
	names := elector.CoreOptionNames()
	if len(names) == 0 {
		t.Fatal("the library lists no options")
	}
	for _, name := range names {
		field, ok := elector.ConfigFields[name]
		if !ok {
			t.Errorf("option %s has no Config field", name)
			continue
		}
		typ := reflect.TypeOf(elector.Config{})
		if owner, sub, nested := strings.Cut(field, "."); nested {
			if owner != "Owner" {
				t.Errorf("option %s: unexpected %s", name, field)
				continue
			}
			typ, field = reflect.TypeOf(elector.OwnerReference{}), sub
		}
		if _, ok := typ.FieldByName(field); !ok {
			t.Errorf("option %s: %s has no field %s", name, typ.Name(), field)
		}
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if field := elector.ConfigFields[name]; !strings.Contains(string(readme), "`"+field+"`") {
			t.Errorf("README.md does not document %s", field)
		}
	}
	if len(elector.ConfigFields) != len(names) {
		t.Errorf("ConfigFields maps %d options, the library has %d", len(elector.ConfigFields), len(names))
	}
}
