package elector

// #include <elector.h>
import "C"

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"unsafe"
)

var (
	logger       atomic.Pointer[slog.Logger]
	logOnce      sync.Once
	logCallError error
)

// SetLogger sends the engine's log lines to logger: the message at its
// level (trace as debug − 4), with the attributes target, lease and
// identity (absent on lines of no elector, such as a shared connection's)
// and the line's own fields. The engine sends its own lines from debug up
// and other libraries' warnings, or what ELECTOR_LOG selects; logger's
// handler filters further. The handler runs on the engine's threads, at
// times on several at once: it must be safe for that and should not block.
// Call it before the first New when ELECTOR_LOG is set, which otherwise
// logs to standard error from then on (an error). Later calls replace the
// logger; nil drops the lines.
func SetLogger(l *slog.Logger) error {
	logger.Store(l)
	logOnce.Do(func() {
		logCallError = call(func() C.elector_result {
			return C.elector_set_log_callback(logCallback(), nil)
		})
	})
	return logCallError
}

// electorGoLog runs on the engine's threads: it logs the line and returns.
// A Go panic must never unwind into C.
//
//export electorGoLog
func electorGoLog(_ unsafe.Pointer, params *C.elector_log_params) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "elector: log handler panicked: %v\n", r)
		}
	}()
	l := logger.Load()
	if l == nil {
		return
	}
	level := logLevel(params.level)
	ctx := context.Background()
	if !l.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{slog.String("target", C.GoString(params.target))}
	if params.lease != nil {
		attrs = append(attrs, slog.String("lease", C.GoString(params.lease)))
	}
	if params.identity != nil {
		attrs = append(attrs, slog.String("identity", C.GoString(params.identity)))
	}
	var fields map[string]any
	if json.Unmarshal([]byte(C.GoString(params.fields_json)), &fields) == nil {
		names := make([]string, 0, len(fields))
		for name := range fields {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			attrs = append(attrs, slog.Any(name, fields[name]))
		}
	}
	l.LogAttrs(ctx, level, C.GoString(params.message), attrs...)
}

func logLevel(level C.elector_log_level) slog.Level {
	switch level {
	case C.ELECTOR_LOG_ERROR:
		return slog.LevelError
	case C.ELECTOR_LOG_WARN:
		return slog.LevelWarn
	case C.ELECTOR_LOG_INFO:
		return slog.LevelInfo
	case C.ELECTOR_LOG_DEBUG:
		return slog.LevelDebug
	default:
		return slog.LevelDebug - 4
	}
}
