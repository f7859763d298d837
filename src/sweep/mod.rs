//! `portsim sweep`: one scenario run over a grid of values of one or more keys (their
//! Cartesian product), every strategy, `--seeds` seeds per point, on all cores. Writes
//! `sweep.csv`, `sweep.json` and charts of the failure fraction and mean candidates against the
//! first swept key, with the closed forms (Erlang-B, the `n/H` ceiling, `1/(1-ρ)` for
//! `random-pick`) beside the simulated curves.
//!
//! Each (point, strategy, seed) is one task; tasks are handed out in order, so points finish
//! roughly in order, and results are stored by task index, so the files do not depend on the
//! number of threads. Ctrl-C stops handing out tasks: the runs under way finish and every
//! point whose runs are all done is written.
//!
//! The task list is also what a sweep is cut on to run beyond one machine: `--shard K/N` runs
//! one round-robin slice of it into a shard file ([`shard`]), and `portsim merge` ([`merge`])
//! rebuilds the sweep from the shard files through the same [`Plan`] and [`publish`].

mod chart;
pub mod merge;
pub mod model;
pub mod report;
pub mod shard;
pub mod vary;

pub use shard::Shard;
pub use vary::{Vary, VaryValue, parse_vary};

use crate::cli::SweepArgs;
use crate::commands::Status;
use crate::params::Value;
use crate::report::Staged;
use crate::report::charts::ChartStyle;
use crate::scenario::{self, Scenario};
use crate::sim::{self, DestinationTable, RunOptions};
use anyhow::{Result, anyhow, bail};
use serde::Serialize;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One point of the grid: the value of every swept key, and its scenario.
#[derive(Clone, Debug)]
pub struct Point {
    pub values: Vec<VaryValue>,
    pub scenario: Scenario,
}

/// What one run measured (a strategy at a point with one seed).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Measured {
    pub attempted: u64,
    pub failed: u64,
    pub failed_fraction: f64,
    pub mean_candidates: f64,
    pub p99_candidates: u32,
    pub collisions_local: u64,
    pub collisions_remote: u64,
    pub reuse_within_threshold: u64,
    pub occupancy_peak: u32,
    pub first_failure_s: Option<f64>,
    /// The run reached its steady state (`summary.json`'s `steady.settled`): it may be read
    /// against the closed forms.
    pub settled: bool,
}

/// A mean over seeds and the half-width of its 95 % confidence interval (Student's t; `None`
/// with one seed).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Estimate {
    pub mean: f64,
    pub ci95: Option<f64>,
}

/// Two-sided 97.5 % quantiles of Student's t for 1 to 30 degrees of freedom.
const T975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
    2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/// Mean and 95 % confidence half-width of `xs`.
pub fn estimate(xs: &[f64]) -> Estimate {
    let k = xs.len();
    if k == 0 {
        return Estimate { mean: f64::NAN, ci95: None };
    }
    let mean = xs.iter().sum::<f64>() / k as f64;
    if k == 1 {
        return Estimate { mean, ci95: None };
    }
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (k - 1) as f64;
    let t = T975.get(k - 2).copied().unwrap_or(1.96);
    Estimate { mean, ci95: Some(t * (var / k as f64).sqrt()) }
}

/// The closed forms at one point for one strategy.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ClosedForm {
    /// The busiest key's offered load over its ports, `λ·H/n`.
    pub load_ratio: f64,
    /// Erlang-B: the expected fraction of failed attempts.
    pub blocking: f64,
    /// `random-pick`'s expected candidates per attempt (for that strategy only).
    pub random_pick_candidates: Option<f64>,
    /// The host rate at which the busiest key reaches `n/H`.
    pub ceiling_rate: f64,
}

/// One strategy at one point, over all its seeds.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub point: usize,
    pub strategy: String,
    pub algorithm: String,
    pub seeds: Vec<u64>,
    pub failed_fraction: Estimate,
    pub mean_candidates: Estimate,
    pub attempted: f64,
    pub failed: f64,
    pub p99_candidates: f64,
    pub collisions_local: f64,
    pub collisions_remote: f64,
    pub reuse_within_threshold: f64,
    pub occupancy_peak: f64,
    /// Mean over the seeds that failed at all.
    pub first_failure_s: Option<f64>,
    /// Every seed's run reached its steady state; false marks a point whose figures are
    /// mostly transient (too short for its hold, or occupancy still rising at the end).
    pub steady_state: bool,
    pub closed_form: Option<ClosedForm>,
    pub runs: Vec<Measured>,
}

