//! Reading one finished `portsim run` folder back: `summary.json` (every strategy's summary,
//! the scenario's effective settings, `across_seeds` when run with `--seeds`),
//! `timeseries.csv`, `port_usage.csv` and `pools.csv`, into the [`RunOutput`]s the run's charts were drawn
//! from. A folder of another kind (a sweep, a prediction), of another portsim version, or
//! missing one of those files is refused with a message naming the folder.

use crate::metrics::{Sample, StrategySummary};
use crate::sim::RunOutput;
use anyhow::{Context, Result, anyhow, bail};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One strategy's figure over the seeds of `run --seeds K` (`summary.json`'s `across_seeds`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SeedFigure {
    pub mean: f64,
    pub ci95: Option<f64>,
    pub seeds: usize,
}

/// A run folder, read back.
#[derive(Clone, Debug)]
pub struct RunFolder {
    pub dir: PathBuf,
    /// What the comparison calls this run: the folder's name, made unique among the folders.
    pub label: String,
    /// `summary.json`'s `scenario` object.
    pub scenario: serde_json::Value,
    /// Every strategy's summary as `summary.json` holds it (the JSON, for the differences).
    pub summaries: Vec<serde_json::Value>,
    /// The same, with the time series and per-port counts the charts need.
    pub outputs: Vec<RunOutput>,
    /// Per strategy name and dotted metric key: the figure over the seeds.
    pub across_seeds: BTreeMap<(String, String), SeedFigure>,
    /// The seeds `--seeds` ran, when it ran more than one.
    pub seeds: Vec<u64>,
}

impl RunFolder {
    pub fn strategy_names(&self) -> Vec<&str> {
        self.outputs.iter().map(|o| o.summary.name.as_str()).collect()
    }

    /// A number of the scenario object (`duration_s`, `warmup_s`, ...).
    pub fn scenario_f64(&self, key: &str) -> Option<f64> {
        self.scenario.get(key).and_then(|v| v.as_f64())
    }
}

fn read(dir: &Path, name: &str) -> Result<String> {
    let path = dir.join(name);
    if !path.is_file() {
        bail!("{}: {name} is missing: not a finished `portsim run` folder", dir.display());
    }
    std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))
}

/// Reads `dir`; `label` is the name the comparison gives it.
pub fn load(dir: &Path, label: String) -> Result<RunFolder> {
    if !dir.is_dir() {
        bail!("{}: no such folder", dir.display());
    }
    if !dir.join("summary.json").is_file() {
        let kind = [("sweep.json", "a sweep"), ("predict.json", "a prediction"), ("shard-", "a sweep shard")]
            .iter()
            .find(|(f, _)| {
                dir.join(f).is_file()
                    || std::fs::read_dir(dir).ok().is_some_and(|mut d| {
                        d.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with(f)))
                    })
            })
            .map(|(_, k)| *k);
        match kind {
            Some(k) => bail!(
                "{}: {k} folder, not a run's: compare reads the folders `portsim run` writes (summary.json)",
                dir.display()
            ),
            None => bail!("{}: not a portsim run folder (it has no summary.json)", dir.display()),
        }
    }
    let text = read(dir, "summary.json")?;
    let doc: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| anyhow!("{}/summary.json: not portsim's summary: {e}", dir.display()))?;
    let version = doc.get("portsim_version").and_then(|v| v.as_str()).ok_or_else(|| {
        anyhow!("{}/summary.json: not portsim's summary: it has no portsim_version", dir.display())
    })?;
    let ours = env!("CARGO_PKG_VERSION");
    if version != ours {
        bail!(
            "{}: written by portsim {version}, this is portsim {ours}: rerun its scenario with this version to compare it",
            dir.display()
        );
    }
    let summaries: Vec<serde_json::Value> =
        doc.get("strategies").and_then(|v| v.as_array()).cloned().ok_or_else(|| {
            anyhow!("{}/summary.json: not portsim's summary: it has no strategies", dir.display())
        })?;
    let mut outputs = Vec::with_capacity(summaries.len());
    for s in &summaries {
        let summary: StrategySummary = serde_json::from_value(s.clone())
            .map_err(|e| anyhow!("{}/summary.json: not portsim's summary: {e}", dir.display()))?;
        outputs.push(RunOutput { summary, samples: Vec::new(), log: Default::default() });
    }
    read_timeseries(dir, &mut outputs)?;
    read_port_usage(dir, &mut outputs)?;
    read_pools(dir, &mut outputs)?;
    let (across_seeds, seeds) = read_across(dir, &doc)?;
    Ok(RunFolder {
        dir: dir.to_path_buf(),
        label,
        scenario: doc.get("scenario").cloned().unwrap_or(serde_json::Value::Null),
        summaries,
        outputs,
        across_seeds,
        seeds,
    })
}

