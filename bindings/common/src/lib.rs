//! The parts of a host-language binding that do not depend on the host:
//! events and stats as JSON (the shape the Node.js and Ruby layers read),
//! and the engine's `tracing` lines as JSON, tagged with the elector they
//! belong to so the host can route them to that elector's logger; and the
//! acknowledgement of `Lost`, held until the host's leader work has stopped.

pub mod ack;
pub mod json;
pub mod log;
