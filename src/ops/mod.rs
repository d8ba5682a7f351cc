//! Operations: metrics, logs, the instance's name and draining.

pub mod instance;
pub mod lifecycle;
pub mod logging;
pub mod metrics;
pub mod shutdown;
