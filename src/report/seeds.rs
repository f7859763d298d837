//! `run --seeds K`: each strategy run with K seeds (the scenario's, then the next ones), and
//! its headline figures as a mean with a 95 % confidence interval (Student's t, as the sweep
//! computes them). The files of the first seed are written as a single run's; the means go to
//! `summary.json` (`across_seeds`), the terminal table and `report.html`.

use crate::sim::RunOutput;
use crate::sweep::{Estimate, estimate};
use serde::Serialize;

/// The figures averaged over seeds: (table header, dotted key of the summary).
pub const SEED_METRICS: &[(&str, &str)] = &[
    ("attempted", "connections.attempted"),
    ("failed", "connections.failed"),
    ("fail %", "connections.failed_fraction"),
    ("probes mean", "probes.mean"),
    ("p99", "probes.p99"),
    ("max", "probes.max"),
    ("coll local", "collisions.local"),
    ("reuse <thr", "reuse.within_threshold"),
    ("1st fail s", "exhaustion.first_failure_s"),
    ("exhausted s", "exhaustion.exhausted_s"),
    ("peak occ", "occupancy.peak"),
];

/// One figure over the seeds that have it (a first failure only exists where one failed).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SeedEstimate {
    pub key: &'static str,
    pub mean: f64,
    pub ci95: Option<f64>,
    /// Seeds with a value.
    pub n: usize,
}

/// One strategy over every seed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AcrossSeeds {
    pub name: String,
    pub seeds: Vec<u64>,
    pub metrics: Vec<SeedEstimate>,
}

/// `runs`: per seed, the outputs of every strategy in the scenario's order.
pub fn across(runs: &[(u64, &[RunOutput])]) -> Vec<AcrossSeeds> {
    let Some((_, first)) = runs.first() else { return Vec::new() };
    (0..first.len())
        .map(|i| AcrossSeeds {
            name: first[i].summary.name.clone(),
            seeds: runs.iter().map(|(s, _)| *s).collect(),
            metrics: SEED_METRICS
                .iter()
                .map(|(_, key)| {
                    let xs: Vec<f64> = runs.iter().filter_map(|(_, o)| o[i].summary.metric(key)).collect();
                    let Estimate { mean, ci95 } = estimate(&xs);
                    SeedEstimate { key, mean, ci95, n: xs.len() }
                })
                .collect(),
        })
        .collect()
}

fn cell(e: &SeedEstimate, key: &str) -> String {
    if e.n == 0 {
        return "-".into();
    }
    let scale = if key == "connections.failed_fraction" { 100.0 } else { 1.0 };
    let digits = if e.mean.abs() * scale >= 100.0 { 0 } else { 3 };
    let m = format!("{:.*}", digits, e.mean * scale);
    match e.ci95 {
        Some(c) => format!("{m} ± {:.*}", digits, c * scale),
        None => m,
    }
}

/// The cells of one strategy's row, after its name, in [`SEED_METRICS`] order.
pub fn cells(a: &AcrossSeeds) -> Vec<String> {
    a.metrics.iter().map(|e| cell(e, e.key)).collect()
}

/// The terminal table: means ± 95 % half-widths, one row per strategy.
pub fn render(across: &[AcrossSeeds]) -> String {
    let rows = rows(across);
    let widths: Vec<usize> =
        (0..rows[0].len()).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for (i, r) in rows.iter().enumerate() {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(c, v)| {
                let pad = widths[c] - v.chars().count();
                if c == 0 { format!("{v}{}", " ".repeat(pad)) } else { format!("{}{v}", " ".repeat(pad)) }
            })
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
        if i == 0 {
            out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1)));
            out.push('\n');
        }
    }
    out.push_str(&means_line(across));
    out
}

/// [`render`] as `portsim run` prints it without `--wide`: the compact table's columns (those
/// of them averaged over seeds), within its 100 columns, and a note naming what `--wide` adds.
pub fn render_compact(across: &[AcrossSeeds]) -> String {
    let rows = rows(across);
    let keys: Vec<&str> = SEED_METRICS.iter().map(|m| m.1).collect();
    let (shown, hidden) = super::table::compact_columns(&rows, &keys);
    let mut out = super::table::aligned(&rows, &shown);
    out.push_str(&means_line(across));
    out.push_str(&super::table::wrap_note(&super::table::wide_adds(&rows, &hidden), super::COMPACT_WIDTH));
    out
}

fn rows(across: &[AcrossSeeds]) -> Vec<Vec<String>> {
    let header: Vec<String> = std::iter::once("strategy".to_string())
        .chain(SEED_METRICS.iter().map(|(h, _)| h.to_string()))
        .collect();
    let mut rows = vec![header];
    for a in across {
        rows.push(std::iter::once(a.name.clone()).chain(cells(a)).collect());
    }
    rows
}

fn means_line(across: &[AcrossSeeds]) -> String {
    let Some(a) = across.first() else { return String::new() };
    format!(
        "means over {} seeds ({}) with 95 % confidence half-widths; the files hold seed {}'s run\n",
        a.seeds.len(),
        a.seeds.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", "),
        a.seeds[0]
    )
}
