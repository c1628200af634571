// Command elect is the README's Go example: it campaigns for a lease and
// leads while it can, until interrupted (or for -for).
//
//	go run ./examples/elect -lease my-lease -identity "$(hostname)"
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"

	"elector.dev/elector"
)

func main() {
	lease := flag.String("lease", "go-example", "lease name")
	identity := flag.String("identity", "", "this candidate's identity (default: hostname)")
	runFor := flag.Duration("for", 0, "stop after this long (default: until SIGINT/SIGTERM)")
	flag.Parse()
	if *identity == "" {
		*identity, _ = os.Hostname()
	}

	cfg := elector.Config{LeaseName: *lease, Identity: *identity}
	if kubeconfig := os.Getenv("ELECTOR_KUBECONFIG"); kubeconfig != "" {
		cfg.Kubeconfig, cfg.Context = kubeconfig, "elector"
	}
	e, err := elector.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *runFor > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *runFor)
		defer cancel()
	}

	events := e.Events()
	go func() { _ = e.Run(ctx) }()
	for ev := range events {
		switch ev.Kind {
		case elector.EventAcquired:
			log.Printf("%s: leading, term %d", *identity, ev.Term) // start leader work
		case elector.EventLost:
			log.Printf("%s: lost leadership: %s", *identity, ev.Message) // stop it now
		case elector.EventLeaderChanged:
			log.Printf("%s: leader is %q", *identity, ev.Identity)
		case elector.EventError:
			log.Printf("%s: API error: %s", *identity, ev.Message)
		}
	}
	log.Printf("%s: stopped", *identity)
}
