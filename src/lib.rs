#![forbid(unsafe_code)]
#![warn(missing_docs)]
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

//! # Your own strategy
//!
//! A strategy is a [`PortSelector`] (the algorithm and its state), a config type implementing
//! [`ConfiguredStrategy`] (its validated parameters: name, OS defaults, settings, how it is
//! built) and a [`StrategyInfo`] descriptor (name, parameters, how a scenario's table becomes the
//! config). Add the descriptor to a [`Registry`] and scenarios can name it; or add a config to a
//! loaded [`Scenario`] directly. `examples/custom_strategy.rs` is the same, longer.
//!
//! ```
//! use portsim::{ConfiguredStrategy, ParamInfo, PortCheck, PortSelector, Registry, Request};
//! use portsim::{Selection, StrategyConfig, StrategyInfo, StrategyRng};
//!
//! /// Scan the range from its low end every time: the simplest allocator there is.
//! #[derive(Debug, PartialEq)]
//! struct FirstFreeConfig {
//!     skip: u16,
//! }
//!
//! struct FirstFree(u16);
//!
//! impl PortSelector for FirstFree {
//!     fn select(&mut self, req: &Request<'_>, check: &dyn PortCheck) -> Selection {
//!         let mut candidates = 0;
//!         for port in req.range.lo().saturating_add(self.0)..=req.range.hi() {
//!             candidates += 1;
//!             if check.is_suitable(port) {
//!                 return Selection::found(port, candidates);
//!             }
//!         }
//!         Selection::exhausted(candidates)
//!     }
//! }
//!
//! impl ConfiguredStrategy for FirstFreeConfig {
//!     fn name(&self) -> &'static str {
//!         "first-free"
//!     }
//!     fn settings(&self) -> serde_json::Value {
//!         serde_json::json!({ "skip": self.skip })
//!     }
//!     fn build(&self, _rng: StrategyRng) -> Box<dyn PortSelector> {
//!         Box::new(FirstFree(self.skip))
//!     }
//! }
//!
//! static FIRST_FREE: StrategyInfo = StrategyInfo {
//!     name: "first-free",
//!     aliases: &[],
//!     summary: "the lowest free port, scanning up from the bottom of the range",
//!     params: &[ParamInfo { name: "skip", default: "0", help: "ports to skip at the bottom" }],
//!     parse: |p| Ok(StrategyConfig::new(FirstFreeConfig { skip: p.u64_in("skip", 0, 0, 65535)? as u16 })),
//! };
//!
//! let mut registry = Registry::builtin();
//! registry.add(&FIRST_FREE).unwrap();
//! let text = r#"
//!     name = "mine"
//!     duration = "2m"
//!     warmup = "30s"
//!     [ports]
//!     range = "10000-10999"
//!     [tcp]
//!     time_wait = "10s"
//!     [[destinations]]
//!     addr = "192.0.2.1:443"
//!     [workload]
//!     arrivals = { process = "poisson", rate = 50.0 }
//!     lifetime = { dist = "constant", value = "10ms" }
//!     [[strategies]]
//!     name = "first-free"
//!     [[strategies]]
//!     name = "random-pick"
//! "#;
//! let mut scenario = portsim::scenario::parse_with(text, "mine.toml", ".".as_ref(), &registry).unwrap();
//! scenario.add_strategy("first-free-skip-100", StrategyConfig::new(FirstFreeConfig { skip: 100 })).unwrap();
//! let runs = portsim::run(&scenario, scenario.seed);
//! let first_free = &runs[0].summary;
//! assert_eq!((first_free.name.as_str(), first_free.connections.failed), ("first-free", 0));
//! // About 500 ports are in TIME_WAIT: first-free walks past all of them, every time.
//! assert!(first_free.probes.mean > 100.0 * runs[1].summary.probes.mean);
//! assert_eq!(runs[2].summary.settings["parameters"]["skip"], 100);
//! let dir = std::env::temp_dir().join(format!("portsim-doctest-{}", std::process::id()));
//! let written = portsim::write_outputs(&dir, &scenario, scenario.seed, &runs, Default::default()).unwrap();
//! assert!(written.iter().any(|p| p.ends_with("summary.json")));
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```
//!
//! # Stable API
//!
//! The items re-exported here at the crate root, with [`scenario::load`], [`scenario::load_with`],
//! [`scenario::parse`] and [`scenario::parse_with`], are the stable API, and everything in
//! [`strategy`]. The other modules are public for the binary, the tests and the benches, and
//! may change between versions.

pub use metrics::StrategySummary;
pub use params::{ParamError, Params};
pub use report::OutputOptions;
pub use scenario::{Scenario, ScenarioError};
pub use sim::{RunOptions, RunOutput};
pub use strategy::{
    ConfiguredStrategy, OsDefaults, ParamInfo, PortCheck, PortSelector, Registry, Request, Selection,
    StrategyConfig, StrategyInfo, StrategyRng,
};

/// Runs every strategy of `scenario` with `seed`, in parallel (rayon's global pool), results
/// in the scenario's order. The same scenario and seed give the same results on any number of
/// threads.
pub fn run(scenario: &Scenario, seed: u64) -> Vec<RunOutput> {
    sim::run_all(scenario, seed, RunOptions::default())
}

/// Writes what `portsim run` writes into `dir` (`summary.json`, `summary.csv`,
/// `timeseries.csv`, `port_usage.csv`, and as `opts` asks `connections.csv`, the charts and
/// `report.html`), all or nothing. Returns the files written.
pub fn write_outputs(
    dir: &std::path::Path,
    scenario: &Scenario,
    seed: u64,
    outputs: &[RunOutput],
    opts: OutputOptions,
) -> anyhow::Result<Vec<std::path::PathBuf>> {
    report::write_outputs(dir, scenario, seed, outputs, &sim::DestinationTable::of(scenario), opts)
}

// Internal modules: public for the binary, the tests and the benches; not the stable API, so
// their items are not all documented.
#[allow(missing_docs)]
pub mod budget;
#[allow(missing_docs)]
pub mod capacity;
#[allow(missing_docs)]
pub mod cli;
#[allow(missing_docs)]
pub mod closed_form;
#[allow(missing_docs)]
pub mod commands;
#[allow(missing_docs)]
pub mod compare;
#[allow(missing_docs)]
pub mod listing;
#[allow(missing_docs)]
pub mod manuals;
#[allow(missing_docs)]
pub mod metrics;
#[allow(missing_docs)]
pub mod nat;
#[allow(missing_docs)]
pub mod params;
#[allow(missing_docs)]
pub mod predict;
#[allow(missing_docs)]
pub mod progress;
#[allow(missing_docs)]
pub mod report;
#[allow(missing_docs)]
pub mod scenario;
#[allow(missing_docs)]
pub mod sim;
#[allow(missing_docs)]
pub mod stack;
pub mod strategy;
#[allow(missing_docs)]
pub mod sweep;
pub mod term;
#[allow(missing_docs)]
pub mod time;