/// Everything a sweep produced.
#[derive(Clone, Debug)]
pub struct SweepResult {
    pub name: String,
    pub origin: String,
    pub seed: u64,
    pub seeds: u32,
    pub varies: Vec<Vary>,
    pub points: Vec<Point>,
    /// Strategy labels, in the scenario's order.
    pub strategies: Vec<String>,
    /// Complete (point, strategy) rows, point-major.
    pub rows: Vec<Row>,
    /// Why there is no closed form, when there is none.
    pub closed_form_note: Option<String>,
    pub interrupted: bool,
}

/// The most points a `--vary` grid may have.
pub const MAX_POINTS: u64 = 100_000;
/// The most runs a sweep may make: points x strategies x seeds.
pub const MAX_TASKS: u64 = 1_000_000;
/// Bytes a task's figures take in memory until the sweep is written, rounded up.
const TASK_BYTES: u64 = 512;

/// The number of grid points, multiplied out before anything is built: four `--vary` of 10,000
/// steps are 1e16 points, refused here instead of by an abort building them.
pub fn grid_size(varies: &[Vary]) -> Result<usize> {
    let mut n: u64 = 1;
    for v in varies {
        n = n.saturating_mul(v.values.len() as u64);
    }
    if n > MAX_POINTS {
        let sizes: Vec<String> = varies.iter().map(|v| format!("{} ({})", v.key, v.values.len())).collect();
        bail!("--vary: the grid has {n} points ({}): at most {MAX_POINTS}", sizes.join(" x "));
    }
    Ok(n as usize)
}

/// Refuses a sweep of more than [`MAX_TASKS`] runs, or one whose points and figures would not
/// fit in [`crate::budget::MAX_MEMORY_BYTES`] (every point holds its scenario, a trace's rows
/// included), from the grid's size and the base scenario alone.
fn check_sweep_size(base: &Scenario, varies: &[Vary], seeds: u32) -> Result<()> {
    let points = grid_size(varies)? as u64;
    let strategies = base.strategies.len() as u64;
    let tasks = points.saturating_mul(strategies).saturating_mul(u64::from(seeds));
    if tasks > MAX_TASKS {
        bail!(
            "--vary, --seeds: the sweep would make {tasks} runs ({points} points x {strategies} strategies x \
             {seeds} seeds): at most {MAX_TASKS}"
        );
    }
    let trace_rows = match &base.arrivals {
        scenario::Arrivals::Trace { trace, .. } => trace.rows.len() as u64,
        _ => 0,
    };
    let bytes = points
        .saturating_mul(64 * 1024 + trace_rows.saturating_mul(32))
        .saturating_add(tasks.saturating_mul(TASK_BYTES));
    if bytes > crate::budget::MAX_MEMORY_BYTES {
        bail!(
            "--vary: the sweep's {points} points would hold about {} in memory ({trace_rows} trace rows each): \
             more than the limit of {} GiB",
            crate::budget::format_bytes(bytes),
            crate::budget::MAX_MEMORY_BYTES >> 30
        );
    }
    Ok(())
}

/// Expands the `--vary` grid into validated scenarios, first key outermost.
pub fn build_points(
    text: &str,
    origin: &str,
    base_dir: &Path,
    varies: &[Vary],
    only: &[String],
) -> Result<Vec<Point>> {
    let size = grid_size(varies)?;
    let mut combos: Vec<Vec<VaryValue>> = Vec::with_capacity(size);
    combos.push(Vec::new());
    for v in varies {
        let mut next = Vec::with_capacity(combos.len() * v.values.len());
        for c in &combos {
            for value in &v.values {
                let mut c = c.clone();
                c.push(value.clone());
                next.push(c);
            }
        }
        combos = next;
    }
    let mut points = Vec::with_capacity(combos.len());
    for values in combos {
        let overrides: Vec<(String, Value)> =
            varies.iter().zip(&values).map(|(v, x)| (v.key.clone(), x.value.clone())).collect();
        let mut s = scenario::parse_with_overrides(text, origin, base_dir, &overrides).map_err(|e| {
            let at: Vec<String> =
                varies.iter().zip(&values).map(|(v, x)| format!("{}={}", v.key, x.label)).collect();
            let key = if e.key.is_empty() { String::new() } else { format!("{}: ", e.key) };
            anyhow!("--vary: the scenario {origin} with {} is not valid: {key}{}", at.join(", "), e.message)
        })?;
        if !only.is_empty() {
            s.retain_strategies(only).map_err(|e| anyhow!("{origin}: {e}"))?;
        }
        points.push(Point { values, scenario: s });
    }
    Ok(points)
}

