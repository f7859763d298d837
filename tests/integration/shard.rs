//! `portsim sweep --shard` and `portsim merge`: any N shards, run in any order on any number of
//! threads, merge into the unsharded sweep byte for byte; the `--shard auto` variables of
//! Slurm, Kubernetes and GNU parallel; every refusal of merge, pinned; and a real GNU parallel.

use assert_cmd::Command;
use portsim::sweep::merge::merge;
use portsim::sweep::shard::{Shard, ShardFile};
use portsim::sweep::{Plan, publish, run_tasks, sweep_csv, sweep_json};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every variable `--shard auto` reads: removed from each child so the host's own batch
/// system (a test run inside a Slurm job) cannot leak in.
const SHARD_VARS: &[&str] = &[
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_COUNT",
    "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_MAX",
    "SLURM_ARRAY_TASK_STEP",
    "JOB_COMPLETION_INDEX",
    "PORTSIM_SHARDS",
    "PORTSIM_SHARD",
];

fn portsim() -> Command {
    let mut c = Command::cargo_bin("portsim").expect("the portsim binary is built for the tests");
    for v in SHARD_VARS {
        c.env_remove(v);
    }
    c
}

/// The shared tiny scenario ([`crate::support::tiny_scenario`]), 2m with 10s of warm-up.
fn tiny_text() -> String {
    crate::support::tiny_scenario("2m", "10s")
}

const VARY: &str = "workload.arrivals.rate=4..12:5";
const SEEDS: &str = "2";

fn scenario(dir: &Path) -> PathBuf {
    let path = dir.join("tiny.toml");
    std::fs::write(&path, tiny_text()).unwrap();
    path
}

/// `portsim sweep` of the tiny grid, run from `dir` (so the scenario's origin is the same
/// relative path in every run), with `extra` arguments; returns stdout.
fn sweep(dir: &Path, extra: &[&str]) -> String {
    let out = portsim()
        .current_dir(dir)
        .args(["sweep", "tiny.toml", "--vary", VARY, "--seeds", SEEDS])
        .args(extra)
        .assert()
        .success();
    String::from_utf8(out.get_output().stdout.clone()).unwrap()
}

/// Every file under `dir` but the shard files, by relative path.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, at: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(at).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                if !rel.starts_with("shard-") {
                    out.insert(rel, std::fs::read(&p).unwrap());
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// `sweep.json` without a `timing` block, should it have one: wall-clock times are the one
/// thing a merge may not reproduce.
fn without_timing(bytes: &[u8]) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    if let Some(m) = v.as_object_mut() {
        m.remove("timing");
    }
    v
}

fn assert_same_outputs(unsharded: &Path, merged: &Path, what: &str) {
    let (a, b) = (files(unsharded), files(merged));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>(), "{what}: the same files");
    assert!(a.contains_key("sweep.csv") && a.contains_key("sweep.json") && a.len() > 2, "{a:?}");
    for (name, bytes) in &a {
        if name == "sweep.json" && without_timing(bytes).get("timing").is_none() && bytes != &b[name] {
            assert_eq!(without_timing(bytes), without_timing(&b[name]), "{what}: sweep.json");
        } else {
            assert!(bytes == &b[name], "{what}: {name} differs from the unsharded sweep's");
        }
    }
}

