package elector_test

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"elector.dev/elector"
)

// records keeps every log record it is handed.
type records struct {
	mu   sync.Mutex
	seen []slog.Record
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *records) WithGroup(string) slog.Handler            { return r }
func (r *records) Handle(_ context.Context, record slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, record.Clone())
	return nil
}

// find returns the attributes of the first record with message for lease.
func (r *records) find(message, lease string) map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, record := range r.seen {
		attrs := map[string]string{}
		record.Attrs(func(a slog.Attr) bool {
			attrs[a.Key] = a.Value.String()
			return true
		})
		if record.Message == message && attrs["lease"] == lease {
			attrs["level"] = record.Level.String()
			return attrs
		}
	}
	return nil
}

// The engine's lines reach log/slog with the elector's lease and identity.
func TestLogsReachSlog(t *testing.T) {
	if os.Getenv("ELECTOR_LOG") != "" {
		t.Skip("ELECTOR_LOG sends the lines to standard error from the first New on")
	}
	handler := &records{}
	if err := elector.SetLogger(slog.New(handler)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = elector.SetLogger(nil) })
	lease := uniqueLease("go-logs")
	_, events := start(t, config(t, lease, "logged"))
	waitFor(t, events, elector.EventAcquired, 10*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	var acquired map[string]string
	for acquired == nil && time.Now().Before(deadline) {
		acquired = handler.find("acquired leadership", "default/"+lease) // the span's namespace/name
		time.Sleep(10 * time.Millisecond)
	}
	if acquired == nil {
		t.Fatalf("no 'acquired leadership' line for %s", lease)
	}
	if acquired["identity"] != "logged" || acquired["level"] != "INFO" || acquired["term"] != "0" {
		t.Fatalf("acquired line %v", acquired)
	}
}
