//! `portsim sweep`: the grid, the files, the closed forms beside the simulation, determinism
//! whatever the thread count, Ctrl-C, and every bad-input message.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn portsim() -> Command {
    Command::cargo_bin("portsim").expect("the portsim binary is built for the tests")
}

/// The shared tiny scenario ([`crate::support::tiny_scenario`]), 5m with 30s of warm-up.
fn tiny_text() -> String {
    crate::support::tiny_scenario("5m", "30s")
}

fn scenario(dir: &Path) -> PathBuf {
    let path = dir.join("tiny.toml");
    std::fs::write(&path, tiny_text()).unwrap();
    path
}

fn csv_rows(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            headers.iter().zip(rec.unwrap().iter()).map(|(h, v)| (h.to_string(), v.to_string())).collect()
        })
        .collect()
}

#[test]
fn sweep_over_the_rate_follows_erlang_b() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let assert = portsim()
        .arg("sweep")
        .arg(scenario(dir.path()))
        .args(["--vary", "workload.arrivals.rate=6..14:3", "--out"])
        .arg(&out)
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    assert!(stdout.contains("Erlang-B") && stdout.contains("random-pick"), "{stdout}");
    let rows = csv_rows(&out.join("sweep.csv"));
    assert_eq!(rows.len(), 3 * 2, "3 points x 2 strategies");
    assert_eq!(rows[0]["workload.arrivals.rate"], "6");
    assert_eq!(rows[5]["workload.arrivals.rate"], "14");
    for r in &rows {
        let sim: f64 = r["failed_fraction"].parse().unwrap();
        let erlang: f64 = r["closed_form_blocking"].parse().unwrap();
        // Erlang-B holds for any strategy that finds a free port when there is one; random-pick
        // may give up a little more often. 5 minutes of a 100-port pool: a few percent noise.
        assert!(
            (sim - erlang).abs() < 0.03 + 0.15 * erlang,
            "{}: simulated {sim}, Erlang-B {erlang}",
            r["strategy"]
        );
        let ceiling: f64 = r["closed_form_ceiling_rate"].parse().unwrap();
        assert!((ceiling - 100.0 / 10.1).abs() < 1e-9);
    }
    let rp: Vec<_> = rows.iter().filter(|r| r["strategy"] == "random-pick").collect();
    assert!(!rp[0]["closed_form_random_pick_candidates"].is_empty());
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(json["complete"], true);
    assert_eq!(json["points"].as_array().unwrap().len(), 3);
    for name in ["failure_fraction", "mean_candidates"] {
        for ext in ["svg", "png"] {
            assert!(out.join("charts").join(format!("{name}.{ext}")).exists(), "{name}.{ext}");
        }
    }
}

#[test]
fn same_seed_same_files_whatever_the_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(dir.path());
    let mut outs = Vec::new();
    for threads in ["1", "2"] {
        let out = dir.path().join(format!("t{threads}"));
        portsim()
            .arg("sweep")
            .arg(&s)
            .args([
                "--vary",
                "workload.arrivals.rate=4,8",
                "--vary",
                "tcp.time_wait=5s..10s:2",
                "--seeds",
                "2",
            ])
            .args(["--threads", threads, "--no-charts", "--out"])
            .arg(&out)
            .assert()
            .success();
        outs.push(out);
    }
    for f in ["sweep.csv", "sweep.json"] {
        assert!(
            std::fs::read(outs[0].join(f)).unwrap() == std::fs::read(outs[1].join(f)).unwrap(),
            "{f} differs"
        );
    }
    let rows = csv_rows(&outs[0].join("sweep.csv"));
    assert_eq!(rows.len(), 2 * 2 * 2, "Cartesian product: 2 rates x 2 TIME_WAITs x 2 strategies");
    assert_eq!(rows[0]["tcp.time_wait_s"], "5.0");
    assert_eq!(rows[2]["tcp.time_wait_s"], "10.0");
    assert!(rows.iter().all(|r| r["seeds"] == "2" && !r["mean_candidates_ci95"].is_empty()));
}

#[test]
fn several_keys_draw_one_pair_of_charts_per_combination() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    portsim()
        .arg("sweep")
        .arg(scenario(dir.path()))
        .args(["--vary", "workload.arrivals.rate=4..12:3", "--vary", "tcp.time_wait=5s,10s", "--out"])
        .arg(&out)
        .assert()
        .success();
    for facet in ["time_wait_5s", "time_wait_10s"] {
        assert!(out.join(format!("charts/failure_fraction-{facet}.png")).exists(), "{facet}");
        assert!(out.join(format!("charts/mean_candidates-{facet}.svg")).exists(), "{facet}");
    }
}

