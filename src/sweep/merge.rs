//! `portsim merge`: the shard files of one sweep back into that sweep's `sweep.csv`,
//! `sweep.json`, charts and table. Every shard must belong to the same sweep (same portsim
//! version, same scenario hash, same grid, seeds and shard count) and every shard must be there
//! once; otherwise merge names what is wrong, or which `--shard` values to run again, and writes
//! nothing. The sweep is rebuilt from the manifest with the same [`Plan`] the unsharded sweep
//! uses and written by the same [`publish`](super::publish), so the merged files are the unsharded ones byte
//! for byte.

use super::shard::{FORMAT, Shard, ShardFile, scenario_hash};
use super::{Plan, SweepResult};
use crate::cli::MergeArgs;
use crate::commands::Status;
use anyhow::{Context, Result, anyhow, bail};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Shard files listed in a folder: `shard-K-of-N.json`.
fn is_shard_name(name: &str) -> bool {
    name.starts_with("shard-") && name.ends_with(".json") && name.contains("-of-")
}

/// The shard files named by the arguments: files as given, folders by their `shard-*.json`.
pub fn shard_paths(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(input)
                .map_err(|e| anyhow!("{}: cannot list the folder: {e}", input.display()))?
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(is_shard_name))
                .collect();
            if found.is_empty() {
                bail!("{}: no shard-K-of-N.json files in this folder", input.display());
            }
            found.sort();
            out.extend(found);
        } else if input.exists() {
            out.push(input.clone());
        } else {
            bail!("{}: no such file or folder", input.display());
        }
    }
    Ok(out)
}

/// Reads one shard file, refusing another program's JSON and another portsim version's shards
/// before looking at the rest.
pub fn read_shard(path: &Path) -> Result<ShardFile> {
    let name = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| anyhow!("{name}: cannot read: {e}"))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| anyhow!("{name}: not a portsim shard file: {e}"))?;
    let manifest = &value["manifest"];
    if manifest["format"] != FORMAT {
        bail!("{name}: not a portsim shard file (no \"manifest\" with \"format\": \"{FORMAT}\")");
    }
    let version = manifest["portsim_version"].as_str().unwrap_or("?");
    if version != env!("CARGO_PKG_VERSION") {
        bail!(
            "{name}: written by portsim {version}, this is portsim {}: run the shards and the merge with one version",
            env!("CARGO_PKG_VERSION")
        );
    }
    serde_json::from_value(value).map_err(|e| anyhow!("{name}: a damaged shard file: {e}"))
}

/// The first manifest key in which two shards differ, besides the shard's own number and tasks.
fn first_difference(a: &ShardFile, b: &ShardFile) -> Option<String> {
    let strip = |f: &ShardFile| {
        let mut v = serde_json::to_value(&f.manifest).expect("a manifest is plain data");
        let m = v.as_object_mut().expect("a manifest is an object");
        m.remove("shard");
        m.remove("tasks");
        v
    };
    let (a, b) = (strip(a), strip(b));
    let (a, b) = (a.as_object().expect("object"), b.as_object().expect("object"));
    // The scenario hash first: it covers the grid and the scenario, and says it best.
    let differs = |k: &str| a.get(k) != b.get(k);
    if differs("scenario_hash") {
        return Some("scenario_hash".into());
    }
    a.keys().find(|k| differs(k)).cloned()
}

