#![forbid(unsafe_code)]
//! portsim: an ephemeral port allocation simulator.

pub mod params;
pub mod stack;
pub mod strategy;
pub mod time;
