//! What a run leaves on disk and on stdout when used from a shell: a closed pipe, a reused
//! `--out`, scenarios sharing a name, `--json` over several scenarios, aliases in `--only`.

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use std::process::Stdio;

fn portsim() -> Command {
    Command::cargo_bin("portsim").expect("the portsim binary is built for the tests")
}

/// A scenario that runs in milliseconds.
pub fn tiny(dir: &Path, file: &str, name: &str) -> PathBuf {
    let path = dir.join(file);
    std::fs::write(
        &path,
        format!(
            "name = \"{name}\"\nduration = \"20s\"\nseed = 5\n[ports]\nrange = \"20000-20099\"\n[tcp]\ntime_wait = \"5s\"\n\
             [[destinations]]\naddr = \"192.0.2.1:443\"\n[workload]\n\
             arrivals = {{ process = \"poisson\", rate = 25.0 }}\nlifetime = {{ dist = \"constant\", value = \"1s\" }}\n\
             [[strategies]]\nname = \"bsd\"\n[[strategies]]\nname = \"random-pick\"\n"
        ),
    )
    .unwrap();
    path
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_closed_stdout_ends_printing_quietly_and_every_file_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let a = tiny(dir.path(), "a.toml", "a");
    let b = tiny(dir.path(), "b.toml", "b");
    let out = dir.path().join("out");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("portsim"))
        .arg("run")
        .arg(&a)
        .arg(&b)
        .arg("--no-charts")
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before anything is printed, as `| head -0` would.
    drop(child.stdout.take());
    let done = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{stderr}");
    for s in ["a", "b"] {
        assert!(out.join(s).join("summary.json").is_file(), "{s}'s files are written");
    }
}

#[test]
fn a_second_run_replaces_the_whole_folder() {
    let dir = tempfile::tempdir().unwrap();
    let a = tiny(dir.path(), "a.toml", "a");
    let out = dir.path().join("out");
    portsim().arg("run").arg(&a).arg("--log-connections").arg("--out").arg(&out).assert().success();
    assert!(out.join("report.html").is_file() && out.join("connections.csv").is_file());
    portsim().arg("run").arg(&a).arg("--no-charts").arg("--out").arg(&out).assert().success();
    assert_eq!(
        names_in(&out),
        [".portsim-output", "pools.csv", "port_usage.csv", "summary.csv", "summary.json", "timeseries.csv"],
        "only the second run's files"
    );
    // Nothing left beside it: no staging or old folder.
    assert_eq!(names_in(dir.path()), ["a.toml", "out"]);
}

#[test]
fn a_folder_portsim_did_not_write_is_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let a = tiny(dir.path(), "a.toml", "a");
    let mine = dir.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("notes.txt"), "keep me").unwrap();
    let out = portsim().arg("run").arg(&a).arg("--no-charts").arg("--out").arg(&mine).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        format!(
            "error: {} holds files portsim did not write: a run replaces its output folder whole, so choose another (or an empty) folder",
            mine.display()
        )
    );
    assert_eq!(names_in(&mine), ["notes.txt"]);
}

#[test]
fn two_scenarios_with_one_name_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let a = tiny(dir.path(), "a.toml", "same");
    let b = tiny(dir.path(), "b.toml", "same");
    let out = portsim().arg("run").arg(&a).arg(&b).arg("--out").arg(dir.path().join("o")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        format!(
            "error: {} and {} are both named `same`: their files would share {}/; give one a different `name`",
            a.display(),
            b.display(),
            dir.path().join("o").join("same").display()
        )
    );
    assert!(!dir.path().join("o").exists(), "nothing run, nothing written");
}