/// `K/N` values, joined for a sentence.
fn list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Checks that `files` are every shard of one sweep, once each, and rebuilds it.
pub fn check(paths: &[PathBuf], files: &[ShardFile]) -> Result<Plan> {
    let (first_path, first) = (&paths[0], &files[0]);
    for (path, f) in paths.iter().zip(files).skip(1) {
        if let Some(key) = first_difference(first, f) {
            let why = match key.as_str() {
                "scenario_hash" | "scenario_text" => {
                    "it was run from another scenario (the scenario file, a --vary or --only differ)"
                }
                "shards" => "it was cut into another number of shards",
                _ => "it belongs to another sweep",
            };
            bail!(
                "{}: {why}: its manifest's `{key}` differs from {}'s; merge the shards of one sweep only",
                path.display(),
                first_path.display()
            );
        }
    }
    let n = first.manifest.shards;
    let mut by_k: BTreeMap<usize, &PathBuf> = BTreeMap::new();
    for (path, f) in paths.iter().zip(files) {
        let m = &f.manifest;
        let shard = Shard::parse(&format!("{}/{}", m.shard, m.shards), "shard")
            .map_err(|e| anyhow!("{}: a damaged shard file: {e}", path.display()))?;
        let tasks_ok = m.tasks == shard.task_indices(m.tasks_total)
            && f.runs.len() == m.tasks.len()
            && f.runs.iter().zip(&m.tasks).all(|(r, &t)| r.task == t);
        if !tasks_ok {
            bail!("{}: a damaged shard file: its runs are not the tasks of shard {shard}", path.display());
        }
        if let Some(other) = by_k.insert(m.shard, path) {
            bail!("shard {shard} is given twice: {} and {}", other.display(), path.display());
        }
    }
    let missing: Vec<Shard> = (0..n).filter(|k| !by_k.contains_key(k)).map(|k| Shard { k, n }).collect();
    if !missing.is_empty() {
        let shown: Vec<Shard> = missing.iter().copied().take(20).collect();
        let more = if missing.len() > shown.len() {
            format!(" (and {} more)", missing.len() - shown.len())
        } else {
            String::new()
        };
        bail!(
            "missing {} of {n} shards: {}{more}; run them again with {}, then merge",
            missing.len(),
            list(&shown.iter().map(|s| s.file_name()).collect::<Vec<_>>()),
            list(&shown.iter().map(|s| format!("--shard {s}")).collect::<Vec<_>>()),
        );
    }
    let m = &first.manifest;
    let plan = Plan::new(
        m.scenario_text.clone(),
        m.origin.clone(),
        PathBuf::from(&m.base_dir),
        m.vary.clone(),
        m.only.clone(),
        m.seeds,
    )
    .map_err(|e| anyhow!("{}: cannot rebuild the sweep from its manifest: {e:#}", first_path.display()))?;
    if scenario_hash(&plan) != m.scenario_hash {
        bail!(
            "{}: the sweep rebuilt from the manifest is not the one the shards ran (a file the scenario reads, such as a trace, changed since)",
            first_path.display()
        );
    }
    Ok(plan)
}

/// The sweep the shard files make together, and its scenario text: checked by [`check`], every
/// run put back in its task's place.
pub fn merge(paths: &[PathBuf], files: &[ShardFile]) -> Result<(String, SweepResult)> {
    let plan = check(paths, files)?;
    let all = plan.tasks();
    if files[0].manifest.tasks_total != all.len() {
        bail!(
            "{}: a damaged shard file: it counts {} tasks, the sweep has {}",
            paths[0].display(),
            files[0].manifest.tasks_total,
            all.len()
        );
    }
    let mut results = vec![None; all.len()];
    for (path, f) in paths.iter().zip(files) {
        for r in &f.runs {
            let t = all.get(r.task);
            if t.is_none_or(|t| (t.point, t.strategy, t.seed) != (r.point, r.strategy, r.seed)) {
                bail!(
                    "{}: a damaged shard file: task {} is not the run the sweep has there",
                    path.display(),
                    r.task
                );
            }
            results[r.task] = Some(r.measured());
        }
    }
    let text = plan.text.clone();
    Ok((text, plan.into_result(&results, false)))
}

/// `portsim merge`.
pub fn execute(args: MergeArgs) -> Result<Status> {
    let paths = shard_paths(&args.inputs)?;
    let files: Vec<ShardFile> = paths.iter().map(|p| read_shard(p)).collect::<Result<_>>()?;
    let (text, result) = merge(&paths, &files)?;
    let out = match (&args.out, args.inputs.as_slice()) {
        (Some(d), _) => d.clone(),
        (None, [one]) if one.is_dir() => one.clone(),
        (None, _) => match paths[0].parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        },
    };
    // Merging into the shards' own folder (the default) replaces it whole: carry the shards
    // that live there into the new folder, so the inputs survive and a merge can be rerun.
    let abs_out = std::path::absolute(&out).unwrap_or_else(|_| out.clone());
    let mut keep = Vec::new();
    for p in &paths {
        let abs = std::path::absolute(p).unwrap_or_else(|_| p.clone());
        if let (Some(parent), Some(name)) = (abs.parent(), abs.file_name())
            && parent == abs_out
        {
            let bytes = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
            keep.push((out.join(name), bytes));
        }
    }
    super::publish_printing(
        &out,
        &result,
        &text,
        (!args.no_charts).then(|| args.chart.style()),
        &keep,
        args.json,
    )
}
