//! Memory and work known before a run: refused with the key and the figure, never an abort or a
//! run that looks hung; the connection log kept on disk with the same bytes; progress on
//! simulated time when stderr is piped.

use assert_cmd::Command;
use portsim::budget;
use portsim::sim::{self, DestinationTable, RunOptions};
use std::path::Path;

fn portsim() -> Command {
    Command::cargo_bin("portsim").expect("the portsim binary is built for the tests")
}

/// 1e5 connections a second for ten hours, closed by the server (no TIME_WAIT here): 3.6e9
/// attempts, some three hours of CPU.
const LONG: &str = r#"
name = "long"
duration = "10h"
[tcp]
active_close = "server"
[[destinations]]
addr = "192.0.2.1:443"
[workload]
arrivals = { process = "poisson", rate = 100000.0 }
lifetime = { dist = "constant", value = "1ms" }
[[strategies]]
name = "random-pick"
"#;

#[test]
fn every_shipped_scenario_is_within_both_budgets() {
    for dir in ["scenarios", "benches/scenarios"] {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_none_or(|x| x != "toml") {
                continue;
            }
            let s = portsim::scenario::load(&p).unwrap();
            let m = budget::check_memory(&s, 1).unwrap();
            let w = budget::check_work(&s, 1, false).unwrap_or_else(|e| panic!("{e}"));
            assert!(m.total() < 1 << 30, "{}: {}", p.display(), budget::format_bytes(m.total()));
            assert!(w.cpu_s() > 0.0);
        }
    }
}

#[test]
fn a_long_run_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.toml");
    std::fs::write(&path, LONG).unwrap();
    let p = path.display().to_string();
    let out = portsim().args(["run", &p, "--out"]).arg(dir.path().join("o")).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let want = format!(
        "error: {p}: workload.arrivals, duration: the run would take about 3.1 h of CPU (1.08e10 events, \
         3.61e9 candidate ports examined, up to 28232 per attempt), more than the budget of 60 min: lower \
         the rate or the duration, or pass --allow-long\n"
    );
    assert_eq!(stderr, want);
    assert!(!dir.path().join("o").exists());
    // `check` accepts it, and says `run` will not without --allow-long.
    let out = portsim().args(["check", &p]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), want.replacen("error: ", "warning: ", 1));
    let s = portsim::scenario::load(&path).unwrap();
    assert!(budget::check_work(&s, 1, true).is_ok());
    // A sweep of it too.
    let out = portsim()
        .args(["sweep", &p, "--vary", "workload.arrivals.rate=1000,100000", "--out"])
        .arg(dir.path().join("s"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("or pass --allow-long"));
}

#[test]
fn failing_attempts_cost_the_range_times_the_fallback_addresses() {
    // 256 addresses tried in turn, 28,232 ports each: 7.2 M candidates a failing attempt.
    let addrs: Vec<String> = (1..=256).map(|i| format!("\"10.0.{}.{}\"", i / 256, i % 256)).collect();
    let text = format!(
        "name = \"f\"\nduration = \"10m\"\n[host]\naddrs = [{}]\naddr_choice = \"fallback\"\n\
         [[destinations]]\naddr = \"192.0.2.1:443\"\n[workload]\narrivals = {{ process = \"poisson\", rate = 20000.0 }}\n\
         lifetime = {{ dist = \"constant\", value = \"10m\" }}\n[[strategies]]\nname = \"random-start\"\n",
        addrs.join(", ")
    );
    let s = portsim::scenario::parse(&text, "f.toml", Path::new(".")).unwrap();
    let w = budget::work(&s, 1);
    assert_eq!(w.max_candidates_per_attempt, 256 * 28232);
    assert!(budget::check_work(&s, 1, false).unwrap_err().to_string().contains("up to 7227392 per attempt"));
}

