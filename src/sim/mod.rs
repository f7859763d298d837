//! The discrete-event connection-churn simulator: a workload of connection attempts driven
//! through a strategy and a stack, measured by [`crate::metrics`].

pub mod close_queue;
mod conn_log;
mod engine;
pub mod workload;

pub use conn_log::ConnLog;
pub use engine::{ConnRecord, RunOptions, RunOutput, default_interval, run};
pub use workload::{Arrival, DestinationTable, Workload, workload_rng};

use crate::scenario::Scenario;
use rayon::prelude::*;

/// Runs every strategy of `scenario` with `seed`, in parallel, results in the scenario's order.
pub fn run_all(scenario: &Scenario, seed: u64, opts: RunOptions<'_>) -> Vec<RunOutput> {
    let dests = DestinationTable::of(scenario);
    scenario.strategies.par_iter().map(|spec| run(scenario, &dests, spec, seed, opts)).collect()
}
