//! Where the instance is in its life, as readiness and draining report it.

use std::sync::atomic::{AtomicBool, Ordering};

/// Where this instance is in its life: its database prepared (migrated) yet, draining yet.
#[derive(Debug, Default)]
pub struct Lifecycle {
    schema_ready: AtomicBool,
    draining: AtomicBool,
}

impl Lifecycle {
    pub fn mark_schema_ready(&self) {
        self.schema_ready.store(true, Ordering::SeqCst);
    }

    pub fn is_schema_ready(&self) -> bool {
        self.schema_ready.load(Ordering::SeqCst)
    }

    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }
}
