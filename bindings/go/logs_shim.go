package elector

/*
#include <elector.h>

extern void electorGoLog(void *userdata, elector_log_params *params);

// The callback type takes a const pointer; cgo exports Go functions without
// const. Calling through this shim keeps the call's type exact.
void electorLogCallback(void *userdata, const elector_log_params *params) {
	electorGoLog(userdata, (elector_log_params *)params);
}
*/
import "C"

// logCallback is libelector's log callback: electorGoLog through the shim.
func logCallback() C.elector_log_callback {
	return C.elector_log_callback(C.electorLogCallback)
}
