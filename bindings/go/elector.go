// Package elector is Kubernetes leader election over a coordination.k8s.io/v1
// Lease, through the C ABI of libelector (the same engine as every other
// language): exactly one leader among the processes sharing a lease, told
// through one ordered stream of events.
//
// Build with libelector installed where pkg-config finds it
// (make -C ffi install PREFIX=...; PKG_CONFIG_PATH=PREFIX/lib/pkgconfig).
//
//	e, err := elector.New(elector.Config{LeaseName: "my-controller", Identity: podName})
//	if err != nil { ... }
//	events := e.Events()
//	if err := e.Start(); err != nil { ... }
//	for ev := range events {
//		switch ev.Kind {
//		case elector.EventAcquired: // lead, fencing writes with ev.Term
//		case elector.EventLost:     // stop leader work now
//		}
//	}
package elector

/*
#cgo pkg-config: elector
#include <stdlib.h>
#include <elector.h>

extern void electorGoOnEvent(void *userdata, const elector_event *event);
extern void electorGoFree(void *userdata);
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/cgo"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"
)

// Config holds an elector's options. Zero values mean the defaults:
// namespace "default", client-go's timings (15 s / 10 s / 2 s), release on
// stop, and the connection inferred as kube-rs does (KUBECONFIG, then the
// in-cluster service account).
type Config struct {
	Namespace string
	LeaseName string // required; a DNS subdomain
	Identity  string // required; unique among the candidates

	LeaseDuration time.Duration // whole seconds, > RenewDeadline
	RenewDeadline time.Duration // > 1.2 × RetryPeriod
	RetryPeriod   time.Duration // ≥ 10ms

	// KeepLeaseOnStop leaves the lease to expire on Stop instead of
	// releasing it so a standby takes over at once.
	KeepLeaseOnStop bool
	// ReleaseTimeout bounds the release on Stop, all requests together
	// (zero: 5 s); after it the lease is left to expire.
	ReleaseTimeout time.Duration
	// StopTimeout bounds how long Stop keeps the lease (renewing it) while
	// leader work stops, that is until Lost is acknowledged (zero: 10 s).
	// After it the lease is not released but left to expire.
	StopTimeout time.Duration

	Labels map[string]string // written on create and takeover
	Owner  *OwnerReference   // written on create and takeover

	// A kubeconfig file and context ("" for the defaults).
	Kubeconfig string
	Context    string

	// An explicit API server: URL with Token or TokenFile (re-read as it
	// rotates) and CAFile; not with Kubeconfig or Context.
	// InsecureSkipTLSVerify accepts any server certificate (development
	// clusters only; URL connections only).
	URL                   string
	Token                 string
	TokenFile             string
	CAFile                string
	InsecureSkipTLSVerify bool
}

// OwnerReference makes the lease garbage-collected with its owner (a Pod).
type OwnerReference struct {
	APIVersion, Kind, Name, UID string
}

// Elector is a leader elector for one lease. Its methods are safe for
// concurrent use.
type Elector struct {
	ptr   *C.elector
	queue *eventQueue

	// mu is held for reading by every call into the library and for
	// writing by Close, so the handle is never freed under a running call.
	mu sync.RWMutex
}

// New checks cfg and returns a stopped elector. An invalid option is an
// *Error whose Code names the rule and whose Message names the field.
func New(cfg Config) (*Elector, error) {
	config, err := newConfig(cfg)
	if err != nil {
		return nil, err
	}
	defer C.elector_config_free(config)

	e := &Elector{queue: newEventQueue()}
	if err := call(func() C.elector_result { return C.elector_new(config, &e.ptr) }); err != nil {
		return nil, inGoTerms(err)
	}
	// The handle keeps e reachable (so its finalizer cannot stop a running
	// elector) until the library frees the userdata after the last event.
	// The library owns the userdata from here on, failure included.
	userdata := newUserdata(cgo.NewHandle(e))
	err = call(func() C.elector_result {
		return C.elector_set_callback(e.ptr, C.elector_event_callback(C.electorGoOnEvent),
			userdata, C.elector_userdata_free(C.electorGoFree))
	})
	if err != nil {
		C.elector_free(e.ptr)
		return nil, err
	}
	runtime.SetFinalizer(e, (*Elector).Close)
	return e, nil
}

// Events returns the elector's events, in order; call it before Start, as
// events before the first call are not kept. The channel is closed after
// EventStopped (at once if the elector already stopped, or if Lead took the
// events). Events are queued without bound until read: read until the
// channel is closed. Taking EventLost from the channel acknowledges it: stop
// leader work before you take it, or use Lead.
func (e *Elector) Events() <-chan Event {
	events, ok := e.queue.subscribe(false)
	if !ok {
		closed := make(chan Event)
		close(closed)
		return closed
	}
	return events
}

// Start connects and starts campaigning; the outcome arrives as events.
func (e *Elector) Start() error {
	return e.use(func(ptr *C.elector) error {
		return call(func() C.elector_result { return C.elector_start(ptr) })
	})
}

// Run starts the elector and stops it when ctx is done. It returns ctx's
// error, or Start's.
func (e *Elector) Run(ctx context.Context) error {
	if err := e.Start(); err != nil {
		e.Stop() // ends the event stream
		return err
	}
	<-ctx.Done()
	e.Stop()
	return ctx.Err()
}

// Stop stops campaigning: a leader emits Lost, keeps the lease (renewing
// it) until Lost is acknowledged (at most StopTimeout), then releases it;
// then Stopped is emitted. It returns when no further event will be
// delivered. Idempotent. Keep reading Events while it runs: an EventLost
// not taken is not acknowledged.
func (e *Elector) Stop() {
	_ = e.use(func(ptr *C.elector) error {
		C.elector_stop(ptr)
		return nil
	})
}

// Close stops the elector and frees it. Idempotent; safe from any goroutine.
func (e *Elector) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ptr == nil {
		return nil
	}
	runtime.SetFinalizer(e, nil)
	C.elector_free(e.ptr)
	e.ptr = nil
	return nil
}

// IsLeader reports whether this process leads now: it holds the lease and
// its renew deadline has not passed.
func (e *Elector) IsLeader() bool {
	leading := false
	_ = e.use(func(ptr *C.elector) error {
		leading = bool(C.elector_is_leader(ptr))
		return nil
	})
	return leading
}

// Leader returns the identity of the observed leader; false when the lease
// is free, absent or not read yet.
func (e *Elector) Leader() (leader string, found bool) {
	_ = e.use(func(ptr *C.elector) error {
		for size := 256; size <= 1<<20; size *= 16 {
			buf := make([]byte, size)
			var n C.size_t
			switch C.elector_get_leader(ptr, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(size), &n) {
			case C.ELECTOR_OK:
				leader, found = string(buf[:n]), true
				return nil
			case C.ELECTOR_ERR_BUFFER_TOO_SMALL:
				continue
			}
			return nil
		}
		return nil
	})
	return leader, found
}

// Term returns the lease's leaseTransitions as last observed: while this
// elector leads, its term, a fencing token that grows with every takeover.
func (e *Elector) Term() (term int32, found bool) {
	_ = e.use(func(ptr *C.elector) error {
		var t C.int32_t
		if C.elector_get_term(ptr, &t) == C.ELECTOR_OK {
			term, found = int32(t), true
		}
		return nil
	})
	return term, found
}

// Stats are an elector's counters since it was created.
type Stats struct {
	Gets, Creates, Updates, Watches uint64 // API requests by verb
	Conflicts                       uint64 // writes refused with 409
	Acquisitions, Losses            uint64
	Renewals, FailedRenewals        uint64
	WatchRestarts                   uint64
	QueuedEvents                    uint64 // events not yet delivered to the callback
}

// Stats reads the elector's counters.
func (e *Elector) Stats() Stats {
	var s Stats
	_ = e.use(func(ptr *C.elector) error {
		s = readStats(ptr)
		return nil
	})
	return s
}

func readStats(ptr *C.elector) Stats {
	var s Stats
	for stat, field := range map[C.uint32_t]*uint64{
		C.ELECTOR_STAT_GETS: &s.Gets, C.ELECTOR_STAT_CREATES: &s.Creates,
		C.ELECTOR_STAT_UPDATES: &s.Updates, C.ELECTOR_STAT_WATCHES: &s.Watches,
		C.ELECTOR_STAT_CONFLICTS: &s.Conflicts, C.ELECTOR_STAT_ACQUISITIONS: &s.Acquisitions,
		C.ELECTOR_STAT_LOSSES: &s.Losses, C.ELECTOR_STAT_RENEWALS: &s.Renewals,
		C.ELECTOR_STAT_FAILED_RENEWALS: &s.FailedRenewals,
		C.ELECTOR_STAT_WATCH_RESTARTS:  &s.WatchRestarts,
		C.ELECTOR_STAT_QUEUED_EVENTS:   &s.QueuedEvents,
	} {
		var value C.uint64_t
		if C.elector_get_stat(ptr, stat, &value) == C.ELECTOR_OK {
			*field = uint64(value)
		}
	}
	return s
}

// Metrics returns the Prometheus text exposition of every running elector of the
// process: client-go's leader_election_master_status and
// leader_election_slowpath_total (so its dashboards and alerts apply), then
// every counter as elector_<name>_total, each series labelled with the
// lease's name and namespace and the elector's identity. Serve it on a
// /metrics endpoint as it is.
func Metrics() (string, error) {
	size := C.size_t(4096)
	for {
		buf := make([]byte, size)
		var n C.size_t
		err := call(func() C.elector_result {
			return C.elector_metrics((*C.char)(unsafe.Pointer(&buf[0])), size, &n)
		})
		var tooSmall *Error
		if errors.As(err, &tooSmall) && tooSmall.Code == BufferTooSmall {
			size = n + 1 // the text may have grown since: try again
			continue
		}
		if err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
}

// Check is client-go's health check: an error when this elector believes it
// leads but has not renewed for longer than the lease duration plus
// tolerance (a stuck process).
func (e *Elector) Check(tolerance time.Duration) error {
	if tolerance < 0 {
		tolerance = 0
	}
	return e.use(func(ptr *C.elector) error {
		return call(func() C.elector_result { return C.elector_check(ptr, C.uint64_t(tolerance.Milliseconds())) })
	})
}

// ErrClosed is returned by calls on a closed elector.
var ErrClosed = errors.New("elector: closed")

// use runs f with the C handle, holding it open for the call's duration.
func (e *Elector) use(f func(ptr *C.elector) error) error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.ptr == nil {
		return ErrClosed
	}
	return f(e.ptr)
}

// checkNoNUL rejects strings C would silently cut short, or refuse under
// its own argument names.
func checkNoNUL(cfg Config) error {
	fields := map[string]string{
		"Namespace": cfg.Namespace, "LeaseName": cfg.LeaseName, "Identity": cfg.Identity,
		"Kubeconfig": cfg.Kubeconfig, "Context": cfg.Context, "URL": cfg.URL,
		"Token": cfg.Token, "TokenFile": cfg.TokenFile, "CAFile": cfg.CAFile,
	}
	for key, value := range cfg.Labels {
		fields["Labels"] += key + value
	}
	if cfg.Owner != nil {
		fields["Owner.APIVersion"] = cfg.Owner.APIVersion
		fields["Owner.Kind"] = cfg.Owner.Kind
		fields["Owner.Name"] = cfg.Owner.Name
		fields["Owner.UID"] = cfg.Owner.UID
	}
	for field, value := range fields {
		if strings.IndexByte(value, 0) >= 0 {
			return &Error{Code: InvalidArgument, Field: field, Message: "invalid " + field + ": contains a NUL byte"}
		}
		if !utf8.ValidString(value) {
			return &Error{Code: InvalidUTF8, Field: field, Message: "invalid " + field + ": is not valid UTF-8"}
		}
	}
	return nil
}

func newConfig(cfg Config) (*C.elector_config, error) {
	if err := checkNoNUL(cfg); err != nil {
		return nil, err
	}
	var config *C.elector_config
	if err := call(func() C.elector_result { return C.elector_config_new(&config) }); err != nil {
		return nil, err
	}
	set := func(f func() C.elector_result) error { return call(f) }
	str := func(s string) *C.char {
		if s == "" {
			return nil
		}
		return C.CString(s)
	}
	free := func(ps ...*C.char) {
		for _, p := range ps {
			C.free(unsafe.Pointer(p))
		}
	}
	steps := []func() error{
		func() error {
			if cfg.Namespace == "" {
				return nil
			}
			p := C.CString(cfg.Namespace)
			defer free(p)
			return set(func() C.elector_result { return C.elector_config_set_namespace(config, p) })
		},
		func() error {
			p := C.CString(cfg.LeaseName)
			defer free(p)
			return set(func() C.elector_result { return C.elector_config_set_lease_name(config, p) })
		},
		func() error {
			p := C.CString(cfg.Identity)
			defer free(p)
			return set(func() C.elector_result { return C.elector_config_set_identity(config, p) })
		},
		func() error {
			for _, d := range []struct {
				field string
				value time.Duration
				set   func(C.uint64_t) C.elector_result
			}{
				{"LeaseDuration", cfg.LeaseDuration, func(v C.uint64_t) C.elector_result { return C.elector_config_set_lease_duration_ms(config, v) }},
				{"RenewDeadline", cfg.RenewDeadline, func(v C.uint64_t) C.elector_result { return C.elector_config_set_renew_deadline_ms(config, v) }},
				{"RetryPeriod", cfg.RetryPeriod, func(v C.uint64_t) C.elector_result { return C.elector_config_set_retry_period_ms(config, v) }},
				{"ReleaseTimeout", cfg.ReleaseTimeout, func(v C.uint64_t) C.elector_result { return C.elector_config_set_release_timeout_ms(config, v) }},
				{"StopTimeout", cfg.StopTimeout, func(v C.uint64_t) C.elector_result { return C.elector_config_set_stop_timeout_ms(config, v) }},
			} {
				// The library takes whole milliseconds; the rules on the
				// value are the library's.
				if d.value < 0 || d.value%time.Millisecond != 0 {
					return &Error{Code: InvalidTiming, Field: d.field, Message: fmt.Sprintf("invalid %s: must be a whole number of milliseconds, not negative; got %v", d.field, d.value)}
				}
				if d.value != 0 {
					v := C.uint64_t(d.value.Milliseconds())
					if err := set(func() C.elector_result { return d.set(v) }); err != nil {
						return err
					}
				}
			}
			return nil
		},
		func() error {
			return set(func() C.elector_result {
				return C.elector_config_set_release_on_stop(config, C.bool(!cfg.KeepLeaseOnStop))
			})
		},
		func() error {
			for key, value := range cfg.Labels {
				k, v := C.CString(key), C.CString(value)
				err := set(func() C.elector_result { return C.elector_config_add_label(config, k, v) })
				free(k, v)
				if err != nil {
					return err
				}
			}
			return nil
		},
		func() error {
			if cfg.Owner == nil {
				return nil
			}
			a, k, n, u := C.CString(cfg.Owner.APIVersion), C.CString(cfg.Owner.Kind), C.CString(cfg.Owner.Name), C.CString(cfg.Owner.UID)
			defer free(a, k, n, u)
			return set(func() C.elector_result { return C.elector_config_set_owner_reference(config, a, k, n, u) })
		},
		func() error {
			// Both kinds of connection are passed as given: the library
			// refuses a mix by name.
			if cfg.Kubeconfig != "" || cfg.Context != "" {
				p, c := str(cfg.Kubeconfig), str(cfg.Context)
				defer free(p, c)
				if err := set(func() C.elector_result { return C.elector_config_set_kubeconfig(config, p, c) }); err != nil {
					return err
				}
			}
			if cfg.URL != "" || cfg.Token != "" || cfg.TokenFile != "" || cfg.CAFile != "" {
				u, t, tf, ca := str(cfg.URL), str(cfg.Token), str(cfg.TokenFile), str(cfg.CAFile)
				defer free(u, t, tf, ca)
				if err := set(func() C.elector_result { return C.elector_config_set_url(config, u, t, tf, ca) }); err != nil {
					return err
				}
			}
			insecure := C.bool(cfg.InsecureSkipTLSVerify)
			return set(func() C.elector_result { return C.elector_config_set_insecure_skip_tls_verify(config, insecure) })
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			C.elector_config_free(config)
			return nil, err
		}
	}
	return config, nil
}

// newUserdata puts a handle in C memory: the library keeps the pointer, and
// cgo's rules forbid handing it a Go pointer.
func newUserdata(h cgo.Handle) unsafe.Pointer {
	p := C.malloc(C.size_t(unsafe.Sizeof(C.uintptr_t(0))))
	*(*C.uintptr_t)(p) = C.uintptr_t(h)
	return p
}

func handleOf(userdata unsafe.Pointer) cgo.Handle {
	return cgo.Handle(*(*C.uintptr_t)(userdata))
}

func freeUserdata(userdata unsafe.Pointer) {
	handleOf(userdata).Delete()
	C.free(userdata)
}