#[test]
fn sweeps_are_bounded_before_anything_is_built() {
    let started = std::time::Instant::now();
    let out = portsim()
        .args(["sweep", "scenarios/sweep-rate.toml", "--vary", "workload.arrivals.rate=100..200:10000"])
        .args(["--vary", "tcp.time_wait=1s..60s:10000", "--out", "target/never-written"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: --vary: the grid has 100000000 points (workload.arrivals.rate (10000) x tcp.time_wait (10000)): at most 100000\n"
    );
    let out = portsim()
        .args(["sweep", "scenarios/sweep-rate.toml", "--vary", "workload.arrivals.rate=100..200:10000"])
        .args(["--seeds", "200", "--out", "target/never-written"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: --vary, --seeds: the sweep would make 6000000 runs (10000 points x 3 strategies x 200 seeds): at most 1000000\n"
    );
    assert!(started.elapsed().as_secs() < 60);
    assert!(!Path::new("target/never-written").exists());
}

#[test]
fn threads_are_bounded_for_predict_too() {
    let out = portsim()
        .args([
            "predict",
            "scenarios/predictability.toml",
            "--threads",
            "2000",
            "--out",
            "target/never-written",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: --threads 2000: at most 1024 worker threads (results do not depend on it)\n"
    );
}

#[test]
fn the_spilled_connection_log_writes_the_same_bytes() {
    let s = portsim::scenario::load(Path::new("scenarios/quickstart.toml")).unwrap();
    let dests = DestinationTable::of(&s);
    let kept = sim::run_all(&s, s.seed, RunOptions { log_connections: true, ..Default::default() });
    let dir = tempfile::tempdir().unwrap();
    let spilled = sim::run_all(
        &s,
        s.seed,
        RunOptions { log_connections: true, spill_log_in: Some(dir.path()), ..Default::default() },
    );
    assert!(spilled.iter().all(|o| o.log.is_spilled() && !o.log.is_empty()));
    assert_eq!(
        spilled.iter().map(|o| o.log.len()).collect::<Vec<_>>(),
        kept.iter().map(|o| o.log.len()).collect::<Vec<_>>()
    );
    let want = portsim::report::connections_csv(&s, &kept, &dests).unwrap();
    assert!(want.len() > 1_000_000);
    let mut got = Vec::new();
    portsim::report::write_connections_csv(&mut got, &s, &spilled, &dests).unwrap();
    assert!(got == want, "spilled and in-memory connections.csv differ");
    // The binary writes the same file.
    let out = dir.path().join("run");
    let ok = portsim()
        .args(["run", "scenarios/quickstart.toml", "--no-charts", "--log-connections", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(ok.status.success());
    assert!(std::fs::read(out.join("connections.csv")).unwrap() == want);
    // Nothing but the run folder is left beside it: the spill file was never linked.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into())
        .collect();
    assert_eq!(names, vec!["run".to_string()]);
}

#[test]
fn a_piped_run_prints_progress_on_simulated_time() {
    let out = portsim()
        .args(["run", "scenarios/quickstart.toml", "--no-charts", "--threads", "1", "--out"])
        .arg(tempfile::tempdir().unwrap().path().join("q"))
        .env("PORTSIM_PROGRESS_SECS", "0")
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("portsim: quickstart: ")).collect();
    assert!(lines.len() >= 10, "{stderr}");
    let percent =
        |l: &str| -> u32 { l.split(": ").nth(2).unwrap().split('%').next().unwrap().parse().unwrap() };
    assert!(lines.windows(2).all(|w| percent(w[0]) <= percent(w[1])), "{stderr}");
    assert_eq!(percent(lines.last().unwrap()), 100);
    assert!(lines.iter().all(|l| l.contains("% simulated, ") && l.contains(" elapsed, eta ")));
    // With the default interval a short run prints none.
    let quiet = portsim()
        .args(["run", "scenarios/quickstart.toml", "--no-charts", "--out"])
        .arg(tempfile::tempdir().unwrap().path().join("q"))
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("% simulated"));
}
