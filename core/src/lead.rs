//! Leader work as a scoped function: started on `Acquired`, told when
//! leadership is lost, and the loss acknowledged only once it has returned,
//! so that the next leader's work never overlaps it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::engine::Shared;
use crate::events::{Event, EventStream, LostAck};

/// One term of leadership, as the work given to
/// [`Elector::lead`](crate::Elector::lead) sees it.
#[derive(Debug, Clone)]
pub struct Leadership {
    term: i32,
    lost: CancellationToken,
    shared: Arc<Shared>,
}

impl Leadership {
    /// The lease's `leaseTransitions` for this term: a fencing token that
    /// grows with each takeover.
    pub fn term(&self) -> i32 {
        self.term
    }

    /// Completes when this term has ended: stop leader work and return.
    pub async fn lost(&self) {
        self.lost.cancelled().await
    }

    /// Whether this term has ended. Also true once the renew deadline has
    /// passed, before `Lost` arrives: checked on every call, so a process
    /// woken from a pause starts no unit of work on a lease it may have
    /// lost meanwhile.
    pub fn is_lost(&self) -> bool {
        self.lost.is_cancelled() || !self.shared.is_leading()
    }
}

/// The term in progress: its work, while it runs, and what it was told.
struct Term<Fut> {
    work: Option<Pin<Box<Fut>>>,
    lost: CancellationToken,
    /// `Lost`'s acknowledgement, held until the work returns.
    ack: Option<LostAck>,
}

#[allow(clippy::large_enum_variant)] // one lives at a time, on the stack
enum Next<T> {
    Event(Option<Event>),
    Returned(T),
}

/// What `run` needs of the elector besides its events.
pub(crate) struct Terms<S, O> {
    pub shared: Arc<Shared>,
    /// Begins stopping the elector.
    pub stop: S,
    /// Sees every event first.
    pub observe: O,
}

/// Drives `work` from the elector's events until `Stopped`. The first error
/// a term's work returns stops the elector and is the result.
pub(crate) async fn run<F, Fut, E>(
    mut events: EventStream,
    mut terms: Terms<impl Fn(), impl FnMut(&Event)>,
    mut work: F,
) -> Result<(), E>
where
    F: FnMut(Leadership) -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    let mut term: Option<Term<Fut>> = None;
    let mut failure = None;
    loop {
        let next = {
            let returned = async {
                match term.as_mut().and_then(|t| t.work.as_mut()) {
                    Some(work) => work.await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                event = events.recv() => Next::Event(event),
                result = returned => Next::Returned(result),
            }
        };
        let event = match next {
            Next::Returned(result) => {
                // Returned: acknowledge a loss it was winding down for. A term
                // whose work returned early keeps leading, idle.
                if let Some(t) = term.as_mut() {
                    t.work = None;
                    t.ack = None;
                }
                if let Err(err) = result
                    && failure.is_none()
                {
                    failure = Some(err);
                    (terms.stop)();
                }
                continue;
            }
            Next::Event(event) => event,
        };
        if let Some(event) = &event {
            (terms.observe)(event);
        }
        match event {
            Some(Event::Acquired { term: number, .. }) => {
                let lost = CancellationToken::new();
                let leadership = Leadership {
                    term: number,
                    lost: lost.clone(),
                    shared: terms.shared.clone(),
                };
                term = Some(Term {
                    work: Some(Box::pin(work(leadership))),
                    lost,
                    ack: None,
                });
            }
            Some(Event::Lost { ack, .. }) => {
                if let Some(t) = term.as_mut() {
                    t.lost.cancel();
                    if t.work.is_some() {
                        t.ack = Some(ack);
                    }
                }
            }
            Some(Event::Stopped) | None => break,
            Some(_) => {}
        }
    }
    // Stopped with work still running: the engine gave up waiting for it
    // (the stop timeout). It was told; let it finish rather than cut it.
    if let Some(work) = term.and_then(|t| t.work)
        && let Err(err) = work.await
    {
        failure.get_or_insert(err);
    }
    failure.map_or(Ok(()), Err)
}
