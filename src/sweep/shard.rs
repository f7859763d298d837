//! `portsim sweep --shard K/N`: one slice of a sweep, for a batch system to run beside the
//! others. The full task list is built exactly as an unsharded sweep builds it; shard `K` of `N`
//! keeps the tasks whose index is `K` modulo `N` (round-robin, so the costly high-rate points
//! at the end of a grid are spread over every shard rather than landing on the last one), runs
//! them on the local cores and writes `shard-K-of-N.json`: a manifest that says which sweep it
//! belongs to and each task's measured figures. `portsim merge` ([`super::merge`]) turns a full
//! set of them back into the unsharded sweep's files.
//!
//! `--shard auto` takes K and N from the batch system, the way ns-3's `sem` and OMNeT++'s
//! `opp_runall` index runs into a grid: a Slurm job array (`SLURM_ARRAY_TASK_ID`,
//! `SLURM_ARRAY_TASK_COUNT`, offset by `SLURM_ARRAY_TASK_MIN` and divided by
//! `SLURM_ARRAY_TASK_STEP`; with `PORTSIM_SHARDS` set, the task id is the shard itself, so that
//! `--array=1,3` reruns two shards), a Kubernetes Indexed Job (`JOB_COMPLETION_INDEX`, with N in
//! `PORTSIM_SHARDS` since such a Job has no variable for its completions), or `PORTSIM_SHARD=K/N`
//! (GNU parallel, a shell loop).

