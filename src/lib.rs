#![forbid(unsafe_code)]
//! portsim: an ephemeral port allocation simulator.

pub mod capacity;
pub mod cli;
pub mod closed_form;
pub mod commands;
pub mod metrics;
pub mod params;
pub mod report;
pub mod scenario;
pub mod sim;
pub mod stack;
pub mod strategy;
pub mod sweep;
pub mod time;
