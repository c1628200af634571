//! The acknowledgement of a `Lost`, held while the event crosses into the
//! host language as JSON and given when the host's leader work has stopped.

use std::sync::Mutex;

use elector_core::{Event, LostAck};

/// The one `Lost` acknowledgement an elector can have outstanding: the
/// engine does not acquire again, so no second `Lost` comes, until it is
/// given.
#[derive(Debug, Default)]
pub struct HeldAck(Mutex<Option<LostAck>>);

impl HeldAck {
    /// Keeps a `Lost`'s acknowledgement, on the engine's side, before the
    /// event is handed to the host.
    pub fn hold(&self, event: &mut Event) {
        if let Some(ack) = event.take_ack() {
            *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(ack);
        }
    }

    /// The host's leader work has stopped. A no-op when nothing is held.
    pub fn acknowledge(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}
