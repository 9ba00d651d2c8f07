//! Large kernel buffers kept from one training iteration to the next.
//!
//! An LSTM or GRU at 256 units needs 52–66 MB blocks per iteration (the gate activations kept
//! for the backward pass, ∂ of the pre-activations). glibc serves blocks of 32 MiB and more
//! (the largest mmap threshold it accepts) with a fresh `mmap` and unmaps them when freed, so
//! every iteration page-faulted them in again: measured on a 256-unit LSTM `psychrnn run`,
//! 29 000 minor faults and ~80 ms of system time per iteration, a fifth of the iteration.
//! Turning mmap off in the allocator instead cost more memory (the model threads' arenas cannot
//! hold such blocks, and one shared arena raised a default 256-unit run's peak by 3–5 MB, to
//! within 3 MiB of its 250 MiB limit), so the kernel keeps its own large buffers here.

use std::sync::Mutex;

/// The most buffers a stash keeps (the GRU's backward pass holds three at once per batch
/// part, two parts on two threads).
const MAX_KEPT: usize = 8;

/// Buffers smaller than this are left to the allocator, which reuses them well.
const MIN_KEPT_VALUES: usize = 1 << 18;

/// A few large f32 buffers handed back after use and handed out again zeroed, shared by the
/// ops of one network across iterations (and threads: a mutex guards it).
#[derive(Debug, Default)]
pub struct BufferStash {
    free: Mutex<Vec<Vec<f32>>>,
}

impl BufferStash {
    /// A stash with nothing kept.
    pub fn new() -> Self {
        Self::default()
    }

    /// `len` zeros: in the smallest kept buffer that holds them, else in a new allocation.
    pub fn zeroed(&self, len: usize) -> Vec<f32> {
        let reused = {
            let mut free = self.free.lock().expect("buffer stash");
            let best = free
                .iter()
                .enumerate()
                .filter(|(_, b)| b.capacity() >= len)
                .min_by_key(|(_, b)| b.capacity())
                .map(|(k, _)| k);
            best.map(|k| free.swap_remove(k))
        };
        match reused {
            Some(mut buffer) => {
                buffer.clear();
                buffer.resize(len, 0.0);
                buffer
            }
            None => vec![0.0; len],
        }
    }

    /// Keeps `buffer` for a later [`zeroed`](Self::zeroed) if it is large; of more than
    /// [`MAX_KEPT`] buffers the smallest goes.
    pub fn keep(&self, buffer: Vec<f32>) {
        if buffer.capacity() < MIN_KEPT_VALUES {
            return;
        }
        let mut free = self.free.lock().expect("buffer stash");
        free.push(buffer);
        if free.len() > MAX_KEPT {
            let smallest = (0..free.len())
                .min_by_key(|&k| free[k].capacity())
                .expect("a kept buffer");
            free.swap_remove(smallest);
        }
    }

    /// Frees every kept buffer (a run calls this after training, before its test set).
    pub fn release(&self) {
        self.free.lock().expect("buffer stash").clear();
    }

    /// Values the kept buffers can hold, in all.
    pub fn kept_values(&self) -> usize {
        let free = self.free.lock().expect("buffer stash");
        free.iter().map(Vec::capacity).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_buffer_comes_back_zeroed_in_the_same_allocation() {
        let stash = BufferStash::new();
        let mut a = stash.zeroed(MIN_KEPT_VALUES);
        assert!(a.iter().all(|&x| x == 0.0));
        a.iter_mut().for_each(|x| *x = 7.0);
        let at = a.as_ptr();
        stash.keep(a);
        assert_eq!(stash.kept_values(), MIN_KEPT_VALUES);
        // A shorter request reuses it, all zeros, with the requested length.
        let b = stash.zeroed(MIN_KEPT_VALUES - 5);
        assert_eq!(b.as_ptr(), at);
        assert_eq!(b.len(), MIN_KEPT_VALUES - 5);
        assert!(b.iter().all(|&x| x == 0.0));
        assert_eq!(stash.kept_values(), 0);
        // A longer one than anything kept is a new allocation.
        stash.keep(b);
        let c = stash.zeroed(MIN_KEPT_VALUES + 1);
        assert_eq!(c.len(), MIN_KEPT_VALUES + 1);
        assert_eq!(stash.kept_values(), MIN_KEPT_VALUES);
    }

    #[test]
    fn the_smallest_fitting_buffer_is_used_and_the_smallest_is_dropped_beyond_the_limit() {
        let stash = BufferStash::new();
        let sizes = [4, 2, 3, 5, 6, 7, 8, 9, 10].map(|k| k * MIN_KEPT_VALUES);
        for &s in &sizes {
            stash.keep(vec![1.0; s]);
        }
        // Nine kept, at most eight stay: the 2× one went.
        let rest = 7 + 8 + 9 + 10;
        assert_eq!(
            stash.kept_values(),
            (4 + 3 + 5 + 6 + rest) * MIN_KEPT_VALUES
        );
        let b = stash.zeroed(3 * MIN_KEPT_VALUES + 1);
        assert_eq!(b.capacity(), 4 * MIN_KEPT_VALUES);
        // Small buffers are left to the allocator.
        stash.keep(vec![0.0; 10]);
        assert_eq!(stash.kept_values(), (3 + 5 + 6 + rest) * MIN_KEPT_VALUES);
        stash.release();
        assert_eq!(stash.kept_values(), 0);
    }
}