/// The invariant: for every N from 1 to 7, the shards run in a shuffled order, each on 1 to 3
/// threads, merge into exactly the unsharded sweep's files and table.
#[test]
fn merging_any_n_shards_is_the_unsharded_sweep_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    scenario(dir.path());
    let table = sweep(dir.path(), &["--threads", "2", "--out", "full"]);
    for n in 1..=7usize {
        let shards = format!("n{n}");
        // A different order for every N: reversed, then strided.
        let mut order: Vec<usize> = (0..n).rev().collect();
        order.sort_by_key(|k| (k * 3) % n);
        for (i, k) in order.iter().enumerate() {
            let threads = (1 + (i + n) % 3).to_string();
            let out =
                sweep(dir.path(), &["--shard", &format!("{k}/{n}"), "--threads", &threads, "--out", &shards]);
            assert!(out.starts_with(&format!("tiny sweep shard {k}/{n}: ")), "{out}");
        }
        let merged = portsim().current_dir(dir.path()).args(["merge", &shards]).assert().success();
        let stdout = String::from_utf8(merged.get_output().stdout.clone()).unwrap();
        assert_eq!(stdout, table, "N = {n}: merge prints the unsharded sweep's table");
        assert_same_outputs(&dir.path().join("full"), &dir.path().join(&shards), &format!("N = {n}"));
        // The merge replaced the shards' folder whole but carried the shards over: it can rerun.
        for k in 0..n {
            assert!(dir.path().join(&shards).join(format!("shard-{k}-of-{n}.json")).is_file(), "N = {n}");
        }
    }
}

/// Round-robin: shard K of N holds tasks K, K + N, ...; the tiny grid has 5 points x 2
/// strategies x 2 seeds = 20 tasks.
#[test]
fn a_shard_file_holds_its_round_robin_tasks_and_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    scenario(dir.path());
    let out = sweep(dir.path(), &["--shard", "2/3", "--out", "s"]);
    assert_eq!(out, "tiny sweep shard 2/3: 6 of 20 tasks (5 points x 2 strategies x 2 seeds)\n");
    let f: ShardFile =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("s/shard-2-of-3.json")).unwrap())
            .unwrap();
    let m = &f.manifest;
    assert_eq!(m.tasks, [2, 5, 8, 11, 14, 17]);
    assert_eq!((m.shard, m.shards, m.tasks_total, m.points, m.seeds, m.seed), (2, 3, 20, 5, 2, 5));
    assert_eq!(m.portsim_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(m.scenario_hash.len(), 64);
    assert_eq!(m.grid[0].values, ["4", "6", "8", "10", "12"]);
    assert_eq!(m.strategies, ["bsd", "random-pick"]);
    // Task 11 is point 2 (rate 8), strategy 1 (random-pick), seed 5 + 1.
    let r = &f.runs[3];
    assert_eq!((r.task, r.point, r.strategy, r.seed), (11, 2, 1, 6));
    assert!(r.attempted > 0);
    // The same shard on one thread is the same file.
    sweep(dir.path(), &["--shard", "2/3", "--threads", "1", "--out", "s1"]);
    assert!(
        std::fs::read(dir.path().join("s/shard-2-of-3.json")).unwrap()
            == std::fs::read(dir.path().join("s1/shard-2-of-3.json")).unwrap()
    );
    // Nothing but the shard file is written, and the marker that lets `merge` publish the
    // merged sweep over this folder later.
    let mut names: Vec<_> =
        std::fs::read_dir(dir.path().join("s")).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names, [".portsim-output", "shard-2-of-3.json"]);
}

fn stderr_of(c: &mut Command) -> String {
    let a = c.assert().code(2);
    String::from_utf8(a.get_output().stderr.clone()).unwrap()
}