fn measure(o: &sim::RunOutput) -> Measured {
    let s = &o.summary;
    Measured {
        attempted: s.connections.attempted,
        failed: s.connections.failed,
        failed_fraction: s.connections.failed_fraction,
        mean_candidates: s.probes.mean,
        p99_candidates: s.probes.p99,
        collisions_local: s.collisions.local,
        collisions_remote: s.collisions.remote,
        reuse_within_threshold: s.reuse.within_threshold,
        occupancy_peak: s.occupancy.peak,
        first_failure_s: s.exhaustion.first_failure_s,
        settled: s.steady.settled,
    }
}

/// The closed forms for strategy `spec` at a scenario, or why there are none.
pub fn closed_form_at(s: &Scenario, spec: &crate::strategy::StrategySpec) -> Result<ClosedForm, String> {
    let rate = model::host_rate(s)?;
    let m = model::pool_model(s, spec)?;
    let (load_ratio, blocking) = m.blocking(rate);
    let random_pick = spec.config.name() == "random-pick";
    Ok(ClosedForm {
        load_ratio,
        blocking,
        random_pick_candidates: random_pick.then(|| m.predict(rate).random_pick_candidates),
        ceiling_rate: m.ceiling_rate(),
    })
}

/// One run of a sweep: a strategy at a point with one seed. Tasks are numbered point-major,
/// then strategy, then seed; the number is what `--shard K/N` splits on and what a shard file
/// stores each run under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Task {
    pub point: usize,
    pub strategy: usize,
    pub seed: u64,
}

/// Every task of a sweep, in order.
pub fn tasks(points: &[Point], seed: u64, seeds: u32) -> Vec<Task> {
    let mut tasks = Vec::new();
    for (p, pt) in points.iter().enumerate() {
        for s in 0..pt.scenario.strategies.len() {
            for k in 0..u64::from(seeds) {
                tasks.push(Task { point: p, strategy: s, seed: seed.wrapping_add(k) });
            }
        }
    }
    tasks
}

/// Runs the tasks numbered `selected` on `pool`; `tick` hears the simulated time done. The
/// answer has one slot per task of `all`, filled for the selected tasks that finished, and
/// says whether Ctrl-C stopped the work early.
pub fn run_tasks(
    pool: &rayon::ThreadPool,
    points: &[Point],
    all: &[Task],
    selected: &[usize],
    tick: &(dyn Fn(u64) + Sync),
) -> (Vec<Option<Measured>>, bool) {
    let results: Vec<Mutex<Option<Measured>>> = all.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let workers = pool.current_num_threads().max(1);
    pool.scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|_| {
                loop {
                    if crate::report::stop_requested() {
                        return;
                    }
                    let Some(&i) = selected.get(next.fetch_add(1, Ordering::SeqCst)) else { return };
                    let t = all[i];
                    let s = &points[t.point].scenario;
                    let dests = DestinationTable::of(s);
                    let out = sim::run(
                        s,
                        &dests,
                        &s.strategies[t.strategy],
                        t.seed,
                        RunOptions { progress: Some(tick), ..Default::default() },
                    );
                    *results[i].lock().expect("no panics while holding it") = Some(measure(&out));
                }
            });
        }
    });
    let results: Vec<Option<Measured>> =
        results.into_iter().map(|m| m.into_inner().expect("no panics while holding it")).collect();
    // Interrupted means work is missing: a Ctrl-C after the last task finished loses nothing,
    // and the sweep it stopped is complete.
    let interrupted = crate::report::stop_requested() && selected.iter().any(|&i| results[i].is_none());
    (results, interrupted)
}

