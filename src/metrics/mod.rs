//! What a run measures, event by event, and the summary and time series it yields. Every
//! figure here is counted from the simulation as it happens; nothing is computed from the
//! scenario's inputs.

mod collector;
mod histogram;
pub mod steady;
mod summary;

pub use collector::{Collector, Outcome};
pub use histogram::{CountHistogram, LogHistogram};
pub use steady::Steady;
pub use summary::*;