/// Three shards of four run; the fourth is named, with the `--shard` to rerun.
#[test]
fn merge_refuses_missing_duplicate_and_foreign_shards_with_pinned_messages() {
    let dir = tempfile::tempdir().unwrap();
    scenario(dir.path());
    for k in [0, 2] {
        sweep(dir.path(), &["--shard", &format!("{k}/4"), "--out", "s"]);
    }
    assert_eq!(
        stderr_of(portsim().current_dir(dir.path()).args(["merge", "s"])),
        "error: missing 2 of 4 shards: shard-1-of-4.json and shard-3-of-4.json; run them again with --shard 1/4 and --shard 3/4, then merge\n"
    );
    assert!(!dir.path().join("s/sweep.csv").exists(), "nothing is written");
    std::fs::copy(dir.path().join("s/shard-0-of-4.json"), dir.path().join("copy.json")).unwrap();
    assert_eq!(
        stderr_of(portsim().current_dir(dir.path()).args(["merge", "s/shard-0-of-4.json", "copy.json"])),
        "error: shard 0/4 is given twice: s/shard-0-of-4.json and copy.json\n"
    );
    // Another grid: another scenario hash.
    portsim()
        .current_dir(dir.path())
        .args(["sweep", "tiny.toml", "--vary", "workload.arrivals.rate=4..12:3", "--seeds", SEEDS])
        .args(["--shard", "1/4", "--out", "s"])
        .assert()
        .success();
    assert_eq!(
        stderr_of(portsim().current_dir(dir.path()).args(["merge", "s"])),
        "error: s/shard-1-of-4.json: it was run from another scenario (the scenario file, a --vary or --only differ): its manifest's `scenario_hash` differs from s/shard-0-of-4.json's; merge the shards of one sweep only\n"
    );
    // Another shard count.
    sweep(dir.path(), &["--shard", "1/3", "--out", "t"]);
    assert_eq!(
        stderr_of(portsim().current_dir(dir.path()).args([
            "merge",
            "s/shard-0-of-4.json",
            "t/shard-1-of-3.json"
        ])),
        "error: t/shard-1-of-3.json: it was cut into another number of shards: its manifest's `shards` differs from s/shard-0-of-4.json's; merge the shards of one sweep only\n"
    );
    // Another portsim version.
    let text = std::fs::read_to_string(dir.path().join("s/shard-2-of-4.json")).unwrap();
    let old = text.replace(
        &format!("\"portsim_version\": \"{}\"", env!("CARGO_PKG_VERSION")),
        "\"portsim_version\": \"0.0.1\"",
    );
    assert_ne!(old, text);
    std::fs::write(dir.path().join("old.json"), old).unwrap();
    assert_eq!(
        stderr_of(portsim().current_dir(dir.path()).args(["merge", "old.json"])),
        format!(
            "error: old.json: written by portsim 0.0.1, this is portsim {}: run the shards and the merge with one version\n",
            env!("CARGO_PKG_VERSION")
        )
    );
    std::fs::write(dir.path().join("other.json"), "{\"manifest\": {}}").unwrap();
    assert_eq!(
        stderr_of(portsim().current_dir(dir.path()).args(["merge", "other.json"])),
        "error: other.json: not a portsim shard file (no \"manifest\" with \"format\": \"portsim-sweep-shard\")\n"
    );
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    assert_eq!(
        stderr_of(portsim().current_dir(dir.path()).args(["merge", "empty"])),
        "error: empty: no shard-K-of-N.json files in this folder\n"
    );
    assert_eq!(
        stderr_of(portsim().current_dir(dir.path()).args(["merge", "nowhere"])),
        "error: nowhere: no such file or folder\n"
    );
}

#[test]
fn bad_shard_values_are_pinned_errors() {
    let dir = tempfile::tempdir().unwrap();
    scenario(dir.path());
    for (arg, message) in [
        ("4/4", "--shard 4/4: K counts from 0, so it must be 0 to 3 for 4 shards"),
        ("1/0", "--shard 1/0: N must be 1 to 100000 shards"),
        ("2", "--shard 2: write K/N (shard K of N, K counted from 0: 0/4 to 3/4) or auto"),
        ("a/4", "--shard a/4: `a` is not a whole number"),
    ] {
        let err = stderr_of(portsim().current_dir(dir.path()).args([
            "sweep",
            "tiny.toml",
            "--vary",
            VARY,
            "--shard",
            arg,
            "--out",
            "x",
        ]));
        assert_eq!(err, format!("error: {message}\n"), "--shard {arg}");
    }
    assert!(!dir.path().join("x").exists());
}

/// `--shard auto` with none of the variables set fails at once, before any run.
#[test]
fn shard_auto_with_no_batch_variables_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    scenario(dir.path());
    let err = stderr_of(portsim().current_dir(dir.path()).args([
        "sweep",
        "tiny.toml",
        "--vary",
        VARY,
        "--shard",
        "auto",
        "--out",
        "x",
    ]));
    assert_eq!(
        err,
        "error: --shard auto: none of SLURM_ARRAY_TASK_ID (a Slurm job array), JOB_COMPLETION_INDEX (a Kubernetes Indexed Job, with PORTSIM_SHARDS) or PORTSIM_SHARD=K/N is set\n"
    );
    assert!(!dir.path().join("x").exists());
}