/// The (point, strategy) rows from every task's result (indexed as [`tasks`] numbers them),
/// for the points whose runs are all there: a point is kept whole or not at all.
pub fn rows_from(points: &[Point], seed: u64, seeds: u32, results: &[Option<Measured>]) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut i = 0;
    for (p, pt) in points.iter().enumerate() {
        let n = pt.scenario.strategies.len();
        let start = i;
        i += n * seeds as usize;
        let slice = &results[start..i];
        if slice.iter().any(|r| r.is_none()) {
            continue;
        }
        for (s, spec) in pt.scenario.strategies.iter().enumerate() {
            let runs: Vec<Measured> = slice[s * seeds as usize..(s + 1) * seeds as usize]
                .iter()
                .map(|r| r.expect("checked"))
                .collect();
            let mean = |f: &dyn Fn(&Measured) -> f64| runs.iter().map(f).sum::<f64>() / runs.len() as f64;
            let fails: Vec<f64> = runs.iter().filter_map(|r| r.first_failure_s).collect();
            rows.push(Row {
                point: p,
                strategy: spec.label.clone(),
                algorithm: spec.config.name().to_string(),
                seeds: (0..u64::from(seeds)).map(|k| seed.wrapping_add(k)).collect(),
                failed_fraction: estimate(&runs.iter().map(|r| r.failed_fraction).collect::<Vec<_>>()),
                mean_candidates: estimate(&runs.iter().map(|r| r.mean_candidates).collect::<Vec<_>>()),
                attempted: mean(&|r| r.attempted as f64),
                failed: mean(&|r| r.failed as f64),
                p99_candidates: mean(&|r| f64::from(r.p99_candidates)),
                collisions_local: mean(&|r| r.collisions_local as f64),
                collisions_remote: mean(&|r| r.collisions_remote as f64),
                reuse_within_threshold: mean(&|r| r.reuse_within_threshold as f64),
                occupancy_peak: mean(&|r| f64::from(r.occupancy_peak)),
                first_failure_s: (!fails.is_empty()).then(|| fails.iter().sum::<f64>() / fails.len() as f64),
                steady_state: runs.iter().all(|r| r.settled),
                closed_form: closed_form_at(&pt.scenario, spec).ok(),
                runs,
            });
        }
    }
    rows
}

/// Runs every (point, strategy, seed) on `pool`; `tick` hears the simulated time done.
pub fn run_points(
    pool: &rayon::ThreadPool,
    points: &[Point],
    seed: u64,
    seeds: u32,
    tick: &(dyn Fn(u64) + Sync),
) -> (Vec<Row>, bool) {
    let all = tasks(points, seed, seeds);
    let selected: Vec<usize> = (0..all.len()).collect();
    let (results, interrupted) = run_tasks(pool, points, &all, &selected, tick);
    (rows_from(points, seed, seeds, &results), interrupted)
}

fn opt(v: Option<f64>) -> String {
    crate::report::csv_opt(v)
}

