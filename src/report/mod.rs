//! Everything a run writes: the terminal table, `summary.json`, the CSVs, the charts and
//! `report.html`.

pub mod charts;
pub mod expectations;
pub(crate) mod files;
pub mod findings;
mod glyphs;
pub mod html;
pub mod index;
pub(crate) mod plot;
pub mod seeds;
pub mod stdout;
mod table;
mod tables;

pub use files::{MARKER, Staged, WriteError, check_replaceable, claim_folder, write_file_atomically};
pub use files::{handle_first_interrupt, install_signal_handler, stop_requested};
pub use table::{COMPACT_WIDTH, render_compact_table, render_table};
pub use tables::{
    connections_csv, csv_float, csv_opt, pools_csv, port_usage_csv, summary_csv, timeseries_csv,
    write_connections_csv,
};

use crate::metrics::StrategySummary;
use crate::scenario::{Arrivals, Scenario};
use crate::sim::RunOutput;
use crate::time::secs;
use anyhow::Result;
use serde_json::json;
use std::path::{Path, PathBuf};

/// `summary.json`: the version, the scenario and its effective settings, and every strategy.
pub fn summary_json(scenario: &Scenario, seed: u64, outputs: &[RunOutput]) -> serde_json::Value {
    let strategies: Vec<&StrategySummary> = outputs.iter().map(|o| &o.summary).collect();
    json!({
        "portsim_version": env!("CARGO_PKG_VERSION"),
        "scenario": scenario_json(scenario, seed),
        "strategies": strategies,
    })
}

/// [`summary_json`], with `across_seeds` (the means of `run --seeds K`) when there are several.
pub fn summary_json_with(
    scenario: &Scenario,
    seed: u64,
    outputs: &[RunOutput],
    across: Option<&[seeds::AcrossSeeds]>,
) -> serde_json::Value {
    let mut v = summary_json(scenario, seed, outputs);
    if let Some(a) = across {
        v["across_seeds"] = serde_json::to_value(a).expect("serialisable");
    }
    v
}

fn scenario_json(s: &Scenario, seed: u64) -> serde_json::Value {
    let arrivals = match &s.arrivals {
        Arrivals::Poisson { rate } | Arrivals::Constant { rate } => {
            json!({"process": s.arrivals.name(), "rate": rate})
        }
        Arrivals::OnOff { rate, on, off, off_rate } => {
            json!({"process": "on-off", "rate": rate, "on_s": secs(*on), "off_s": secs(*off), "off_rate": off_rate})
        }
        Arrivals::Ramp { from, to } => json!({"process": "ramp", "from": from, "to": to}),
        Arrivals::Trace { path, trace } => {
            json!({"process": "trace", "file": path.file_name().map(|f| f.to_string_lossy().into_owned()), "connections": trace.rows.len()})
        }
    };
    json!({
        "name": s.name,
        "description": s.description,
        "seed": seed,
        "duration_s": secs(s.duration),
        "warmup_s": secs(s.warmup),
        "local_addrs": s.addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        "destinations": s.destination_count(),
        "arrivals": arrivals,
        "lifetime_mean_s": s.lifetime.map(|l| l.mean_s()),
        "active_close": format!("{:?}", s.tcp.active_close).to_lowercase(),
        "reserved": s.ports.reserved.ranges(),
        "reuse_threshold_s": secs(s.metrics.reuse_threshold),
    })
}

/// What `write_outputs` writes besides the summary and the CSVs.
#[derive(Clone, Copy, Debug, Default)]
pub struct OutputOptions<'a> {
    /// With `run --seeds K`: the means over the seeds, for `summary.json` and `report.html`.
    pub across_seeds: Option<&'a [seeds::AcrossSeeds]>,
    /// `connections.csv`.
    pub log_connections: bool,
    /// `charts/*.svg`, `charts/*.png` and `report.html` (drawn once the charts exist).
    pub charts: bool,
    /// How the charts are drawn (`--log-y`, `--chart-size`, `--scale`).
    pub chart_style: charts::ChartStyle,
}

/// Writes every output file of a run into `dir`, all or nothing: `dir` ends up holding this
/// run's files and no other's (see [`Staged`]).
pub fn write_outputs(
    dir: &Path,
    scenario: &Scenario,
    seed: u64,
    outputs: &[RunOutput],
    dests: &crate::sim::DestinationTable,
    opts: OutputOptions<'_>,
) -> Result<Vec<PathBuf>> {
    let log = opts.log_connections;
    let mut staged = Staged::new(dir)?;
    let json = serde_json::to_string_pretty(&summary_json_with(scenario, seed, outputs, opts.across_seeds))?;
    staged.write(dir.join("summary.json"), json.as_bytes())?;
    staged.write(dir.join("summary.csv"), summary_csv(scenario, seed, outputs)?.as_bytes())?;
    staged.write(dir.join("timeseries.csv"), timeseries_csv(outputs)?.as_bytes())?;
    staged.write(dir.join("port_usage.csv"), port_usage_csv(outputs)?.as_bytes())?;
    staged.write(dir.join("pools.csv"), pools_csv(outputs)?.as_bytes())?;
    if log {
        staged.write_with(dir.join("connections.csv"), |w| {
            tables::write_connections_csv(w, scenario, outputs, dests)
        })?;
    }
    if opts.charts {
        let drawn = charts::run_charts_with(scenario, outputs, &opts.chart_style)?;
        for c in &drawn {
            staged.write(dir.join("charts").join(format!("{}.svg", c.name)), c.svg.as_bytes())?;
            staged.write(dir.join("charts").join(format!("{}.png", c.name)), &c.png)?;
        }
        let checked = expectations::check(scenario, outputs);
        let page = html::report_html(
            scenario,
            &scenario_json(scenario, seed),
            outputs,
            &drawn,
            &checked,
            opts.across_seeds,
        );
        staged.write(dir.join("report.html"), page.as_bytes())?;
    }
    staged.publish()
}
