package elector

/*
#include <string.h>
#include <elector.h>
*/
import "C"

import (
	"sync"
	"time"
	"unsafe"
)

// EventKind says what happened.
type EventKind int

const (
	// EventAcquired: this process is now the leader; Term is its fencing token.
	EventAcquired EventKind = C.ELECTOR_EVENT_ACQUIRED
	// EventRenewed: the leader renewed its lease at RenewTime.
	EventRenewed EventKind = C.ELECTOR_EVENT_RENEWED
	// EventLost: stop leader work now; see LostReason.
	EventLost EventKind = C.ELECTOR_EVENT_LOST
	// EventLeaderChanged: the observed leader is now Identity ("" for none).
	EventLeaderChanged EventKind = C.ELECTOR_EVENT_LEADER_CHANGED
	// EventError: an API error the elector rides out; see ErrorKind and Message.
	EventError EventKind = C.ELECTOR_EVENT_ERROR
	// EventStopped: the last event.
	EventStopped EventKind = C.ELECTOR_EVENT_STOPPED
)

func (k EventKind) String() string {
	switch k {
	case EventAcquired:
		return "acquired"
	case EventRenewed:
		return "renewed"
	case EventLost:
		return "lost"
	case EventLeaderChanged:
		return "leader_changed"
	case EventError:
		return "error"
	case EventStopped:
		return "stopped"
	}
	return "unknown"
}

// LostReason says why leadership ended.
type LostReason int

const (
	LostStopped               LostReason = C.ELECTOR_LOST_STOPPED
	LostRenewDeadlineExceeded LostReason = C.ELECTOR_LOST_RENEW_DEADLINE_EXCEEDED
	LostTakenOver             LostReason = C.ELECTOR_LOST_TAKEN_OVER
	LostDeleted               LostReason = C.ELECTOR_LOST_DELETED
)

// ErrorKind classifies an API error.
type ErrorKind int

const (
	Unauthorized ErrorKind = C.ELECTOR_ERROR_UNAUTHORIZED
	Forbidden    ErrorKind = C.ELECTOR_ERROR_FORBIDDEN
	Timeout      ErrorKind = C.ELECTOR_ERROR_TIMEOUT
	Unavailable  ErrorKind = C.ELECTOR_ERROR_UNAVAILABLE
	Invalid      ErrorKind = C.ELECTOR_ERROR_INVALID
	// IdentityConflict: another process renewed the lease under this identity;
	// this elector stepped down and waits for the lease to expire.
	IdentityConflict ErrorKind = C.ELECTOR_ERROR_IDENTITY_CONFLICT
)

// Event is one event of an elector, copied out of the library.
type Event struct {
	Kind EventKind
	// EventAcquired: this elector's identity. LeaderChanged: the new leader ("" for
	// none). Lost with LostTakenOver: the new holder.
	Identity string
	// The lease's leaseTransitions, when the event carries a lease.
	Term       int32
	HasTerm    bool
	LostReason LostReason
	ErrorKind  ErrorKind
	// Error: the API error. Lost: the reason in words.
	Message string
	// The lease as Kubernetes JSON, when the event carries one.
	LeaseJSON []byte
	RenewTime time.Time

	// Lost: the acknowledgement that leader work has stopped, given when
	// the event is taken from the channel (or, under Lead, when the term's
	// function has returned).
	ack *C.elector_lost_ack
}

// acknowledge tells the library that leader work has stopped after a Lost:
// only then does it release the lease on Stop, or campaign again.
func (ev *Event) acknowledge() {
	if ev.ack != nil {
		C.elector_lost_ack_done(ev.ack)
		ev.ack = nil
	}
}

func copyEvent(ev *C.elector_event) Event {
	out := Event{
		Kind:       EventKind(C.elector_event_get_kind(ev)),
		LostReason: LostReason(C.elector_event_get_lost_reason(ev)),
		ErrorKind:  ErrorKind(C.elector_event_get_error_kind(ev)),
	}
	if p := C.elector_event_get_identity(ev); p != nil {
		out.Identity = C.GoString(p)
	}
	if p := C.elector_event_get_message(ev); p != nil {
		out.Message = C.GoString(p)
	}
	if p := C.elector_event_get_lease_json(ev); p != nil {
		out.LeaseJSON = C.GoBytes(unsafe.Pointer(p), C.int(C.strlen(p)))
	}
	var term C.int32_t
	if C.elector_event_get_term(ev, &term) == C.ELECTOR_OK {
		out.Term, out.HasTerm = int32(term), true
	}
	if us := int64(C.elector_event_get_renew_time_us(ev)); us != 0 {
		out.RenewTime = time.UnixMicro(us).UTC()
	}
	return out
}

// eventQueue takes events from the library's thread without ever blocking
// it, and hands them to the subscriber's channel in order. A Lost is
// acknowledged once the subscriber has taken it, unless the subscriber is
// Lead, which acknowledges it itself.
type eventQueue struct {
	mu      sync.Mutex
	pending []Event
	wake    chan struct{}
	out     chan Event
	byLead  bool // the subscriber is Lead
	stopped bool // EventStopped was seen
}

func newEventQueue() *eventQueue {
	return &eventQueue{wake: make(chan struct{}, 1)}
}

// push is called on the library's event thread: it must return at once.
func (q *eventQueue) push(ev Event) {
	q.mu.Lock()
	q.stopped = q.stopped || ev.Kind == EventStopped
	if q.out == nil {
		// Nobody subscribed: events are optional, and a loss nobody hears
		// of is acknowledged at once.
		q.mu.Unlock()
		ev.acknowledge()
		return
	}
	q.pending = append(q.pending, ev)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// subscribe returns the one channel of events; ok is false when Lead took
// them, or when Lead asks and they were taken.
func (q *eventQueue) subscribe(byLead bool) (events <-chan Event, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.out != nil && (byLead || q.byLead) {
		return nil, false
	}
	if q.out == nil {
		q.byLead = byLead
		q.out = make(chan Event)
		if q.stopped {
			close(q.out) // nothing will follow
		} else {
			go q.pump()
		}
	}
	return q.out, true
}

func (q *eventQueue) pump() {
	for {
		q.mu.Lock()
		batch := q.pending
		q.pending = nil
		q.mu.Unlock()
		for _, ev := range batch {
			q.out <- ev
			if !q.byLead {
				ev.acknowledge() // taken
			}
		}
		// Stopped is always the last event.
		if len(batch) > 0 && batch[len(batch)-1].Kind == EventStopped {
			close(q.out)
			return
		}
		<-q.wake
	}
}
