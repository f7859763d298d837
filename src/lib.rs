#![forbid(unsafe_code)]
//! portsim: an ephemeral port allocation simulator.
//!
//! Every TCP connection a host opens takes a local port from the ephemeral range. RFC 6056 gives
//! five ways to pick it, every kernel has its own; portsim makes each a [`strategy`], drives
//! them all through the same connection-churn workload in a discrete-event simulation
//! ([`sim`]) over a model of the host's TCP stack ([`stack`]), and measures collisions, port
//! reuse and exhaustion ([`metrics`]).
//!
//! Data flows one way: scenario text -> validated [`scenario::Scenario`] -> simulator
//! (workload + stack + strategy) -> [`metrics`] -> [`report`].
//!
//! ```
//! use portsim::scenario;
//! use portsim::sim::{self, RunOptions};
//!
//! // 100 ports, 10 s of TIME_WAIT: a ceiling of 10 connections a second. Offer 12.
//! let text = r#"
//!     name = "tiny"
//!     duration = "10m"
//!     warmup = "1m"
//!     [ports]
//!     range = "10000-10099"
//!     [tcp]
//!     time_wait = "10s"
//!     [[destinations]]
//!     addr = "192.0.2.1:443"
//!     [workload]
//!     arrivals = { process = "constant", rate = 12.0 }
//!     lifetime = { dist = "constant", value = "1ms" }
//!     [[strategies]]
//!     name = "bsd"
//!     [[strategies]]
//!     name = "random-start"
//! "#;
//! let s = scenario::parse(text, "tiny.toml", std::path::Path::new(".")).expect("valid");
//! let runs = sim::run_all(&s, s.seed, RunOptions::default());
//! for run in &runs {
//!     let failed = run.summary.connections.failed_fraction;
//!     // Once the range is full, 10 of every 12 attempts succeed.
//!     assert!((failed - 1.0 / 6.0).abs() < 0.01, "{}: {failed}", run.summary.name);
//! }
//! // bsd walks the range in the order ports free up; random-start searches from a random port.
//! assert!(runs[0].summary.probes.mean < runs[1].summary.probes.mean);
//! ```

pub mod capacity;
pub mod cli;
pub mod closed_form;
pub mod commands;
pub mod metrics;
pub mod params;
pub mod predict;
pub mod report;
pub mod scenario;
pub mod sim;
pub mod stack;
pub mod strategy;
pub mod sweep;
pub mod time;
