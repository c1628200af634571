package elector_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"elector.dev/elector"
)

// exampleConfig is a candidate of the project's local control plane
// (ELECTOR_KUBECONFIG, as tests/run sets it). In a Pod, leave Kubeconfig
// empty: the service account is used.
func exampleConfig(lease, identity string) elector.Config {
	return elector.Config{
		LeaseName:  fmt.Sprintf("%s-%d", lease, time.Now().UnixNano()),
		Identity:   identity,
		Kubeconfig: os.Getenv("ELECTOR_KUBECONFIG"),
		Context:    "elector",
	}
}

// Campaign and follow the election through its events.
func ExampleNew() {
	e, err := elector.New(exampleConfig("example-new", "pod-a"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer e.Close()
	events := e.Events()
	if err := e.Start(); err != nil {
		fmt.Println(err)
		return
	}
	for ev := range events {
		switch ev.Kind {
		case elector.EventAcquired:
			fmt.Println("leading, term", ev.Term) // start leader work
			go e.Stop()                           // here, just to end the example
		case elector.EventLost:
			// Receiving Lost acknowledged it: the lease may be released
			// already, so leader work must have stopped (or use Lead).
			fmt.Println("lost on stop:", ev.LostReason == elector.LostStopped)
		}
	}
	// Output:
	// leading, term 0
	// lost on stop: true
}

// Run leader work only while leading: the next leader starts only after
// this work has returned.
func ExampleElector_Lead() {
	e, err := elector.New(exampleConfig("example-lead", "pod-a"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer e.Close()
	done := errors.New("work done")
	err = e.Lead(context.Background(), func(ctx context.Context, term int64) error {
		fmt.Println("working in term", term)
		return done // an error stops the elector; real work runs until ctx is done
	})
	fmt.Println(errors.Is(err, done))
	// Output:
	// working in term 0
	// true
}

// Serve the process's metrics, with client-go's names, on /metrics.
func ExampleMetrics() {
	cfg := exampleConfig("example-metrics", "pod-a")
	e, err := elector.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer e.Close()
	events := e.Events()
	if err := e.Start(); err != nil {
		fmt.Println(err)
		return
	}
	for ev := range events {
		if ev.Kind == elector.EventAcquired {
			break
		}
	}
	go func() {
		for range events {
		}
	}()
	text, err := elector.Metrics() // in an http.HandlerFunc, write it out as it is
	if err != nil {
		fmt.Println(err)
		return
	}
	series := fmt.Sprintf(`leader_election_master_status{name=%q,namespace="default",identity="pod-a"} 1`, cfg.LeaseName)
	fmt.Println(strings.Contains(text, series))
	// Output: true
}
