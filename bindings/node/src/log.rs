//! The engine's `tracing` logs, forwarded to JavaScript so each elector's
//! `log` option (any abstract-logging logger) receives its lines at the
//! matching level. The JS layer finds the logger by the line's `lease` and
//! `identity` (see `elector_bindings::log`).

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};

/// Weak: a log sink must not keep the process alive.
type Sink = ThreadsafeFunction<String, (), String, Status, false, true>;

/// Installs `sink` as the process's log sink; later calls change nothing and
/// return false.
pub fn install(sink: Function<String, ()>) -> Result<bool> {
    let sink: Sink = sink
        .build_threadsafe_function::<String>()
        .callee_handled::<false>()
        .weak::<true>()
        .build()?;
    Ok(elector_bindings::log::install(move |line| {
        sink.call(line, ThreadsafeFunctionCallMode::NonBlocking);
    }))
}
