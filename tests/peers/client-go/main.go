// The client-go peer for the benchmarks and the chaos suite: `count`
// electors of k8s.io/client-go/tools/leaderelection in one process, with the
// library's documented defaults (15 s / 10 s / 2 s) and ReleaseOnCancel.
//
// Every event is one line on stdout, in the format all participants share:
//
//	<CLOCK_MONOTONIC ns> <elector index> <event> [detail]
//
// with the events started, acquired, lost and stopped. SIGTERM stops every
// elector (releasing held leases) and exits once all have stopped.
//
// -work does leader work inside OnStartedLeading(ctx): units of up to 10 ms
// of CPU and a wait of up to 100 ms, until ctx ends, printed as unit_begin
// and unit_end.
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

	"golang.org/x/sys/unix"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"
)

// out serialises event lines from every elector's goroutines.
type out struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (o *out) event(index int, event, detail string) {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintf(o.w, "%d %d %s %s\n", ts.Nano(), index, event, detail)
	_ = o.w.Flush()
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig file")
	kubecontext := flag.String("context", "elector", "kubeconfig context")
	namespace := flag.String("namespace", "default", "namespace of the lease")
	lease := flag.String("lease", "", "lease name; with -distinct-leases, the prefix of <lease>-<i>")
	identity := flag.String("identity", "", "identity; with -count > 1, the prefix of <identity>-<i>")
	count := flag.Int("count", 1, "electors in this process")
	distinct := flag.Bool("distinct-leases", false, "give each elector a lease of its own")
	work := flag.Bool("work", false, "do leader work while leading")
	flag.Parse()
	klog.SetOutput(os.Stderr)
	if *lease == "" || *identity == "" || *count < 1 {
		fmt.Fprintln(os.Stderr, "usage: client-go-participant -kubeconfig F -lease L -identity I [-count N] [-distinct-leases]")
		os.Exit(2)
	}

	restConfig, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: *kubeconfig},
		&clientcmd.ConfigOverrides{CurrentContext: *kubecontext},
	).ClientConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubeconfig:", err)
		os.Exit(1)
	}

	o := &out{w: bufio.NewWriter(os.Stdout)}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < *count; i++ {
		id, name := *identity, *lease
		if *count > 1 {
			id = fmt.Sprintf("%s-%d", *identity, i)
		}
		if *distinct {
			name = fmt.Sprintf("%s-%d", *lease, i)
		}
		// A client per elector, as in a process of its own: client-go
		// rate-limits each client (5 requests/s by default), while the
		// shared transport still multiplexes them on one HTTP/2 connection.
		client := kubernetes.NewForConfigOrDie(restConfig)
		lock := &resourcelock.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Name: name, Namespace: *namespace},
			Client:     client.CoordinationV1(),
			LockConfig: resourcelock.ResourceLockConfig{Identity: id},
		}
		index := i
		elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock:            lock,
			LeaseDuration:   15 * time.Second,
			RenewDeadline:   10 * time.Second,
			RetryPeriod:     2 * time.Second,
			ReleaseOnCancel: true,
			Name:            name,
			Callbacks: leaderelection.LeaderCallbacks{
				// client-go's leader works until the context it was given
				// ends: that, not OnStoppedLeading (which runs whenever Run
				// returns, led or not, after the release), ends its term.
				OnStartedLeading: func(leading context.Context) {
					wg.Add(1) // the process waits for this "lost" too
					defer wg.Done()
					o.event(index, "acquired", "")
					for *work && leading.Err() == nil {
						o.event(index, "unit_begin", "")
						for busy := time.Now().Add(time.Duration(rand.Int63n(int64(10 * time.Millisecond)))); time.Now().Before(busy); {
						}
						time.Sleep(time.Duration(rand.Int63n(int64(100 * time.Millisecond))))
						o.event(index, "unit_end", "")
					}
					<-leading.Done()
					o.event(index, "lost", "")
				},
				OnStoppedLeading: func() {},
			},
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "leader election config:", err)
			os.Exit(1)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			o.event(index, "started", "")
			// Run returns when ctx ends or leadership is lost; like a
			// controller that keeps campaigning, run again until stopped.
			for ctx.Err() == nil {
				elector.Run(ctx)
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
