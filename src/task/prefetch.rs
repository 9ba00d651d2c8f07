//! Builds the next training batches on a worker thread while the current one trains.

use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::{generate_batch, Batch, Task, TaskError};

/// Yields batches `first, first+1, …` of one random stream, built ahead on a worker thread.
/// The batches are exactly those [`generate_batch`] gives for the same indices.
pub struct BatchPrefetcher {
    receiver: Option<Receiver<Result<Batch, TaskError>>>,
    worker: Option<JoinHandle<()>>,
}

impl BatchPrefetcher {
    /// Starts the worker; it keeps up to `depth` finished batches waiting.
    pub fn start(
        task: Arc<dyn Task>,
        seed: u64,
        stream: u64,
        first: u64,
        batch_size: usize,
        depth: usize,
    ) -> Self {
        let (sender, receiver) = sync_channel(depth.max(1));
        let worker = std::thread::Builder::new()
            .name("psychrnn-batches".into())
            .spawn(move || {
                let mut index = first;
                loop {
                    let batch = generate_batch(task.as_ref(), seed, stream, index, batch_size);
                    let failed = batch.is_err();
                    if sender.send(batch).is_err() || failed {
                        return;
                    }
                    index += 1;
                }
            })
            .expect("spawn batch thread");
        BatchPrefetcher {
            receiver: Some(receiver),
            worker: Some(worker),
        }
    }

    /// The next batch, waiting for it if the worker is behind.
    pub fn next_batch(&mut self) -> Result<Batch, TaskError> {
        let receiver = self.receiver.as_ref().expect("prefetcher is running");
        receiver
            .recv()
            .unwrap_or_else(|_| Err(TaskError::GeneratorStopped))
    }
}

impl Drop for BatchPrefetcher {
    fn drop(&mut self) {
        // Dropping the receiver makes the worker's next send fail, which ends it.
        self.receiver.take();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}