use super::{Measured, Plan, Task};
use crate::commands::Status;
use crate::report::{claim_folder, write_file_atomically};
use anyhow::{Result, anyhow, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::{Path, PathBuf};

/// At most this many shards.
pub const MAX_SHARDS: usize = 100_000;

/// What a shard file says it is, so that `portsim merge` refuses anything else.
pub const FORMAT: &str = "portsim-sweep-shard";

/// Shard `k` of `n`, counted from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub k: usize,
    pub n: usize,
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

fn whole(what: &str, text: &str) -> Result<usize> {
    text.trim().parse::<usize>().map_err(|_| anyhow!("{what}: `{text}` is not a whole number"))
}

impl Shard {
    /// Parses `K/N`; `what` names where the text came from, for messages.
    pub fn parse(text: &str, what: &str) -> Result<Shard> {
        let Some((k, n)) = text.split_once('/') else {
            bail!("{what} {text}: write K/N (shard K of N, K counted from 0: 0/4 to 3/4) or auto");
        };
        let at = format!("{what} {text}");
        let (k, n) = (whole(&at, k)?, whole(&at, n)?);
        if n == 0 || n > MAX_SHARDS {
            bail!("{what} {text}: N must be 1 to {MAX_SHARDS} shards");
        }
        if k >= n {
            bail!("{what} {text}: K counts from 0, so it must be 0 to {} for {n} shards", n - 1);
        }
        Ok(Shard { k, n })
    }

    /// The `--shard` argument: `K/N`, or `auto` to read it from the batch system's variables
    /// through `env`.
    pub fn from_arg(arg: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Shard> {
        if arg.trim() == "auto" { Shard::from_env(env) } else { Shard::parse(arg, "--shard") }
    }

    /// `--shard auto`: every source of K/N that is set must agree, and one must be set.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Shard> {
        let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let mut found: Vec<(&str, Shard)> = Vec::new();
        let slurm_id = var("SLURM_ARRAY_TASK_ID");
        if let (Some(id), Some(n)) = (&slurm_id, var("PORTSIM_SHARDS")) {
            // A rerun of some shards (`--array=1,3` with PORTSIM_SHARDS=4): the array's own
            // count and bounds are not the sweep's, so the task id is the shard number itself.
            let s = Shard::parse(
                &format!("{}/{}", id.trim(), n.trim()),
                "--shard auto: SLURM_ARRAY_TASK_ID/PORTSIM_SHARDS",
            )?;
            found.push(("SLURM_ARRAY_TASK_ID", s));
        } else if let Some(id) = slurm_id {
            let count = var("SLURM_ARRAY_TASK_COUNT").ok_or_else(|| {
                anyhow!("--shard auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not (Slurm 20.11 or later sets both)")
            })?;
            let id = whole("--shard auto: SLURM_ARRAY_TASK_ID", &id)?;
            let n = whole("--shard auto: SLURM_ARRAY_TASK_COUNT", &count)?;
            let min = var("SLURM_ARRAY_TASK_MIN")
                .map(|m| whole("--shard auto: SLURM_ARRAY_TASK_MIN", &m))
                .transpose()?;
            let step = var("SLURM_ARRAY_TASK_STEP")
                .map(|m| whole("--shard auto: SLURM_ARRAY_TASK_STEP", &m))
                .transpose()?
                .unwrap_or(1)
                .max(1);
            let offset = id.checked_sub(min.unwrap_or(0)).unwrap_or(usize::MAX);
            if offset % step != 0 || offset / step >= n.max(1) {
                bail!(
                    "--shard auto: SLURM array task {id} is not one of {n} evenly spaced tasks from SLURM_ARRAY_TASK_MIN={}: submit the array as --array=0-{}, or set PORTSIM_SHARDS to the number of shards to use the task id as the shard",
                    min.unwrap_or(0),
                    n.saturating_sub(1)
                );
            }
            let s = Shard::parse(
                &format!("{}/{n}", offset / step),
                "--shard auto: SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT",
            )?;
            found.push(("SLURM_ARRAY_TASK_ID", s));
        }
        if let Some(index) = var("JOB_COMPLETION_INDEX") {
            let n = var("PORTSIM_SHARDS").ok_or_else(|| {
                anyhow!("--shard auto: JOB_COMPLETION_INDEX is set but PORTSIM_SHARDS is not: an Indexed Job has no variable for its completions, so set PORTSIM_SHARDS to the same number")
            })?;
            let s = Shard::parse(
                &format!("{}/{}", index.trim(), n.trim()),
                "--shard auto: JOB_COMPLETION_INDEX/PORTSIM_SHARDS",
            )?;
            found.push(("JOB_COMPLETION_INDEX", s));
        }
        if let Some(text) = var("PORTSIM_SHARD") {
            found.push(("PORTSIM_SHARD", Shard::parse(&text, "--shard auto: PORTSIM_SHARD")?));
        }
        match found.as_slice() {
            [] => bail!(
                "--shard auto: none of SLURM_ARRAY_TASK_ID (a Slurm job array), JOB_COMPLETION_INDEX (a Kubernetes Indexed Job, with PORTSIM_SHARDS) or PORTSIM_SHARD=K/N is set"
            ),
            [(_, s), rest @ ..] => {
                if let Some((name, t)) = rest.iter().find(|(_, t)| t != s) {
                    bail!("--shard auto: {} says shard {s} but {name} says {t}: unset one", found[0].0);
                }
                Ok(*s)
            }
        }
    }

    /// The indices of this shard's tasks among `total`: `K`, `K + N`, `K + 2N`, ...
    pub fn task_indices(&self, total: usize) -> Vec<usize> {
        (self.k..total).step_by(self.n).collect()
    }

    /// `shard-K-of-N.json`.
    pub fn file_name(&self) -> String {
        format!("shard-{}-of-{}.json", self.k, self.n)
    }
}

/// The swept grid as the manifest records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GridKey {
    pub key: String,
    pub values: Vec<String>,
}

/// Everything that says which sweep a shard belongs to: equal in every shard of one sweep but
/// for `shard` and `tasks`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    pub portsim_version: String,
    /// SHA-256 of every validated point of the grid (the scenario after each `--vary`).
    pub scenario_hash: String,
    pub name: String,
    /// The scenario's path as the sweep was given it.
    pub origin: String,
    /// Where the scenario's relative paths (a trace file) were taken from.
    pub base_dir: String,
    /// The scenario file's text, so that `portsim merge` needs nothing but the shards.
    pub scenario_text: String,
    /// The `--vary` arguments as given.
    pub vary: Vec<String>,
    pub grid: Vec<GridKey>,
    pub only: Vec<String>,
    pub seeds: u32,
    pub seed: u64,
    pub strategies: Vec<String>,
    pub points: usize,
    pub tasks_total: usize,
    pub shards: usize,
    pub shard: usize,
    /// This shard's task indices.
    pub tasks: Vec<usize>,
}

