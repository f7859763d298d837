//! NAT and SNAT gateways: many inside hosts, each picking its inside ports with its own strategy
//! and stack, behind one translator with an external address pool, a mapping type, per-state
//! timers and a port allocator (netfilter's, its 4.x predecessor's, cloud providers', per-host
//! port blocks). The scenario's `[nat]` table (`crate::scenario::nat`) describes it; `portsim
//! run` on such a scenario runs [`run_all`] and writes [`output`]'s files. docs/nat.md explains
//! the model and its sources.

pub mod alloc;
pub mod capacity;
pub mod gateway;
pub mod metrics;
pub mod output;

pub use metrics::{HostStats, NatRun, NatSample};

use crate::scenario::Scenario;
use rayon::prelude::*;

/// Every allocator of `s`'s gateway with `seed`, in the scenario's order (in parallel: each run
/// depends on the seed alone, so the result does not depend on the threads).
pub fn run_all(s: &Scenario, seed: u64) -> Vec<NatRun> {
    let Some(nat) = &s.nat else { return Vec::new() };
    nat.allocators.par_iter().map(|a| gateway::run(s, nat, a, seed)).collect()
}
