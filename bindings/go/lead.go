package elector

import (
	"context"
	"errors"
)

// ErrEventsTaken: Lead was called after Events, or twice.
var ErrEventsTaken = errors.New("elector: the events are already taken (by Events or Lead)")

// Lead starts the elector and runs fn while it leads: once per term, with
// a context cancelled when the term ends (or ctx is done) and the term, a
// fencing token that grows with each takeover. It is client-go's
// OnStartedLeading(ctx), except that a loss is acknowledged, and on stop
// the lease released, only once fn has returned: the next leader's work
// never overlaps this one's. An fn that returns nil early leaves this
// elector leading, idle, until the term ends.
//
// When ctx is done, Lead stops the elector and returns ctx's error once it
// has stopped. The first error fn returns stops the elector too, and is
// what Lead returns. Lead takes the events: do not call Events as well.
// To stop from inside fn, return an error or cancel ctx: Stop waits for fn
// to return, so fn must not call it.
func (e *Elector) Lead(ctx context.Context, fn func(ctx context.Context, term int64) error) error {
	events, ok := e.queue.subscribe(true)
	if !ok {
		return ErrEventsTaken
	}
	if err := e.Start(); err != nil {
		e.Stop()
		for range events {
		}
		return err
	}
	// The running term's context; cancelled on Lost, and at the latest on
	// return (vet cannot see that every Acquired is followed by a Lost).
	cancelTerm := context.CancelFunc(func() {})
	defer func() { cancelTerm() }()
	var (
		returned chan error // the running term's fn, if any
		held     Event      // its Lost, acknowledged once fn returns
		failure  error
		done     = ctx.Done()
	)
	for {
		select {
		case <-done:
			done = nil
			go e.Stop() // returns once fn has returned: not on this goroutine
		case ev, open := <-events:
			if !open {
				if returned != nil {
					// The engine stopped waiting (StopTimeout); fn was told.
					if err := <-returned; err != nil && failure == nil {
						failure = err
					}
					held.acknowledge() // frees it; nothing waits any more
				}
				if failure != nil {
					return failure
				}
				return ctx.Err()
			}
			switch ev.Kind {
			case EventAcquired:
				termCtx, cancel := context.WithCancel(ctx)
				cancelTerm = cancel
				returned = make(chan error, 1)
				go func(term int64) { returned <- fn(termCtx, term) }(int64(ev.Term))
			case EventLost:
				cancelTerm()
				if returned != nil {
					held = ev
				} else {
					ev.acknowledge()
				}
			}
		case err := <-returned:
			returned = nil
			held.acknowledge()
			if err != nil && failure == nil {
				failure = err
				go e.Stop()
			}
		}
	}
}