impl Manifest {
    /// The manifest of shard `shard` of `plan`.
    pub fn of(plan: &Plan, shard: Shard, tasks_total: usize) -> Manifest {
        Manifest {
            format: FORMAT.into(),
            portsim_version: env!("CARGO_PKG_VERSION").into(),
            scenario_hash: scenario_hash(plan),
            name: plan.name.clone(),
            origin: plan.origin.clone(),
            base_dir: plan.base_dir.display().to_string(),
            scenario_text: plan.text.clone(),
            vary: plan.vary_args.clone(),
            grid: plan
                .varies
                .iter()
                .map(|v| GridKey {
                    key: v.key.clone(),
                    values: v.values.iter().map(|x| x.label.clone()).collect(),
                })
                .collect(),
            only: plan.only.clone(),
            seeds: plan.seeds,
            seed: plan.seed,
            strategies: plan.points[0].scenario.strategies.iter().map(|s| s.label.clone()).collect(),
            points: plan.points.len(),
            tasks_total,
            shards: shard.n,
            shard: shard.k,
            tasks: shard.task_indices(tasks_total),
        }
    }
}

/// Feeds formatted text straight into the hash, so a long trace is never held twice.
struct HashWriter(Sha256);

impl fmt::Write for HashWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.update(s.as_bytes());
        Ok(())
    }
}

/// SHA-256 (hex) of every point of the grid: its values and the validated scenario they make,
/// every setting and every strategy's parameters. Two shards with the same hash simulate the
/// same runs.
pub fn scenario_hash(plan: &Plan) -> String {
    use fmt::Write as _;
    let mut h = HashWriter(Sha256::new());
    for p in &plan.points {
        let _ = writeln!(h, "{p:?}");
    }
    h.0.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A float as JSON writes it, shortest round-trip; NaN and the infinities as strings (JSON has
/// no number for them), so the figures come back bit for bit.
mod exact_f64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
        if x.is_finite() { s.serialize_f64(*x) } else { s.serialize_str(&x.to_string()) }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Number(f64),
        Text(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        match Repr::deserialize(d)? {
            Repr::Number(x) => Ok(x),
            Repr::Text(t) => match t.as_str() {
                "NaN" => Ok(f64::NAN),
                "inf" => Ok(f64::INFINITY),
                "-inf" => Ok(f64::NEG_INFINITY),
                _ => Err(serde::de::Error::custom(format!("`{t}` is not a number"))),
            },
        }
    }
}

/// One task's measured figures, as a shard file stores them.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub task: usize,
    pub point: usize,
    pub strategy: usize,
    pub seed: u64,
    pub attempted: u64,
    pub failed: u64,
    #[serde(with = "exact_f64")]
    pub failed_fraction: f64,
    #[serde(with = "exact_f64")]
    pub mean_candidates: f64,
    pub p99_candidates: u32,
    pub collisions_local: u64,
    pub collisions_remote: u64,
    pub reuse_within_threshold: u64,
    pub occupancy_peak: u32,
    pub first_failure_s: Option<f64>,
    pub settled: bool,
}

impl Run {
    fn new(task: usize, t: Task, m: Measured) -> Run {
        Run {
            task,
            point: t.point,
            strategy: t.strategy,
            seed: t.seed,
            attempted: m.attempted,
            failed: m.failed,
            failed_fraction: m.failed_fraction,
            mean_candidates: m.mean_candidates,
            p99_candidates: m.p99_candidates,
            collisions_local: m.collisions_local,
            collisions_remote: m.collisions_remote,
            reuse_within_threshold: m.reuse_within_threshold,
            occupancy_peak: m.occupancy_peak,
            first_failure_s: m.first_failure_s,
            settled: m.settled,
        }
    }

