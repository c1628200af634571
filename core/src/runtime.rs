//! The elector runtime: one small tokio runtime per process, owned by this
//! crate, shared by every elector in it. Hosts need no runtime of their own,
//! and no host code ever runs on its threads.

use std::sync::OnceLock;

use tokio::runtime::Runtime;

/// Two workers: electors mostly wait, and one lease costs a task, not a thread.
const WORKER_THREADS: usize = 2;

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKER_THREADS)
            .thread_name("elector-runtime")
            .enable_all()
            .build()
            .expect("building the elector runtime")
    })
}

/// Runs `future` on the elector runtime and awaits it from any executor.
pub(crate) async fn spawn<F>(future: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match runtime().spawn(future).await {
        Ok(output) => output,
        Err(err) => std::panic::resume_unwind(err.into_panic()),
    }
}

/// Runs `future` on the elector runtime and blocks the calling thread until it
/// is done. Safe from any thread, inside another async runtime or not.
pub(crate) fn block_on<F>(future: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (sender, receiver) = std::sync::mpsc::sync_channel(1);
    runtime().spawn(async move {
        let _ = sender.send(future.await);
    });
    receiver.recv().expect("an elector runtime task panicked")
}
