//! A port-selection algorithm of your own, run through portsim next to the built-in ones.
//!
//! `stride` starts each search at a random port and then steps by a fixed stride (wrapping
//! within the range) instead of by 1: a strategy portsim does not ship, written here in a few
//! dozen lines against portsim's public API only. The example
//!
//! 1. describes it ([`StrategyInfo`]: name, parameters, how a `[[strategies]]` table becomes
//!    its config) and adds it to a [`Registry`];
//! 2. loads the shipped quickstart scenario with that registry, and adds two configurations of
//!    the new strategy to it (one by name and parameters, one as a config value);
//! 3. runs every strategy and prints their summaries;
//! 4. writes the same outputs as `portsim run` (summary.json, CSVs, charts, report.html).
//!
//! Run it with `cargo run --example custom_strategy [OUTPUT_DIR]`.

use portsim::{
    ConfiguredStrategy, ParamInfo, Params, PortCheck, PortSelector, Registry, Request, Selection,
    StrategyConfig, StrategyInfo, StrategyRng,
};
use rand::RngExt;
use std::path::PathBuf;

/// The validated parameters: what `[[strategies]] name = "stride"` turns into.
#[derive(Clone, Copy, Debug, PartialEq)]
struct StrideConfig {
    /// Ports between two candidates.
    stride: u32,
}

/// The algorithm and its state (here only its RNG).
struct Stride {
    stride: u32,
    rng: StrategyRng,
}

impl PortSelector for Stride {
    fn select(&mut self, req: &Request<'_>, check: &dyn PortCheck) -> Selection {
        let n = req.range.len();
        let mut offset = self.rng.random_range(0..n);
        // At most n candidates, as RFC 6056's algorithms; with a stride sharing a factor with
        // n some ports are never reached, which the run's failures will show.
        for candidates in 1..=n {
            let port = req.range.lo() + offset as u16;
            if check.is_suitable(port) {
                return Selection::found(port, candidates);
            }
            offset = (offset + self.stride) % n;
        }
        Selection::exhausted(n)
    }
}

impl ConfiguredStrategy for StrideConfig {
    fn name(&self) -> &'static str {
        STRIDE.name
    }
    fn settings(&self) -> serde_json::Value {
        serde_json::json!({ "stride": self.stride })
    }
    fn build(&self, rng: StrategyRng) -> Box<dyn PortSelector> {
        Box::new(Stride { stride: self.stride, rng })
    }
}

/// The descriptor: everything a scenario, `summary.json` and error messages need.
static STRIDE: StrategyInfo = StrategyInfo {
    name: "stride",
    aliases: &[],
    summary: "random start, then a fixed stride with wrap",
    params: &[ParamInfo { name: "stride", default: "7", help: "ports between two candidates, 1 to 65535" }],
    parse: |p| Ok(StrategyConfig::new(StrideConfig { stride: p.u64_in("stride", 7, 1, 65535)? as u32 })),
};

fn main() -> anyhow::Result<()> {
    let mut registry = Registry::builtin();
    registry.add(&STRIDE).map_err(anyhow::Error::msg)?;

    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/quickstart.toml");
    let mut scenario = portsim::scenario::load_with(&path, &registry)?;
    // By name and parameters, checked exactly as a scenario file's `[[strategies]]` entry is...
    let by_name = registry.configure("stride", Params::from_toml("stride", "stride = 1001")?)?;
    scenario.add_strategy("stride-1001", by_name).map_err(anyhow::Error::msg)?;
    // ... or as a config value.
    scenario
        .add_strategy("stride-2", StrategyConfig::new(StrideConfig { stride: 2 }))
        .map_err(anyhow::Error::msg)?;

    let runs = portsim::run(&scenario, scenario.seed);
    println!("{:<20} {:>10} {:>10} {:>16}", "strategy", "attempted", "failed", "mean candidates");
    for run in &runs {
        let s = &run.summary;
        println!(
            "{:<20} {:>10} {:>10} {:>16.3}",
            s.name, s.connections.attempted, s.connections.failed, s.probes.mean
        );
    }
    // 28,232 ports share no factor with 1001 but do with 2: stride-2 reaches only half of
    // them, yet at this load half is enough.
    let stride2 = runs.iter().find(|r| r.summary.name == "stride-2").expect("added above");
    assert_eq!(stride2.summary.settings["parameters"]["stride"], 2);

    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("portsim-custom-strategy"));
    let opts = portsim::OutputOptions { charts: true, ..Default::default() };
    let written = portsim::write_outputs(&dir, &scenario, scenario.seed, &runs, opts)?;
    println!("wrote {} files to {}/", written.len(), dir.display());
    Ok(())
}