    /// The figures, as the sweep measured them.
    pub fn measured(&self) -> Measured {
        Measured {
            attempted: self.attempted,
            failed: self.failed,
            failed_fraction: self.failed_fraction,
            mean_candidates: self.mean_candidates,
            p99_candidates: self.p99_candidates,
            collisions_local: self.collisions_local,
            collisions_remote: self.collisions_remote,
            reuse_within_threshold: self.reuse_within_threshold,
            occupancy_peak: self.occupancy_peak,
            first_failure_s: self.first_failure_s,
            settled: self.settled,
        }
    }
}

/// `shard-K-of-N.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardFile {
    pub manifest: Manifest,
    /// One per task of `manifest.tasks`, in the same order.
    pub runs: Vec<Run>,
}

impl ShardFile {
    /// The shard file of `shard` from the sweep's results; `None` while a task is missing.
    pub fn of(plan: &Plan, shard: Shard, all: &[Task], results: &[Option<Measured>]) -> Option<ShardFile> {
        let manifest = Manifest::of(plan, shard, all.len());
        let runs = manifest
            .tasks
            .iter()
            .map(|&i| results[i].map(|m| Run::new(i, all[i], m)))
            .collect::<Option<_>>()?;
        Some(ShardFile { manifest, runs })
    }
}

/// The end of `portsim sweep --shard`: writes the shard file whole, or nothing when Ctrl-C
/// stopped the shard (half a shard is of no use to `portsim merge`).
pub fn finish(
    dir: &Path,
    plan: &Plan,
    shard: Shard,
    all: &[Task],
    results: &[Option<Measured>],
    interrupted: bool,
    json: bool,
) -> Result<Status> {
    let file = match ShardFile::of(plan, shard, all, results) {
        Some(f) if !interrupted => f,
        _ => {
            eprintln!("interrupted: shard {shard} not written; run `--shard {shard}` again");
            return Ok(Status::Interrupted);
        }
    };
    let path: PathBuf = dir.join(shard.file_name());
    claim_folder(dir)?;
    write_file_atomically(&path, serde_json::to_string_pretty(&file)?.as_bytes())?;
    // `--json` prints nothing for a shard (its product is the file) and `--quiet` nothing at all.
    if crate::term::quiet() {
        return Ok(Status::Ok);
    }
    if !json {
        println!(
            "{} sweep shard {shard}: {} of {} tasks ({} point{} x {} strateg{} x {} seed{})",
            plan.name,
            file.runs.len(),
            all.len(),
            plan.points.len(),
            if plan.points.len() == 1 { "" } else { "s" },
            file.manifest.strategies.len(),
            if file.manifest.strategies.len() == 1 { "y" } else { "ies" },
            plan.seeds,
            if plan.seeds == 1 { "" } else { "s" },
        );
    }
    eprintln!("wrote {}", path.display());
    Ok(Status::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_indices() {
        assert_eq!(Shard { k: 1, n: 3 }.task_indices(8), [1, 4, 7]);
        assert_eq!(Shard { k: 0, n: 1 }.task_indices(3), [0, 1, 2]);
        assert!(Shard { k: 5, n: 7 }.task_indices(4).is_empty());
    }

    #[test]
    fn floats_come_back_bit_for_bit() {
        let m = Measured {
            attempted: 1,
            failed: 0,
            failed_fraction: 0.1 + 0.2,
            mean_candidates: f64::NAN,
            p99_candidates: 1,
            collisions_local: 0,
            collisions_remote: 0,
            reuse_within_threshold: 0,
            occupancy_peak: 1,
            first_failure_s: Some(1.0 / 3.0),
            settled: true,
        };
        let r = Run::new(0, Task { point: 0, strategy: 0, seed: 1 }, m);
        let back: Run = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back.failed_fraction.to_bits(), m.failed_fraction.to_bits());
        assert!(back.mean_candidates.is_nan());
        assert_eq!(back.first_failure_s.map(f64::to_bits), m.first_failure_s.map(f64::to_bits));
    }
}