#[test]
fn json_over_several_scenarios_is_one_array() {
    let dir = tempfile::tempdir().unwrap();
    let a = tiny(dir.path(), "a.toml", "a");
    let b = tiny(dir.path(), "b.toml", "b");
    let out = portsim()
        .arg("run")
        .arg(&a)
        .arg(&b)
        .args(["--json", "--no-charts", "--out"])
        .arg(dir.path().join("o"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    let names: Vec<&str> =
        v.as_array().unwrap().iter().map(|d| d["scenario"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["a", "b"]);
    // One scenario: the summary object itself, as summary.json holds it.
    let out = portsim()
        .arg("run")
        .arg(&a)
        .args(["--json", "--no-charts", "--out"])
        .arg(dir.path().join("p"))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["scenario"]["name"], "a");
}

#[test]
fn only_takes_aliases() {
    let dir = tempfile::tempdir().unwrap();
    let a = tiny(dir.path(), "a.toml", "a");
    let out = portsim()
        .arg("run")
        .arg(&a)
        .args(["--json", "--no-charts", "--only", "alg2", "--out"])
        .arg(dir.path().join("o"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let labels: Vec<&str> =
        v["strategies"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(labels, ["random-pick"]);
}

#[test]
fn csvs_load_without_cleaning() {
    let dir = tempfile::tempdir().unwrap();
    let a = tiny(dir.path(), "a.toml", "a");
    let text = std::fs::read_to_string(&a).unwrap().replace("rate = 25.0", "rate = 10.0");
    std::fs::write(&a, text).unwrap();
    let out = dir.path().join("o");
    portsim()
        .arg("run")
        .arg(&a)
        .args(["--no-charts", "--log-connections", "--out"])
        .arg(&out)
        .assert()
        .success();
    let mut r = csv::Reader::from_path(out.join("summary.csv")).unwrap();
    let h = r.headers().unwrap().clone();
    assert_eq!(&h.iter().take(4).collect::<Vec<_>>(), &["scenario", "seed", "name", "strategy"]);
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    for row in &rows {
        assert_eq!((&row[0], &row[1]), ("a", "5"));
        // 100 ports, 10/s for 6 s of hold: nothing fails, and the fraction is still a float.
        assert_eq!(&row[col("failed_fraction")], "0.0");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let mut r = csv::Reader::from_path(out.join("connections.csv")).unwrap();
    let h = r.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    let mut reused = std::collections::HashMap::<String, u64>::new();
    for row in r.records() {
        let row = row.unwrap();
        let t: f64 = row[col("time_s")].parse().unwrap();
        let close: f64 = row[col("close_s")].parse().unwrap();
        assert_eq!(&row[col("lifetime_s")], "1.000000000");
        assert!((close - t - 1.0).abs() < 1e-9);
        if &row[col("reused")] == "true" {
            *reused.entry(row[col("strategy")].to_string()).or_default() += 1;
        }
    }
    // No warm-up: every reuse the log marks is one reuse.count counts.
    for s in json["strategies"].as_array().unwrap() {
        let name = s["name"].as_str().unwrap();
        assert_eq!(reused.get(name).copied().unwrap_or(0), s["reuse"]["count"].as_u64().unwrap(), "{name}");
        assert!(s["reuse"]["count"].as_u64().unwrap() > 0);
    }
}

#[test]
fn an_output_that_cannot_be_written_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let a = tiny(dir.path(), "a.toml", "a");
    std::fs::write(dir.path().join("file"), "").unwrap();
    let target = dir.path().join("file").join("out");
    let out = portsim().arg("run").arg(&a).arg("--no-charts").arg("--out").arg(&target).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with(&format!("error: cannot create {}: ", dir.path().join("file").display())),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn expect_takes_dotted_keys_and_prints_pass_and_fail() {
    let dir = tempfile::tempdir().unwrap();
    let a = tiny(dir.path(), "a.toml", "a");
    // 100 ports held 6 s each at 25/s: the range runs out after about 4 s.
    let text = std::fs::read_to_string(&a).unwrap()
        + "[expect]\n\"min_exhaustion.first_failure_s\" = 1\nmax_exhaustion.episodes.count = 1000000\n\
           \"warmup.attempts\" = 0\n[expect.bsd]\n\"max_exhaustion.first_failure_s\" = 0.5\n";
    std::fs::write(&a, text).unwrap();
    let out = portsim().arg("run").arg(&a).arg("--out").arg(dir.path().join("o")).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> =
        stderr.lines().filter(|l| l.starts_with("PASS ") || l.starts_with("FAIL ")).collect();
    assert_eq!(lines.len(), 3 * 2 + 1, "{stderr}");
    for s in ["bsd", "random-pick"] {
        assert!(
            stderr.contains(&format!(
                "PASS a: {s} warmup.attempts is 0, expected = 0 (expect.warmup.attempts)"
            )),
            "{stderr}"
        );
        assert!(stderr.contains(&format!("PASS a: {s} exhaustion.episodes.count is ")));
    }
    assert!(stderr.contains("(expect.max_exhaustion.episodes.count)"), "{stderr}");
    let fail = lines.iter().find(|l| l.starts_with("FAIL ")).unwrap();
    assert!(
        fail.starts_with("FAIL a: bsd exhaustion.first_failure_s is ")
            && fail.ends_with(", expected <= 0.5 (expect.bsd.max_exhaustion.first_failure_s)"),
        "{fail}"
    );
    let html = std::fs::read_to_string(dir.path().join("o").join("report.html")).unwrap();
    assert!(html.contains("6 of 7 assertions of <code>[expect]</code> hold."), "report lists them");
    assert!(html.contains("<strong>FAIL</strong> a: bsd exhaustion.first_failure_s is "));

    // A dotted key that is not in summary.json is refused when the scenario is read.
    let bad = std::fs::read_to_string(&a).unwrap().replace("\"warmup.attempts\"", "\"warmup.attempt\"");
    std::fs::write(&a, bad).unwrap();
    let out = portsim().arg("check").arg(&a).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("expect.warmup.attempt: `warmup.attempt` is not an expectation")
    );
}

#[test]
fn seeds_k_gives_means_with_95_percent_intervals() {
    let dir = tempfile::tempdir().unwrap();
    let a = tiny(dir.path(), "a.toml", "a");
    let out = portsim()
        .arg("run")
        .arg(&a)
        .args(["--seeds", "3", "--json", "--out"])
        .arg(dir.path().join("o"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let across = v["across_seeds"].as_array().unwrap();
    assert_eq!(across.len(), 2);
    // The same three runs, made one by one: the mean and Student's t half-width (t = 4.303).
    let s = portsim::scenario::load(&a).unwrap();
    let failed: Vec<Vec<f64>> = [5u64, 6, 7]
        .iter()
        .map(|&seed| {
            portsim::sim::run_all(&s, seed, portsim::sim::RunOptions::default())
                .iter()
                .map(|o| o.summary.connections.failed as f64)
                .collect()
        })
        .collect();
    for (i, st) in across.iter().enumerate() {
        assert_eq!(st["seeds"], serde_json::json!([5, 6, 7]));
        let e = st["metrics"].as_array().unwrap().iter().find(|m| m["key"] == "connections.failed").unwrap();
        let xs: Vec<f64> = failed.iter().map(|f| f[i]).collect();
        let mean = xs.iter().sum::<f64>() / 3.0;
        let sd = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 2.0).sqrt();
        assert!((e["mean"].as_f64().unwrap() - mean).abs() < 1e-9);
        assert!((e["ci95"].as_f64().unwrap() - 4.303 * sd / 3f64.sqrt()).abs() < 1e-9);
        assert_eq!(e["n"], 3);
    }
    // The files are the first seed's run, with the means beside it; the report shows them.
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("o/summary.json")).unwrap()).unwrap();
    assert_eq!(written["scenario"]["seed"], 5);
    assert_eq!(written["across_seeds"], v["across_seeds"]);
    let html = std::fs::read_to_string(dir.path().join("o/report.html")).unwrap();
    assert!(html.contains("<h2 id=\"seeds\">Over 3 seeds</h2>"));
    let table = portsim()
        .arg("run")
        .arg(&a)
        .args(["--seeds", "2", "--no-charts", "--out"])
        .arg(dir.path().join("p"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("means over 2 seeds (5, 6) with 95 % confidence half-widths"), "{text}");
    assert!(text.contains(" ± "), "{text}");
}