/// `sweep.csv`: one row per (point, strategy).
pub fn sweep_csv(r: &SweepResult) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = vec!["point".into()];
    // A swept duration is a number of seconds, the unit in its name (`tcp.time_wait_s`).
    header.extend(r.varies.iter().map(|v| if v.durations { format!("{}_s", v.key) } else { v.key.clone() }));
    header.extend(
        [
            "strategy",
            "algorithm",
            "seeds",
            "attempted",
            "failed",
            "failed_fraction",
            "failed_fraction_ci95",
            "mean_candidates",
            "mean_candidates_ci95",
            "p99_candidates",
            "collisions_local",
            "collisions_remote",
            "reuse_within_threshold",
            "occupancy_peak",
            "first_failure_s",
            "steady_state",
            "closed_form_load",
            "closed_form_blocking",
            "closed_form_random_pick_candidates",
            "closed_form_ceiling_rate",
        ]
        .map(String::from),
    );
    w.write_record(&header)?;
    for row in &r.rows {
        let mut rec: Vec<String> = vec![row.point.to_string()];
        rec.extend(r.points[row.point].values.iter().zip(&r.varies).map(|(v, vary)| {
            match (vary.durations, v.x) {
                (true, Some(x)) => crate::report::csv_float(x),
                _ => v.label.clone(),
            }
        }));
        let cf = row.closed_form;
        rec.extend([
            row.strategy.clone(),
            row.algorithm.clone(),
            row.seeds.len().to_string(),
            row.attempted.to_string(),
            row.failed.to_string(),
            crate::report::csv_float(row.failed_fraction.mean),
            opt(row.failed_fraction.ci95),
            crate::report::csv_float(row.mean_candidates.mean),
            opt(row.mean_candidates.ci95),
            row.p99_candidates.to_string(),
            row.collisions_local.to_string(),
            row.collisions_remote.to_string(),
            row.reuse_within_threshold.to_string(),
            row.occupancy_peak.to_string(),
            opt(row.first_failure_s),
            row.steady_state.to_string(),
            opt(cf.map(|c| c.load_ratio)),
            opt(cf.map(|c| c.blocking)),
            opt(cf.and_then(|c| c.random_pick_candidates)),
            opt(cf.map(|c| c.ceiling_rate)),
        ]);
        w.write_record(&rec)?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

/// `sweep.json`.
pub fn sweep_json(r: &SweepResult) -> serde_json::Value {
    let points: Vec<serde_json::Value> = r
        .points
        .iter()
        .enumerate()
        .filter(|(p, _)| r.rows.iter().any(|row| row.point == *p))
        .map(|(p, pt)| {
            let values: serde_json::Map<String, serde_json::Value> =
                r.varies.iter().zip(&pt.values).map(|(v, x)| (v.key.clone(), json!(x.label))).collect();
            let x: serde_json::Map<String, serde_json::Value> =
                r.varies.iter().zip(&pt.values).map(|(v, x)| (v.key.clone(), json!(x.x))).collect();
            let strategies: Vec<&Row> = r.rows.iter().filter(|row| row.point == p).collect();
            json!({ "point": p, "values": values, "x": x, "strategies": strategies })
        })
        .collect();
    json!({
        "portsim_version": env!("CARGO_PKG_VERSION"),
        "scenario": { "name": r.name, "origin": r.origin, "seed": r.seed, "seeds": r.seeds },
        "vary": r.varies.iter().map(|v| json!({
            "key": v.key,
            "values": v.values.iter().map(|x| x.label.clone()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "points_total": r.points.len(),
        "points_done": points.len(),
        "complete": !r.interrupted && points.len() == r.points.len(),
        "closed_form_note": r.closed_form_note,
        "points": points,
    })
}

/// The terminal table: one line per (point, strategy).
pub fn render_table(r: &SweepResult) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut header: Vec<String> = r.varies.iter().map(|v| v.key.clone()).collect();
    header.extend(
        ["strategy", "fail %", "± 95%", "Erlang-B %", "cand mean", "± 95%", "1/(1-ρ)"].map(String::from),
    );
    rows.push(header);
    let pct = |x: f64| format!("{:.3}", x * 100.0);
    for row in &r.rows {
        let mut cells: Vec<String> = r.points[row.point].values.iter().map(|v| v.label.clone()).collect();
        let cf = row.closed_form;
        cells.extend([
            row.strategy.clone(),
            // `~`: not at steady state (see the note under the table).
            format!("{}{}", pct(row.failed_fraction.mean), if row.steady_state { " " } else { "~" }),
            row.failed_fraction.ci95.map(pct).unwrap_or_else(|| "-".into()),
            cf.map(|c| pct(c.blocking)).unwrap_or_else(|| "-".into()),
            format!("{:.3}", row.mean_candidates.mean),
            row.mean_candidates.ci95.map(|c| format!("{c:.3}")).unwrap_or_else(|| "-".into()),
            cf.and_then(|c| c.random_pick_candidates)
                .map(|c| format!("{c:.3}"))
                .unwrap_or_else(|| "-".into()),
        ]);
        rows.push(cells);
    }
    let cols = rows[0].len();
    let widths: Vec<usize> =
        (0..cols).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for (i, r) in rows.iter().enumerate() {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(c, v)| {
                if c < r.len() - 6 {
                    format!("{v:<w$}", w = widths[c])
                } else {
                    format!("{v:>w$}", w = widths[c])
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
        if i == 0 {
            out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * (cols - 1)));
            out.push('\n');
        }
    }
    if let Some(note) = transient_note(r) {
        out.push_str(&format!("~ {note}\n"));
    }
    out
}

/// A sentence for the table and the charts when some points did not reach their steady state
/// (`steady_state` false in sweep.csv): their figures are mostly transient, so the closed forms
/// beside them describe a host they never became.
pub fn transient_note(r: &SweepResult) -> Option<String> {
    let unsettled = r.rows.iter().filter(|row| !row.steady_state).count();
    (unsettled > 0).then(|| {
        format!(
            "not at steady state in {unsettled} of {} rows (too short for the hold, or occupancy still \
             rising): read them against the closed forms with care",
            r.rows.len()
        )
    })
}

/// Writes `sweep.csv`, `sweep.json` and (with a `charts` style) the charts into `dir`.
pub fn write_outputs(
    dir: &Path,
    r: &SweepResult,
    text: &str,
    charts: Option<ChartStyle>,
) -> Result<Vec<PathBuf>> {
    write_outputs_keeping(dir, r, text, charts, &[])
}

/// [`write_outputs`], with `keep` (paths inside `dir` and their bytes) written into the new
/// folder too; they are not listed among the files written.
pub fn write_outputs_keeping(
    dir: &Path,
    r: &SweepResult,
    text: &str,
    charts: Option<ChartStyle>,
    keep: &[(PathBuf, Vec<u8>)],
) -> Result<Vec<PathBuf>> {
    let mut staged = Staged::new(dir)?;
    for (path, bytes) in keep {
        staged.write(path.clone(), bytes)?;
    }
    let kept = keep.len();
    staged.write(dir.join("sweep.csv"), sweep_csv(r)?.as_bytes())?;
    staged.write(dir.join("sweep.json"), serde_json::to_string_pretty(&sweep_json(r))?.as_bytes())?;
    if let Some(style) = charts
        && !r.rows.is_empty()
    {
        let drawn = chart::sweep_charts(r, text, &style)?;
        for c in &drawn {
            staged.write(dir.join("charts").join(format!("{}.svg", c.name)), c.svg.as_bytes())?;
            staged.write(dir.join("charts").join(format!("{}.png", c.name)), &c.png)?;
        }
        staged.write(dir.join("report.html"), report::report_html(r, &drawn).as_bytes())?;
    }
    Ok(staged.publish()?.split_off(kept))
}

/// A sweep ready to run: the scenario text and the grid it expands to. Built the same way
/// by `portsim sweep` and, from what a shard file records, by `portsim merge`, so both see the
/// very same points.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The scenario file's text, as read.
    pub text: String,
    /// The scenario's path as given on the command line.
    pub origin: String,
    /// Where relative paths in the scenario (a trace file) are taken from.
    pub base_dir: PathBuf,
    /// The `--vary` arguments as given.
    pub vary_args: Vec<String>,
    /// `--only`.
    pub only: Vec<String>,
    pub seeds: u32,
    pub name: String,
    /// The scenario's seed: the first of every point's seeds.
    pub seed: u64,
    pub varies: Vec<Vary>,
    pub points: Vec<Point>,
}

impl Plan {
    /// Validates the seeds, the `--vary` arguments and every point of the grid.
    pub fn new(
        text: String,
        origin: String,
        base_dir: PathBuf,
        vary_args: Vec<String>,
        only: Vec<String>,
        seeds: u32,
    ) -> Result<Plan> {
        let varies = check_arguments(&vary_args, seeds)?;
        let mut base = scenario::parse(&text, &origin, &base_dir)?;
        if !only.is_empty() {
            base.retain_strategies(&only).map_err(|e| anyhow!("{origin}: {e}"))?;
        }
        check_sweep_size(&base, &varies, seeds)?;
        let points = build_points(&text, &origin, &base_dir, &varies, &only)?;
        Ok(Plan {
            name: base.name,
            seed: base.seed,
            text,
            origin,
            base_dir,
            vary_args,
            only,
            seeds,
            varies,
            points,
        })
    }

    /// Reads the scenario file and builds the plan of `portsim sweep` with these arguments.
    pub fn from_args(args: &SweepArgs) -> Result<Plan> {
        // Bad arguments are reported before an unreadable file.
        check_arguments(&args.vary, args.seeds)?;
        let origin = args.scenario.display().to_string();
        let text = crate::scenario::read_scenario_text(&args.scenario).map_err(|e| anyhow!("{e}"))?;
        let base_dir = args.scenario.parent().unwrap_or(Path::new(".")).to_path_buf();
        Plan::new(text, origin, base_dir, args.vary.clone(), args.only.clone(), args.seeds)
    }

    /// Every task, in order.
    pub fn tasks(&self) -> Vec<Task> {
        tasks(&self.points, self.seed, self.seeds)
    }

    /// The simulated time the tasks numbered `selected` cover, for the progress bar.
    fn simulated_ns(&self, all: &[Task], selected: &[usize]) -> u64 {
        selected.iter().map(|&i| self.points[all[i].point].scenario.duration).fold(0, u64::saturating_add)
    }

    /// The folder the sweep writes to unless told otherwise.
    pub fn default_dir(&self) -> PathBuf {
        Path::new("output").join(format!("{}-sweep", self.name))
    }

    /// The sweep's figures from every task's result (see [`rows_from`]). Takes the plan: the
    /// points move into the result rather than being copied (a trace scenario holds its trace).
    pub fn into_result(self, results: &[Option<Measured>], interrupted: bool) -> SweepResult {
        let first = &self.points[0].scenario;
        let strategies = first.strategies.iter().map(|s| s.label.clone()).collect();
        let closed_form_note = first.strategies.first().and_then(|spec| closed_form_at(first, spec).err());
        let rows = rows_from(&self.points, self.seed, self.seeds, results);
        SweepResult {
            name: self.name,
            origin: self.origin,
            seed: self.seed,
            seeds: self.seeds,
            varies: self.varies,
            points: self.points,
            strategies,
            rows,
            closed_form_note,
            interrupted,
        }
    }
}

/// Checks `--seeds` and parses every `--vary`.
fn check_arguments(vary_args: &[String], seeds: u32) -> Result<Vec<Vary>> {
    if seeds == 0 {
        bail!("--seeds 0: give at least one seed per point");
    }
    if seeds > 1000 {
        bail!("--seeds {seeds}: at most 1000 seeds per point");
    }
    let mut varies: Vec<Vary> = Vec::new();
    for text in vary_args {
        let v = parse_vary(text).map_err(|e| anyhow!("--vary {text}: {e}"))?;
        if varies.iter().any(|w| w.key == v.key) {
            bail!("--vary {text}: `{}` is swept twice; give each key one --vary", v.key);
        }
        varies.push(v);
    }
    Ok(varies)
}

/// The estimated work of the tasks numbered `selected`, refused over the budget unless
/// `allow_long`.
fn check_work(plan: &Plan, all: &[Task], selected: &[usize], allow_long: bool) -> Result<()> {
    let per_point: Vec<(crate::budget::Work, f64)> = plan
        .points
        .iter()
        .map(|p| (crate::budget::work(&p.scenario, 1), p.scenario.strategies.len().max(1) as f64))
        .collect();
    let mut w =
        crate::budget::Work { attempts: 0.0, events: 0.0, candidates: 0.0, max_candidates_per_attempt: 0 };
    for &i in selected {
        let (pw, n) = &per_point[all[i].point];
        w.attempts += pw.attempts / n;
        w.events += pw.events / n;
        w.candidates += pw.candidates / n;
        w.max_candidates_per_attempt = w.max_candidates_per_attempt.max(pw.max_candidates_per_attempt);
    }
    if !allow_long && w.cpu_s() > crate::budget::WORK_BUDGET_S {
        bail!("{}: workload.arrivals, duration, --vary: {}", plan.origin, crate::budget::over_budget(&w));
    }
    Ok(())
}

/// `portsim sweep`.
pub fn execute(args: SweepArgs) -> Result<Status> {
    let plan = Plan::from_args(&args)?;
    if plan.points.first().is_some_and(|p| p.scenario.nat.is_some()) {
        // Issue 11: the sweep runs the single-host engine, which knows nothing of the gateway.
        bail!(
            "{}: a [nat] scenario cannot be swept yet: `portsim run` it (each [[nat.allocators]] entry is one configuration)",
            args.scenario.display()
        );
    }
    let shard = args.shard.as_deref().map(|s| Shard::from_arg(s, &|k| std::env::var(k).ok())).transpose()?;
    let pool = crate::commands::worker_pool(args.threads)?;
    let all = plan.tasks();
    let selected: Vec<usize> = match shard {
        Some(s) => s.task_indices(all.len()),
        None => (0..all.len()).collect(),
    };
    let what = match shard {
        Some(s) => format!("sweep {} shard {s}: {} of {} tasks", plan.name, selected.len(), all.len()),
        None => format!("sweep {}: {} points", plan.name, plan.points.len()),
    };
    check_work(&plan, &all, &selected, args.allow_long)?;
    let bar = crate::progress::Progress::new(
        plan.simulated_ns(&all, &selected),
        what,
        " (Ctrl-C keeps the finished points)",
    );
    // The first Ctrl-C (or SIGTERM) stops handing out tasks and keeps the finished points; a
    // second one quits at once, removing the unpublished output.
    crate::report::install_signal_handler();
    crate::report::handle_first_interrupt(true);
    let tick = |ns: u64| bar.inc(ns);
    let (results, interrupted) = run_tasks(&pool, &plan.points, &all, &selected, &tick);
    // Writing: a signal now removes the unpublished output and ends the process.
    crate::report::handle_first_interrupt(false);
    bar.finish();
    let dir = args.out.clone().unwrap_or_else(|| plan.default_dir());
    if let Some(s) = shard {
        return shard::finish(&dir, &plan, s, &all, &results, interrupted, args.json);
    }
    let text = plan.text.clone();
    let result = plan.into_result(&results, interrupted);
    publish_printing(&dir, &result, &text, (!args.no_charts).then(|| args.chart.style()), &[], args.json)
}

/// Writes a sweep's files and prints its table: the end of `portsim sweep` and of
/// `portsim merge` alike, so a merged sweep is the unsharded one byte for byte.
pub fn publish(dir: &Path, result: &SweepResult, text: &str, charts: Option<ChartStyle>) -> Result<Status> {
    publish_keeping(dir, result, text, charts, &[])
}

/// [`publish`], carrying `keep` (files inside `dir`, with their bytes) into the new folder:
/// `portsim merge` into the shards' own folder keeps the shards beside the merged sweep.
pub fn publish_keeping(
    dir: &Path,
    result: &SweepResult,
    text: &str,
    charts: Option<ChartStyle>,
    keep: &[(PathBuf, Vec<u8>)],
) -> Result<Status> {
    publish_printing(dir, result, text, charts, keep, false)
}

/// [`publish_keeping`], printing `sweep.json` instead of the table when `json` (`--json`:
/// stdout is then exactly the file's bytes and a newline).
pub fn publish_printing(
    dir: &Path,
    result: &SweepResult,
    text: &str,
    charts: Option<ChartStyle>,
    keep: &[(PathBuf, Vec<u8>)],
    json: bool,
) -> Result<Status> {
    let done = result.rows.iter().map(|r| r.point).collect::<std::collections::BTreeSet<_>>().len();
    if result.interrupted && done == 0 {
        eprintln!("interrupted before any point finished: nothing written");
        return Ok(Status::Interrupted);
    }
    let written = write_outputs_keeping(dir, result, text, charts, keep)?;
    if json {
        crate::report::stdout::print(&format!("{}\n", serde_json::to_string_pretty(&sweep_json(result))?));
    } else if !crate::term::quiet() {
        let mut out = format!(
            "{} sweep: {} point{} x {} strateg{} x {} seed{}\n",
            result.name,
            result.points.len(),
            if result.points.len() == 1 { "" } else { "s" },
            result.strategies.len(),
            if result.strategies.len() == 1 { "y" } else { "ies" },
            result.seeds,
            if result.seeds == 1 { "" } else { "s" },
        );
        out.push_str(&render_table(result));
        if let Some(note) = &result.closed_form_note {
            out.push_str(&format!("closed forms: {note}\n"));
        }
        crate::report::stdout::print(&out);
    }
    let names: Vec<String> =
        written.iter().filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned())).collect();
    crate::term::eprint_info(&format!("wrote {}/ ({})", dir.display(), names.join(", ")));
    if result.interrupted {
        eprintln!(
            "interrupted: kept the {done} finished point{} of {}",
            if done == 1 { "" } else { "s" },
            result.points.len()
        );
        return Ok(Status::Interrupted);
    }
    Ok(Status::Ok)
}