/// What each batch system sets, as the binary sees it: a Slurm array `--array=4-7`, a Kubernetes
/// Indexed Job of 3 completions (docs/cluster.md's manifest sets PORTSIM_SHARDS to its
/// `completions`), and GNU parallel's `PORTSIM_SHARD`.
#[test]
fn shard_auto_reads_slurm_kubernetes_and_portsim_variables() {
    let dir = tempfile::tempdir().unwrap();
    scenario(dir.path());
    let cases: [(&[(&str, &str)], &str); 3] = [
        (
            &[
                ("SLURM_ARRAY_TASK_ID", "5"),
                ("SLURM_ARRAY_TASK_COUNT", "4"),
                ("SLURM_ARRAY_TASK_MIN", "4"),
                ("SLURM_ARRAY_TASK_MAX", "7"),
            ],
            "shard-1-of-4.json",
        ),
        (&[("JOB_COMPLETION_INDEX", "2"), ("PORTSIM_SHARDS", "3")], "shard-2-of-3.json"),
        (&[("PORTSIM_SHARD", "0/2")], "shard-0-of-2.json"),
    ];
    for (i, (env, file)) in cases.iter().enumerate() {
        let out = format!("auto{i}");
        let mut c = portsim();
        c.current_dir(dir.path()).args([
            "sweep",
            "tiny.toml",
            "--vary",
            VARY,
            "--shard",
            "auto",
            "--out",
            &out,
        ]);
        for (k, v) in *env {
            c.env(k, v);
        }
        c.assert().success();
        let names: Vec<_> = std::fs::read_dir(dir.path().join(&out))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != ".portsim-output")
            .collect();
        assert_eq!(names, [file.to_string()], "{env:?}");
    }
}

