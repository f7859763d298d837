//! portsim's one integration-test binary: each module tests one capability.

mod capacity;
mod cli;
mod closed_forms;
mod exact_sequences;
mod kernel_stack;
mod os_profiles;
mod properties;
mod report;
mod scenarios;
mod simulation;
mod support;
mod sweep;