#[test]
fn default_output_folder_is_named_after_the_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(dir.path());
    portsim()
        .current_dir(dir.path())
        .arg("sweep")
        .arg(&s)
        .args(["--vary", "workload.arrivals.rate=3,4", "--no-charts"])
        .assert()
        .success();
    assert!(dir.path().join("output/tiny-sweep/sweep.csv").exists());
}

#[test]
fn bad_input_is_a_clear_error_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(dir.path());
    let cases: &[(&[&str], &str)] = &[
        (&["--vary", "workload.arrivals.rate"], "write KEY=FROM..TO:STEPS"),
        (&["--vary", "workload.arrivals.rate=1..5"], "say how many points"),
        (&["--vary", "workload.arrivals.rate=1..5:0"], "STEPS must be 1 to"),
        (&["--vary", "workload.arrivals.rate=fast..slow:3"], "both be numbers"),
        (&["--vary", "workload.arrivals.rate=-5..5:3"], "workload.arrivals.rate: must be greater than 0"),
        (&["--vary", "workload.arrivals.rat=1,2"], "unknown key `rat`"),
        (&["--vary", "tcp.time_wait=soon,later"], "tcp.time_wait"),
        (&["--vary", "workload.arrivals.rate=1,2", "--vary", "workload.arrivals.rate=3,4"], "swept twice"),
        (&["--vary", "workload.arrivals.rate=1,2", "--seeds", "0"], "--seeds 0"),
        (&["--vary", "workload.arrivals.rate=1,2", "--only", "linux"], "no strategy `linux`"),
    ];
    for (args, message) in cases {
        let assert =
            portsim().arg("sweep").arg(&s).args(*args).args(["--out", "/nonexistent/never"]).assert().code(2);
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        assert!(stderr.starts_with("error: ") && stderr.contains(message), "{args:?}: {stderr}");
    }
    let assert =
        portsim().args(["sweep", "no-such.toml", "--vary", "workload.arrivals.rate=1,2"]).assert().code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(stderr.contains("no-such.toml") && stderr.contains("cannot read"), "{stderr}");
    // --vary is required.
    portsim().arg("sweep").arg(&s).assert().code(2);
}

#[test]
fn ctrl_c_keeps_the_finished_points() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(dir.path());
    let out = dir.path().join("out");
    // 300 points x 2 strategies x 10 seeds of about 1 ms each: several seconds in all.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("portsim"))
        .arg("sweep")
        .arg(&s)
        .args([
            "--vary",
            "workload.arrivals.rate=1..30:300",
            "--seeds",
            "10",
            "--no-charts",
            "--threads",
            "2",
            "--out",
        ])
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let killed = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    if status.success() {
        // The machine finished every point within a second: nothing was left to interrupt.
        return;
    }
    assert_eq!(status.code(), Some(130), "Ctrl-C exits 130");
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("interrupted"), "{stderr}");
    if out.join("sweep.csv").exists() {
        let rows = csv_rows(&out.join("sweep.csv"));
        assert!(!rows.is_empty() && rows.len() < 600, "{} rows", rows.len());
        assert_eq!(rows.len() % 2, 0, "whole points only: every strategy of a point, or none");
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("sweep.json")).unwrap()).unwrap();
        assert_eq!(json["complete"], false);
        assert_eq!(json["points_total"], 300);
    } else {
        assert!(stderr.contains("nothing written"), "{stderr}");
    }
}

/// A point too short for its hold (TIME_WAIT 10 s, no warm-up to speak of, 50 s long: under
/// 10 holds) is flagged in sweep.csv, the table and the charts; a long one is not.
#[test]
fn points_that_never_left_their_transient_are_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let assert = portsim()
        .arg("sweep")
        .arg(scenario(dir.path()))
        .args(["--vary", "duration=50s,10m", "--vary", "warmup=1s", "--only", "bsd", "--out"])
        .arg(&out)
        .assert()
        .success();
    let stdout = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    let rows = csv_rows(&out.join("sweep.csv"));
    let steady: Vec<&str> = rows.iter().map(|r| r["steady_state"].as_str()).collect();
    assert_eq!(steady, ["false", "true"], "{rows:?}");
    assert!(stdout.contains("~ not at steady state in 1 of 2 rows"), "{stdout}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(json["points"][0]["strategies"][0]["steady_state"], false);
    let svg = std::fs::read_to_string(out.join("charts/failure_fraction-warmup_1s.svg")).unwrap();
    assert!(svg.contains("not at steady state"), "the chart says so");
}
