//! The differences table: for each strategy the runs share and each metric, the baseline's
//! figure (the first folder), each other run's, their difference, and, when both runs were
//! made with `--seeds`, whether the difference lies within their seed-to-seed spread.

use super::folder::RunFolder;
use anyhow::{Result, bail};
use serde::Serialize;

/// The metrics compared: (dotted key of `summary.json`'s strategy object, what it is).
pub const METRICS: &[(&str, &str)] = &[
    ("connections.attempted", "attempts after the warm-up"),
    ("connections.failed", "failed attempts"),
    ("connections.failed_fraction", "fraction of attempts that failed"),
    ("probes.mean", "candidate ports per attempt, mean"),
    ("probes.p99", "candidate ports per attempt, 99th percentile"),
    ("probes.max", "candidate ports per attempt, most"),
    ("collisions.local", "candidates rejected as in use"),
    ("collisions.remote", "connections onto a 4-tuple the server held in TIME_WAIT"),
    ("reuse.count", "4-tuples used again"),
    ("reuse.within_threshold", "reuses within the reuse threshold"),
    ("reuse.interval_s.min", "shortest reuse interval, s"),
    ("exhaustion.first_failure_s", "first failure, s"),
    ("exhaustion.exhausted_s", "time without a usable port, s"),
    ("exhaustion.episodes.count", "exhaustion episodes"),
    ("occupancy.peak", "most 4-tuples held at once"),
    ("port_usage.distinct", "distinct ports used"),
    ("port_usage.max_over_mean", "busiest port over the mean"),
    ("warmup.failures", "failed attempts in the warm-up"),
];

/// One side of a difference: a single run's figure, or the mean over its seeds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Figure {
    pub value: Option<f64>,
    /// With `--seeds`: the 95 % confidence half-width of the mean over the seeds.
    pub ci95: Option<f64>,
    /// How many seeds `value` is the mean of (1: a single run).
    pub seeds: usize,
}

/// One row of `differences.csv`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Difference {
    /// The baseline's strategy name.
    pub strategy: String,
    pub metric: &'static str,
    /// The run compared with the baseline, and its strategy's name there.
    pub run: String,
    pub run_strategy: String,
    pub baseline: Figure,
    pub other: Figure,
    /// `other - baseline`; `None` when either has no value (a first failure that never came).
    pub difference: Option<f64>,
    /// `difference / |baseline|`; `None` when the baseline is 0.
    pub relative: Option<f64>,
    /// Both runs made with `--seeds`: whether `|difference|` is at most the half-width of the
    /// difference's own 95 % interval, `sqrt(ci_a² + ci_b²)`: a difference the seeds alone
    /// could make.
    pub within_seed_spread: Option<bool>,
}

fn figure(run: &RunFolder, index: usize, key: &str) -> Figure {
    let name = run.outputs[index].summary.name.as_str();
    if let Some(f) = run.across_seeds.get(&(name.to_string(), key.to_string())) {
        return Figure { value: Some(f.mean), ci95: f.ci95, seeds: f.seeds };
    }
    let json = &run.summaries[index];
    let value = match json.pointer(&format!("/{}", key.replace('.', "/"))) {
        Some(serde_json::Value::Number(n)) => n.as_f64(),
        _ => None,
    };
    Figure { value, ci95: None, seeds: 1 }
}

/// Which strategy of each run is compared with which of the baseline's: every name all runs
/// share, in the baseline's order; when they share none but each ran one strategy (two kernels,
/// one profile each), those. `None`: nothing in common.
pub fn pairs(runs: &[RunFolder]) -> Option<Vec<Vec<usize>>> {
    let base = &runs[0];
    let shared: Vec<Vec<usize>> = base
        .outputs
        .iter()
        .filter_map(|o| {
            runs.iter()
                .map(|r| r.outputs.iter().position(|x| x.summary.name == o.summary.name))
                .collect::<Option<Vec<usize>>>()
        })
        .collect();
    if !shared.is_empty() {
        return Some(shared);
    }
    runs.iter().all(|r| r.outputs.len() == 1).then(|| vec![vec![0; runs.len()]])
}