/// The variable contract itself, case by case.
#[test]
fn shard_auto_variable_contract() {
    let from = |vars: &[(&str, &str)]| {
        let map: BTreeMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Shard::from_env(&|k| map.get(k).cloned()).map_err(|e| e.to_string())
    };
    let ok = |k, n| Ok(Shard { k, n });
    // Slurm: the task id less the array's first id; a stepped array divides by the step.
    assert_eq!(
        from(&[("SLURM_ARRAY_TASK_ID", "0"), ("SLURM_ARRAY_TASK_COUNT", "4"), ("SLURM_ARRAY_TASK_MIN", "0")]),
        ok(0, 4)
    );
    assert_eq!(
        from(&[
            ("SLURM_ARRAY_TASK_ID", "13"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_MIN", "10")
        ]),
        ok(3, 4)
    );
    assert_eq!(
        from(&[
            ("SLURM_ARRAY_TASK_ID", "4"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_STEP", "2")
        ]),
        ok(2, 3)
    );
    assert_eq!(
        from(&[("SLURM_ARRAY_TASK_ID", "3")]),
        Err("--shard auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not (Slurm 20.11 or later sets both)".into())
    );
    // `--array=1,5,9`: ids that are not one evenly spaced run.
    assert_eq!(
        from(&[("SLURM_ARRAY_TASK_ID", "9"), ("SLURM_ARRAY_TASK_COUNT", "3"), ("SLURM_ARRAY_TASK_MIN", "1")]),
        Err("--shard auto: SLURM array task 9 is not one of 3 evenly spaced tasks from SLURM_ARRAY_TASK_MIN=1: submit the array as --array=0-2, or set PORTSIM_SHARDS to the number of shards to use the task id as the shard".into())
    );
    // Rerunning shards 1 and 3 of 4 as `--array=1,3` with PORTSIM_SHARDS=4.
    assert_eq!(
        from(&[
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_COUNT", "2"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("PORTSIM_SHARDS", "4")
        ]),
        ok(3, 4)
    );
    // Kubernetes: the completion index, N from PORTSIM_SHARDS.
    assert_eq!(from(&[("JOB_COMPLETION_INDEX", "6"), ("PORTSIM_SHARDS", "7")]), ok(6, 7));
    assert_eq!(
        from(&[("JOB_COMPLETION_INDEX", "6")]),
        Err("--shard auto: JOB_COMPLETION_INDEX is set but PORTSIM_SHARDS is not: an Indexed Job has no variable for its completions, so set PORTSIM_SHARDS to the same number".into())
    );
    assert_eq!(
        from(&[("JOB_COMPLETION_INDEX", "7"), ("PORTSIM_SHARDS", "7")]),
        Err("--shard auto: JOB_COMPLETION_INDEX/PORTSIM_SHARDS 7/7: K counts from 0, so it must be 0 to 6 for 7 shards".into())
    );
    assert_eq!(from(&[("PORTSIM_SHARD", "1/2")]), ok(1, 2));
    assert_eq!(
        from(&[("PORTSIM_SHARD", "1-2")]),
        Err(
            "--shard auto: PORTSIM_SHARD 1-2: write K/N (shard K of N, K counted from 0: 0/4 to 3/4) or auto"
                .into()
        )
    );
    // Two sources that agree are fine; two that disagree are a mis-set job.
    assert_eq!(
        from(&[("JOB_COMPLETION_INDEX", "1"), ("PORTSIM_SHARDS", "2"), ("PORTSIM_SHARD", "1/2")]),
        ok(1, 2)
    );
    assert_eq!(
        from(&[("SLURM_ARRAY_TASK_ID", "1"), ("SLURM_ARRAY_TASK_COUNT", "4"), ("PORTSIM_SHARD", "2/4")]),
        Err("--shard auto: SLURM_ARRAY_TASK_ID says shard 1/4 but PORTSIM_SHARD says 2/4: unset one".into())
    );
    // Empty variables count as unset.
    assert!(from(&[("PORTSIM_SHARD", "")]).unwrap_err().contains("none of"));
}

/// GNU parallel runs the four shards on the local cores (`parallel --joblog`), then merge. Skips
/// where GNU parallel is not installed (`.ci/run` installs it).
#[test]
fn gnu_parallel_runs_the_shards_and_merge_gives_the_unsharded_sweep() {
    let has_parallel =
        std::process::Command::new("parallel").arg("--version").output().is_ok_and(|o| o.status.success());
    if !has_parallel {
        eprintln!(
            "SKIPPED gnu_parallel_runs_the_shards: GNU parallel is not installed (apt-get install parallel)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    scenario(dir.path());
    sweep(dir.path(), &["--out", "full"]);
    let bin = assert_cmd::cargo::cargo_bin("portsim");
    let mut cmd = std::process::Command::new("parallel");
    cmd.current_dir(dir.path())
        .args(["--will-cite", "--halt", "now,fail=1", "--jobs", "2", "--joblog", "jobs.log"])
        .arg(format!(
            "{} sweep tiny.toml --vary {VARY} --seeds {SEEDS} --threads 1 --shard {{}}/4 --out shards",
            bin.display()
        ))
        .args([":::", "3", "1", "0", "2"]);
    for v in SHARD_VARS {
        cmd.env_remove(v);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "parallel: {}", String::from_utf8_lossy(&out.stderr));
    // The joblog: a header and one line per shard, each with exit value 0 (the 7th column).
    let log = std::fs::read_to_string(dir.path().join("jobs.log")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 5, "{log}");
    assert!(lines[0].starts_with("Seq\tHost\tStarttime"), "{log}");
    assert!(lines[1..].iter().all(|l| l.split('\t').nth(6) == Some("0")), "{log}");
    portsim().current_dir(dir.path()).args(["merge", "shards"]).assert().success();
    assert_same_outputs(&dir.path().join("full"), &dir.path().join("shards"), "GNU parallel");
}

/// The invariant as a property, through the library: any N from 1 to 7, shards run in any
/// order on 1 to 4 threads, each written to JSON and read back, merge into the unsharded
/// sweep's `sweep.csv` and `sweep.json`.
fn plan() -> Plan {
    Plan::new(
        tiny_text(),
        "tiny.toml".into(),
        PathBuf::from("."),
        vec!["workload.arrivals.rate=4..12:3".into(), "tcp.time_wait=5s,10s".into()],
        vec![],
        2,
    )
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, .. ProptestConfig::default() })]
    #[test]
    fn shards_in_any_order_on_any_threads_merge_to_the_sweep(
        n in 1usize..=7,
        order_key in any::<u64>(),
        threads in prop::collection::vec(1usize..=4, 7),
    ) {
        let plan = plan();
        let all = plan.tasks();
        let pool = |t: usize| rayon::ThreadPoolBuilder::new().num_threads(t).build().unwrap();
        let every: Vec<usize> = (0..all.len()).collect();
        let (whole, _) = run_tasks(&pool(2), &plan.points, &all, &every, &|_| {});
        let unsharded = plan.clone().into_result(&whole, false);
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|k| (*k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ order_key);
        let mut files = Vec::new();
        let mut paths = Vec::new();
        for (i, &k) in order.iter().enumerate() {
            let s = Shard { k, n };
            let (results, _) = run_tasks(&pool(threads[i]), &plan.points, &all, &s.task_indices(all.len()), &|_| {});
            let f = ShardFile::of(&plan, s, &all, &results).unwrap();
            let back: ShardFile = serde_json::from_str(&serde_json::to_string_pretty(&f).unwrap()).unwrap();
            prop_assert_eq!(&back, &f);
            files.push(back);
            paths.push(PathBuf::from(s.file_name()));
        }
        let (_, merged) = merge(&paths, &files).unwrap();
        prop_assert_eq!(sweep_csv(&merged).unwrap(), sweep_csv(&unsharded).unwrap());
        prop_assert_eq!(sweep_json(&merged).to_string(), sweep_json(&unsharded).to_string());
    }
}

/// `publish` is the one writer: a merged result written through it is the sweep's own files.
#[test]
fn publish_writes_the_merged_result_like_the_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan();
    let all = plan.tasks();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let every: Vec<usize> = (0..all.len()).collect();
    let (results, _) = run_tasks(&pool, &plan.points, &all, &every, &|_| {});
    publish(&dir.path().join("a"), &plan.clone().into_result(&results, false), &plan.text, None).unwrap();
    let s = Shard { k: 0, n: 1 };
    let f = ShardFile::of(&plan, s, &all, &results).unwrap();
    let (text, merged) = merge(&[PathBuf::from(s.file_name())], &[f]).unwrap();
    assert_eq!(text, plan.text);
    publish(&dir.path().join("b"), &merged, &text, None).unwrap();
    assert_eq!(files(&dir.path().join("a")), files(&dir.path().join("b")));
}

/// A shard stopped by Ctrl-C writes nothing (half a shard is of no use to merge) and says
/// which `--shard` to run again.
#[test]
fn ctrl_c_leaves_no_half_shard() {
    let dir = tempfile::tempdir().unwrap();
    scenario(dir.path());
    // 300 points x 2 strategies x 30 seeds, half of them: several seconds of work.
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("portsim"));
    for v in SHARD_VARS {
        c.env_remove(v);
    }
    let mut child = c
        .current_dir(dir.path())
        .args(["sweep", "tiny.toml", "--vary", "workload.arrivals.rate=1..30:300", "--seeds", "30"])
        .args(["--threads", "2", "--shard", "0/2", "--out", "s"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let killed = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    if status.success() {
        // The machine finished the shard within a second: nothing was left to interrupt.
        return;
    }
    assert_eq!(status.code(), Some(130), "Ctrl-C exits 130");
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(stderr, "interrupted: shard 0/2 not written; run `--shard 0/2` again\n");
    assert!(!dir.path().join("s").exists(), "no shard file, no temporary file");
}
