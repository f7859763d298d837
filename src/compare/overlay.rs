//! The five run charts with every folder's curves on them: the inputs [`run_charts`] takes (a
//! scenario and its strategies' outputs) rebuilt from the folders, each strategy relabelled
//! "run: strategy" and given, through the scenario's per-strategy stack overrides, the range,
//! scope and TIME_WAIT its run recorded, so the `n` line, the reserved shading and the
//! TIME_WAIT marks are each run's own.

use super::folder::RunFolder;
use crate::report::charts::{Chart, run_charts};
use crate::scenario::{self, DestGroup, Popularity, Scenario, StackOverrides};
use crate::stack::{PortRange, ReservedPorts, Scope, TwReuse};
use crate::strategy::StrategySpec;
use crate::strategy::registry::lookup;
use crate::time::from_secs_f64;
use anyhow::{Result, anyhow};
use std::net::Ipv4Addr;
use std::path::Path;

/// A scenario-wide setting the folders disagree on, which the overlay can show only one way:
/// the page says so.
pub type Caveat = String;

const BASE: &str = r#"
name = "compare"
duration = "1s"
[[destinations]]
addr = "192.0.2.10:443"
[workload]
arrivals = { process = "constant", rate = 1.0 }
lifetime = { dist = "exponential", mean = "1s" }
[[strategies]]
name = "bsd"
"#;

/// The combined scenario and outputs, and what it could not keep per run.
pub fn overlay_inputs(runs: &[RunFolder]) -> Result<(Scenario, Vec<crate::sim::RunOutput>, Vec<Caveat>)> {
    let mut s = scenario::parse(BASE, "<compare>", Path::new(".")).map_err(|e| anyhow!("{e}"))?;
    let mut caveats = Vec::new();
    let first = &runs[0];
    let f = |r: &RunFolder, k: &str| r.scenario_f64(k).unwrap_or(0.0);
    s.duration = from_secs_f64(runs.iter().map(|r| f(r, "duration_s")).fold(0.0, f64::max));
    s.warmup = from_secs_f64(f(first, "warmup_s"));
    s.metrics.reuse_threshold = from_secs_f64(f(first, "reuse_threshold_s"));
    for (key, what) in
        [("warmup_s", "warm-up"), ("reuse_threshold_s", "reuse threshold"), ("reserved", "reserved ports")]
    {
        if runs.iter().any(|r| r.scenario.get(key) != first.scenario.get(key)) {
            caveats.push(format!(
                "the runs' {what} differ: the charts show {}'s ({})",
                first.label,
                crate::report::html::json_text(first.scenario.get(key).unwrap_or(&serde_json::Value::Null))
            ));
        }
    }
    let mut reserved = ReservedPorts::new();
    for r in first.scenario.get("reserved").and_then(|v| v.as_array()).into_iter().flatten() {
        if let Some(range) = r.as_str().and_then(|t| PortRange::parse(t).ok()) {
            reserved.insert_range(range);
        }
    }
    s.ports.reserved = reserved;
    // One source address and one destination, or several: what the occupancy chart asks.
    let addrs =
        runs.iter().map(|r| r.scenario["local_addrs"].as_array().map_or(1, |a| a.len())).max().unwrap_or(1);
    s.addrs = (0..addrs.max(1)).map(|i| Ipv4Addr::new(198, 51, 100, i as u8)).collect();
    s.prefixes = vec![None; s.addrs.len()];
    let dests = runs.iter().map(|r| r.scenario["destinations"].as_u64().unwrap_or(1)).max().unwrap_or(1);
    if dests > 1 {
        s.destinations = vec![DestGroup::Generated {
            base: Ipv4Addr::new(203, 0, 113, 0),
            count: u32::try_from(dests).unwrap_or(u32::MAX),
            port: 443,
            weight: 1.0,
            popularity: Popularity::Uniform,
            socket: None,
        }];
    }
    s.strategies.clear();
    s.stack_overrides.clear();
    let mut outputs = Vec::new();
    for run in runs {
        for o in &run.outputs {
            let label = format!("{}: {}", run.label, o.summary.name);
            let info = lookup(&o.summary.strategy).or_else(|| lookup("bsd")).expect("bsd is built in");
            let config = info
                .configure(crate::params::Params::empty(info.name))
                .map_err(|e| anyhow!("{}: {e}", o.summary.strategy))?;
            let set = &o.summary.settings;
            let text = |k: &str| set.get(k).and_then(|v| v.as_str()).map(str::to_string);
            let secs = |k: &str| set.get(k).and_then(|v| v.as_f64()).map(from_secs_f64);
            s.stack_overrides.insert(
                label.clone(),
                StackOverrides {
                    range: text("range").and_then(|t| PortRange::parse(&t).ok()),
                    scope: text("scope").and_then(|t| Scope::parse(&t).ok()),
                    time_wait: secs("time_wait_s"),
                    tw_reuse: text("tw_reuse").and_then(|t| TwReuse::parse(&t).ok()),
                    tw_reuse_delay: secs("tw_reuse_delay_s"),
                    ..StackOverrides::default()
                },
            );
            s.strategies.push(StrategySpec { label: label.clone(), config });
            let mut o = o.clone();
            o.summary.name = label;
            outputs.push(o);
        }
    }
    Ok((s, outputs, caveats))
}

/// The five charts, every run's curves overlaid.
pub fn overlay_charts(runs: &[RunFolder]) -> Result<(Vec<Chart>, Vec<Caveat>)> {
    let (s, outputs, caveats) = overlay_inputs(runs)?;
    Ok((run_charts(&s, &outputs)?, caveats))
}

#[cfg(test)]
mod tests {
    use crate::report::plot::{look, looks};

    #[test]
    fn a_strategy_keeps_its_colour_in_every_run_and_each_run_its_own_look() {
        let l = looks(["before: double-hash", "after: double-hash", "before: bsd"]);
        assert_eq!(l[0], look("double-hash"), "the first run draws it as every report does");
        assert_eq!(l[1].colour, look("double-hash").colour, "one colour across runs");
        assert_ne!(l[1], l[0], "but another marker or stroke");
        assert_eq!(l[2], look("bsd"));
    }
}
