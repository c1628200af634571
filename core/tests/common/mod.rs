//! Helpers shared by the integration tests of the elector.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use elector_core::{Config, ConfigBuilder, Connection, Elector, Event, LostReason};
use elector_test_support::{TestEnv, User, cluster};
use k8s_openapi::api::coordination::v1::Lease;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};

pub const LEASE: Duration = Duration::from_secs(3);
pub const DEADLINE: Duration = Duration::from_secs(2);
pub const RETRY: Duration = Duration::from_millis(500);

pub fn config(env: &TestEnv, identity: &str, user: User) -> ConfigBuilder {
    Config::builder(&env.namespace, &env.lease, identity)
        .lease_duration(LEASE)
        .renew_deadline(DEADLINE)
        .retry_period(RETRY)
        .connection(Connection::Kubeconfig {
            path: Some(cluster().kubeconfig().to_path_buf()),
            context: Some(user.context().into()),
        })
}

/// An elector with its event stream, checking as it goes that `Acquired` and
/// `Lost` strictly alternate. Every event is also logged with the instant it
/// arrived, for [`assert_no_overlap`].
pub struct Candidate {
    pub elector: Elector,
    events: mpsc::UnboundedReceiver<Event>,
    log: Arc<Mutex<Vec<(Instant, Event)>>>,
    leading: bool,
}

impl Candidate {
    pub async fn start(config: ConfigBuilder) -> Candidate {
        let elector = Elector::new(config.build().unwrap());
        let mut stream = elector.events().unwrap();
        let (sender, events) = mpsc::unbounded_channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        let record = log.clone();
        tokio::spawn(async move {
            while let Some(mut event) = stream.recv().await {
                // A host with no leader work: a loss is acknowledged at once.
                event.take_ack();
                record.lock().unwrap().push((Instant::now(), event.clone()));
                let _ = sender.send(event);
            }
        });
        elector.start().await.unwrap();
        Candidate {
            elector,
            events,
            log,
            leading: false,
        }
    }

    /// Its identity and each term it led, from `Acquired` to `Lost` (or
    /// to now), as the events arrived.
    pub fn terms(&self) -> Terms {
        (
            self.elector.config().identity().to_string(),
            self.intervals(),
        )
    }

    pub fn intervals(&self) -> Vec<(Instant, Instant)> {
        let mut intervals = Vec::new();
        let mut since = None;
        for (at, event) in self.log.lock().unwrap().iter() {
            match event {
                Event::Acquired { .. } => since = Some(*at),
                Event::Lost { .. } => intervals.extend(since.take().map(|s| (s, *at))),
                _ => {}
            }
        }
        intervals.extend(since.map(|s| (s, Instant::now())));
        intervals
    }

    pub async fn elected(env: &TestEnv, identity: &str) -> Candidate {
        Candidate::start(config(env, identity, User::Elector)).await
    }

    /// The next event matching `wanted` within `limit`, checking alternation
    /// on everything it passes.
    pub async fn wait_for(&mut self, limit: Duration, wanted: impl Fn(&Event) -> bool) -> Event {
        let deadline = Instant::now() + limit;
        loop {
            let event = timeout(deadline - Instant::now(), self.events.recv())
                .await
                .unwrap_or_else(|_| panic!("no matching event within {limit:?}"))
                .expect("event stream ended");
            match &event {
                Event::Acquired { .. } => {
                    assert!(!self.leading, "acquired twice without lost");
                    self.leading = true;
                }
                Event::Lost { .. } => {
                    assert!(self.leading, "lost without acquired");
                    self.leading = false;
                }
                _ => {}
            }
            if wanted(&event) {
                return event;
            }
        }
    }

    pub async fn acquired(&mut self, limit: Duration) -> i32 {
        match self
            .wait_for(limit, |e| matches!(e, Event::Acquired { .. }))
            .await
        {
            Event::Acquired { term, .. } => term,
            _ => unreachable!(),
        }
    }

    pub async fn lost(&mut self, limit: Duration) -> LostReason {
        match self
            .wait_for(limit, |e| matches!(e, Event::Lost { .. }))
            .await
        {
            Event::Lost { reason, .. } => reason,
            _ => unreachable!(),
        }
    }

    /// Stops and drains: `Stopped` must be the last event. Returns the
    /// terms it led, for [`assert_no_overlap`].
    pub async fn stop(mut self) -> Terms {
        self.elector.stop().await;
        let mut last = None;
        while let Some(event) = self.events.recv().await {
            last = Some(event.name());
        }
        assert_eq!(last, Some("stopped"));
        assert!(!self.elector.is_leader());
        self.terms()
    }

    /// No `Acquired` for `period`.
    pub async fn never_acquires(&mut self, period: Duration) {
        let result = timeout(
            period,
            self.wait_for(period * 2, |e| matches!(e, Event::Acquired { .. })),
        )
        .await;
        assert!(result.is_err(), "acquired unexpectedly");
    }
}

pub async fn lease_of(env: &TestEnv) -> Lease {
    env.leases(User::Admin).await.get(&env.lease).await.unwrap()
}

/// An identity and the intervals it led.
pub type Terms = (String, Vec<(Instant, Instant)>);

/// No two candidates ever led at the same time, by their event logs.
pub fn assert_no_overlap(terms: &[Terms]) {
    for (i, (a, a_terms)) in terms.iter().enumerate() {
        for (b, b_terms) in &terms[i + 1..] {
            for (a_from, a_to) in a_terms {
                for (b_from, b_to) in b_terms {
                    assert!(
                        a_to <= b_from || b_to <= a_from,
                        "{a} led {a_from:?}..{a_to:?} while {b} led {b_from:?}..{b_to:?}"
                    );
                }
            }
        }
    }
}
