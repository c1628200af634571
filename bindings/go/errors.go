package elector

/*
#include <elector.h>
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// Code is a libelector result code (stable, never renumbered).
type Code uint32

// The result codes an *Error may carry.
const (
	NullParameter         Code = C.ELECTOR_ERR_NULL_PARAMETER
	InvalidUTF8           Code = C.ELECTOR_ERR_INVALID_UTF8
	Panic                 Code = C.ELECTOR_ERR_PANIC
	InvalidNamespace      Code = C.ELECTOR_ERR_INVALID_NAMESPACE
	InvalidLeaseName      Code = C.ELECTOR_ERR_INVALID_LEASE_NAME
	InvalidIdentity       Code = C.ELECTOR_ERR_INVALID_IDENTITY
	InvalidTiming         Code = C.ELECTOR_ERR_INVALID_TIMING
	InvalidLabel          Code = C.ELECTOR_ERR_INVALID_LABEL
	InvalidOwnerReference Code = C.ELECTOR_ERR_INVALID_OWNER_REFERENCE
	InvalidConnection     Code = C.ELECTOR_ERR_INVALID_CONNECTION
	Connect               Code = C.ELECTOR_ERR_CONNECT
	AlreadyStarted        Code = C.ELECTOR_ERR_ALREADY_STARTED
	Stopped               Code = C.ELECTOR_ERR_STOPPED
	CallbackAlreadySet    Code = C.ELECTOR_ERR_CALLBACK_ALREADY_SET
	BufferTooSmall        Code = C.ELECTOR_ERR_BUFFER_TOO_SMALL
	Unhealthy             Code = C.ELECTOR_ERR_UNHEALTHY
	InvalidArgument       Code = C.ELECTOR_ERR_INVALID_ARGUMENT
	Internal              Code = C.ELECTOR_ERR_INTERNAL
)

// Error is a failed libelector call: its code and a message naming what was
// wrong (for invalid options: the field and the rule).
type Error struct {
	Code Code
	// Field is the Config field an invalid option error is about
	// ("LeaseDuration", "Owner.UID"), and empty for other errors.
	Field   string
	Message string
}

func (e *Error) Error() string { return "elector: " + e.Message }

// Is matches another *Error with the same code, so errors.Is(err,
// &elector.Error{Code: elector.InvalidTiming}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t != nil && e != nil && t.Code == e.Code
}

// call runs one C call and turns a failure into an *Error, reading its
// details on the same OS thread (they are kept per thread).
func call(f func() C.elector_result) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	result := f()
	if result == C.ELECTOR_OK {
		return nil
	}
	buf := make([]byte, 1024)
	var n C.size_t
	message := "unknown error"
	if C.elector_error_message(C.uint32_t(result), (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)), &n) == C.ELECTOR_OK {
		message = string(buf[:n])
	}
	return &Error{Code: Code(result), Message: message}
}