fn by_name<'a>(
    dir: &Path,
    file: &str,
    outputs: &'a mut [RunOutput],
    name: &str,
) -> Result<&'a mut RunOutput> {
    outputs.iter_mut().find(|o| o.summary.name == name).ok_or_else(|| {
        anyhow!(
            "{}/{file}: strategy `{name}` is not in summary.json: the folder's files disagree",
            dir.display()
        )
    })
}

fn read_timeseries(dir: &Path, outputs: &mut [RunOutput]) -> Result<()> {
    let text = read(dir, "timeseries.csv")?;
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let headers = r.headers()?.clone();
    let col = headers.iter().position(|h| h == "strategy").ok_or_else(|| {
        anyhow!("{}/timeseries.csv: no `strategy` column: not portsim's time series", dir.display())
    })?;
    for (i, rec) in r.records().enumerate() {
        let at = || format!("{}/timeseries.csv: line {}", dir.display(), i + 2);
        let rec = rec.with_context(at)?;
        let sample: Sample = rec.deserialize(Some(&headers)).with_context(at)?;
        by_name(dir, "timeseries.csv", outputs, &rec[col])?.samples.push(sample);
    }
    Ok(())
}

fn read_port_usage(dir: &Path, outputs: &mut [RunOutput]) -> Result<()> {
    let text = read(dir, "port_usage.csv")?;
    let mut r = csv::Reader::from_reader(text.as_bytes());
    for (i, rec) in r.deserialize::<(String, u16, u64)>().enumerate() {
        let (name, port, count) =
            rec.with_context(|| format!("{}/port_usage.csv: line {}", dir.display(), i + 2))?;
        by_name(dir, "port_usage.csv", outputs, &name)?.summary.port_usage.per_port.push((port, count));
    }
    Ok(())
}

/// `pools.csv`, into each summary's `pools.all` (the pools' indices are not in the file).
fn read_pools(dir: &Path, outputs: &mut [RunOutput]) -> Result<()> {
    let text = read(dir, "pools.csv")?;
    let mut r = csv::Reader::from_reader(text.as_bytes());
    type Row = (String, String, String, u64, u64, Option<f64>, u32);
    for (i, rec) in r.deserialize::<Row>().enumerate() {
        let (name, local_addr, destination, attempted, failed, first_failure_s, peak) =
            rec.with_context(|| format!("{}/pools.csv: line {}", dir.display(), i + 2))?;
        by_name(dir, "pools.csv", outputs, &name)?.summary.pools.all.push(crate::metrics::Pool {
            local_addr,
            destination,
            attempted,
            failed,
            first_failure_s,
            peak,
            index: (0, 0),
        });
    }
    Ok(())
}

/// `across_seeds`: per strategy, `metrics` of `{key, mean, ci95, n}`.
type Across = (BTreeMap<(String, String), SeedFigure>, Vec<u64>);

fn read_across(dir: &Path, doc: &serde_json::Value) -> Result<Across> {
    let mut out = BTreeMap::new();
    let mut seeds = Vec::new();
    let Some(list) = doc.get("across_seeds").and_then(|v| v.as_array()) else { return Ok((out, seeds)) };
    let bad = || anyhow!("{}/summary.json: across_seeds is not portsim's", dir.display());
    for a in list {
        let name = a.get("name").and_then(|v| v.as_str()).ok_or_else(bad)?;
        if seeds.is_empty() {
            seeds = a
                .get("seeds")
                .and_then(|v| v.as_array())
                .map(|v| v.iter().filter_map(|s| s.as_u64()).collect())
                .unwrap_or_default();
        }
        for m in a.get("metrics").and_then(|v| v.as_array()).ok_or_else(bad)? {
            let key = m.get("key").and_then(|v| v.as_str()).ok_or_else(bad)?;
            let n = m.get("n").and_then(|v| v.as_u64()).unwrap_or(0) as usize;
            let Some(mean) = m.get("mean").and_then(|v| v.as_f64()).filter(|_| n > 0) else { continue };
            out.insert(
                (name.to_string(), key.to_string()),
                SeedFigure { mean, ci95: m.get("ci95").and_then(|v| v.as_f64()), seeds: n },
            );
        }
    }
    Ok((out, seeds))
}