/// The strategies left out of the differences because not every run has them, as one
/// sentence per run that has some ("b's linux is in no other run").
pub fn unmatched(runs: &[RunFolder]) -> Vec<String> {
    let Some(pairs) = pairs(runs) else { return Vec::new() };
    runs.iter()
        .enumerate()
        .filter_map(|(r, run)| {
            let left: Vec<&str> = (0..run.outputs.len())
                .filter(|i| !pairs.iter().any(|p| p[r] == *i))
                .map(|i| run.outputs[i].summary.name.as_str())
                .collect();
            (!left.is_empty()).then(|| {
                format!(
                    "{} also ran {}, which not every run has: left out of the differences",
                    run.label,
                    left.join(", ")
                )
            })
        })
        .collect()
}

/// Every difference, strategy by strategy, metric by metric, run by run; refused when the
/// runs have no metric in common.
pub fn differences(runs: &[RunFolder]) -> Result<Vec<Difference>> {
    let Some(pairs) = pairs(runs) else {
        let held: Vec<String> =
            runs.iter().map(|r| format!("{} holds {}", r.label, r.strategy_names().join(", "))).collect();
        bail!(
            "no metric in common: no strategy is in every folder ({}); compare runs of the same strategies, or runs of one strategy each",
            held.join("; ")
        );
    };
    let mut out = Vec::new();
    for p in &pairs {
        for &(key, _) in METRICS {
            let baseline = figure(&runs[0], p[0], key);
            for (r, run) in runs.iter().enumerate().skip(1) {
                let other = figure(run, p[r], key);
                let difference = baseline.value.zip(other.value).map(|(a, b)| b - a);
                let relative =
                    difference.zip(baseline.value).filter(|(_, a)| *a != 0.0).map(|(d, a)| d / a.abs());
                let within_seed_spread = match (difference, baseline.ci95, other.ci95) {
                    (Some(d), Some(ca), Some(cb)) => Some(d.abs() <= (ca * ca + cb * cb).sqrt()),
                    _ => None,
                };
                out.push(Difference {
                    strategy: runs[0].outputs[p[0]].summary.name.clone(),
                    metric: key,
                    run: run.label.clone(),
                    run_strategy: run.outputs[p[r]].summary.name.clone(),
                    baseline,
                    other,
                    difference,
                    relative,
                    within_seed_spread,
                });
            }
        }
    }
    if out.iter().all(|d| d.baseline.value.is_none() && d.other.value.is_none()) {
        bail!("no metric in common: every figure of the shared strategies is empty");
    }
    Ok(out)
}

/// `differences.csv`: one row per (strategy, metric, run), long form, so
/// `pandas.read_csv` takes it as it is (empty cells are missing values).
pub fn differences_csv(runs: &[RunFolder], diffs: &[Difference]) -> Result<String> {
    let opt = |v: Option<f64>| crate::report::csv_opt(v);
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "strategy",
        "metric",
        "baseline_run",
        "run",
        "run_strategy",
        "baseline",
        "baseline_ci95",
        "baseline_seeds",
        "value",
        "value_ci95",
        "value_seeds",
        "difference",
        "relative_difference",
        "within_seed_spread",
    ])?;
    for d in diffs {
        w.write_record([
            d.strategy.clone(),
            d.metric.to_string(),
            runs[0].label.clone(),
            d.run.clone(),
            d.run_strategy.clone(),
            opt(d.baseline.value),
            opt(d.baseline.ci95),
            d.baseline.seeds.to_string(),
            opt(d.other.value),
            opt(d.other.ci95),
            d.other.seeds.to_string(),
            opt(d.difference),
            opt(d.relative),
            d.within_seed_spread.map(|b| b.to_string()).unwrap_or_default(),
        ])?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}
