//! Admission to decoding: a memory budget shared by the instance's decodes, and a number of
//! decodes at once.
//!
//! Each decode reserves what its header says it will cost, so that many small pictures can
//! decode beside one large one, while a burst of large ones queues instead of exhausting
//! memory. (Pictures that cost more than the whole budget are refused before they get here;
//! one that did would take all of it and decode alone.) The number of decodes at once bounds the cores they take from everything else.
//! An upload that cannot start within the wait gives up: the caller answers 503.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// What a running decode holds; dropping it returns the memory and the slot.
#[derive(Debug)]
pub struct DecodePermit {
    _memory: OwnedSemaphorePermit,
    _slot: OwnedSemaphorePermit,
}

#[derive(Debug)]
pub struct DecodeGate {
    /// One permit per KiB of the budget.
    memory: Arc<Semaphore>,
    budget_kib: u32,
    slots: Arc<Semaphore>,
    wait: Duration,
}

impl DecodeGate {
    pub fn new(budget_bytes: u64, decodes_at_once: usize, wait: Duration) -> Self {
        let budget_kib = u32::try_from(budget_bytes / 1024)
            .unwrap_or(u32::MAX)
            .max(1);
        Self {
            memory: Arc::new(Semaphore::new(budget_kib as usize)),
            budget_kib,
            slots: Arc::new(Semaphore::new(decodes_at_once.max(1))),
            wait,
        }
    }

    /// Reserves `bytes` of the budget and a slot, waiting at most the configured time;
    /// `None` when the decodes already running did not leave room in time.
    pub async fn admit(&self, bytes: u64) -> Option<DecodePermit> {
        let kib = u32::try_from(bytes.div_ceil(1024))
            .unwrap_or(u32::MAX)
            .clamp(1, self.budget_kib);
        let admitted = async {
            let memory = self.memory.clone().acquire_many_owned(kib).await.ok()?;
            let slot = self.slots.clone().acquire_owned().await.ok()?;
            Some(DecodePermit {
                _memory: memory,
                _slot: slot,
            })
        };
        tokio::time::timeout(self.wait, admitted)
            .await
            .ok()
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1024 * 1024;

    #[tokio::test]
    async fn small_decodes_run_beside_a_large_one_within_the_budget() {
        let gate = DecodeGate::new(100 * MB, 4, Duration::from_millis(50));
        let large = gate.admit(90 * MB).await.expect("room for the large one");
        let small = gate
            .admit(5 * MB)
            .await
            .expect("room for a small one beside it");
        assert!(
            gate.admit(20 * MB).await.is_none(),
            "no room left: refused after the wait"
        );
        drop(large);
        assert!(gate.admit(20 * MB).await.is_some(), "room again");
        drop(small);
    }

    #[tokio::test]
    async fn a_picture_larger_than_the_budget_decodes_alone() {
        let gate = DecodeGate::new(10 * MB, 4, Duration::from_millis(50));
        let huge = gate.admit(500 * MB).await.expect("takes the whole budget");
        assert!(gate.admit(MB).await.is_none());
        drop(huge);
        assert!(gate.admit(MB).await.is_some());
    }

    #[tokio::test]
    async fn no_more_decodes_at_once_than_the_slots() {
        let gate = DecodeGate::new(100 * MB, 1, Duration::from_millis(50));
        let first = gate.admit(MB).await.expect("one slot");
        assert!(gate.admit(MB).await.is_none());
        drop(first);
        assert!(gate.admit(MB).await.is_some());
    }
}
