package elector

/*
#include <elector.h>
*/
import "C"

import (
	"fmt"
	"os"
	"unsafe"
)

// electorGoOnEvent runs on libelector's event thread: it copies the event
// and returns at once. A Go panic must never unwind into C.
//
//export electorGoOnEvent
func electorGoOnEvent(userdata unsafe.Pointer, ev *C.elector_event) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "elector: event callback panicked: %v\n", r)
		}
	}()
	e := handleOf(userdata).Value().(*Elector)
	event := copyEvent(ev)
	if event.Kind == EventLost {
		// Acknowledged when the event is taken, not when this returns.
		event.ack = C.elector_event_defer_ack(ev)
	}
	e.queue.push(event)
}

// electorGoFree runs once, after the last event.
//
//export electorGoFree
func electorGoFree(userdata unsafe.Pointer) {
	defer func() { _ = recover() }()
	freeUserdata(userdata)
}
