//! portsim's one integration-test binary: each module tests one capability.

mod cli;
mod closed_forms;
mod exact_sequences;
mod properties;
mod scenarios;
mod simulation;
