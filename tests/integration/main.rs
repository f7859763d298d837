//! portsim's one integration-test binary: each module tests one capability.

mod budget;
mod capacity;
mod cli;
mod closed_forms;
mod entry_points;
mod exact_sequences;
mod figures;
mod fuzz;
mod interrupts;
mod kernel_stack;
mod library_api;
mod os_profiles;
mod outputs;
mod predict;
mod properties;
mod report;
mod scenarios;
mod shard;
mod simulation;
mod support;
mod sweep;
mod vectors;
