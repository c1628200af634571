// Our elector from Go as a participant of the chaos suite (tests/chaos):
// `-count` electors in one process, with client-go's timings.
//
// Every event is one line on stdout, in the format all participants share:
//
//	<CLOCK_MONOTONIC ns> <elector index> <event> [detail]
//
// with the events started, acquired, lost and stopped. With -work each
// elector does leader work through Lead: units of up to 10 ms of CPU and a
// wait of up to 100 ms, printed as unit_begin and unit_end; acquired and lost
// are then printed as the work sees its term begin and end. SIGTERM stops
// every elector (releasing held leases, once the work has returned) and exits.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"elector.dev/elector"
)

// #include <time.h>
import "C"

// out serialises the event lines of every elector's goroutines.
type out struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (o *out) event(index int, event, detail string) {
	var ts C.struct_timespec
	C.clock_gettime(C.CLOCK_MONOTONIC, &ts)
	at := int64(ts.tv_sec)*1_000_000_000 + int64(ts.tv_nsec)
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintf(o.w, "%d %d %s %s\n", at, index, event, detail)
	_ = o.w.Flush()
}

// unit is one unit of leader work.
func (o *out) unit(index int, term int64) {
	o.event(index, "unit_begin", fmt.Sprintf("term=%d", term))
	for busy := time.Now().Add(time.Duration(rand.Int63n(int64(10 * time.Millisecond)))); time.Now().Before(busy); {
	}
	time.Sleep(time.Duration(rand.Int63n(int64(100 * time.Millisecond))))
	o.event(index, "unit_end", "")
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig file")
	kubecontext := flag.String("context", "elector", "kubeconfig context")
	namespace := flag.String("namespace", "default", "namespace of the lease")
	lease := flag.String("lease", "", "lease name; with -distinct-leases, the prefix of <lease>-<i>")
	identity := flag.String("identity", "", "identity; with -count > 1, the prefix of <identity>-<i>")
	count := flag.Int("count", 1, "electors in this process")
	distinct := flag.Bool("distinct-leases", false, "give each elector a lease of its own")
	work := flag.Bool("work", false, "do leader work through Lead while leading")
	flag.Parse()
	if *lease == "" || *identity == "" || *count < 1 {
		fmt.Fprintln(os.Stderr, "usage: participant -kubeconfig F -lease L -identity I [-count N] [-distinct-leases] [-work]")
		os.Exit(2)
	}

	o := &out{w: bufio.NewWriter(os.Stdout)}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < *count; i++ {
		cfg := elector.Config{
			Namespace:     *namespace,
			LeaseName:     *lease,
			Identity:      *identity,
			LeaseDuration: 15 * time.Second,
			RenewDeadline: 10 * time.Second,
			RetryPeriod:   2 * time.Second,
			Kubeconfig:    *kubeconfig,
			Context:       *kubecontext,
		}
		if *count > 1 {
			cfg.Identity = fmt.Sprintf("%s-%d", *identity, i)
		}
		if *distinct {
			cfg.LeaseName = fmt.Sprintf("%s-%d", *lease, i)
		}
		e, err := elector.New(cfg)
		if err != nil {
			fmt.Fprintln(os.Stderr, "elector:", err)
			os.Exit(1)
		}
		index := i
		wg.Add(1)
		o.event(index, "started", "")
		go func() {
			defer wg.Done()
			defer e.Close()
			if *work {
				_ = e.Lead(ctx, func(term context.Context, n int64) error {
					o.event(index, "acquired", fmt.Sprintf("term=%d", n))
					for term.Err() == nil && e.IsLeader() {
						o.unit(index, n)
					}
					o.event(index, "lost", "")
					return nil
				})
			} else {
				events := e.Events()
				go func() { _ = e.Run(ctx) }()
				for ev := range events {
					switch ev.Kind {
					case elector.EventAcquired:
						o.event(index, "acquired", fmt.Sprintf("term=%d", ev.Term))
					case elector.EventLost:
						o.event(index, "lost", "")
					}
				}
			}
			o.event(index, "stopped", "")
		}()
	}

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	<-signals
	cancel()
	wg.Wait()
}
