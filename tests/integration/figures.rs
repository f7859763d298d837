//! Figures around the summary that a user reads off the outputs: the time series' peak, the
//! exhaustion episodes, the warm-up block, transients, number formats.

use portsim::scenario;
use portsim::sim::{self, RunOptions};

/// 100 ports, 30 s of TIME_WAIT: a 2 s burst at 500/s fills the range at once, then a trickle
/// of 1/s fails until the first TIME_WAITs end at about 30 s.
pub const BURST: &str = r#"
name = "burst"
seed = 2
duration = "60s"
[ports]
range = "20000-20099"
[tcp]
time_wait = "30s"
[[destinations]]
addr = "192.0.2.1:443"
[workload]
arrivals = { process = "on-off", rate = 500.0, on = "2s", off = "58s", off_rate = 1.0 }
lifetime = { dist = "constant", value = "1ms" }
[metrics]
sample_interval = "1s"
[[strategies]]
name = "bsd"
[[strategies]]
name = "random-pick"
"#;

fn parse(text: &str) -> scenario::Scenario {
    scenario::parse(text, "test.toml", std::path::Path::new(".")).expect("valid scenario")
}

#[test]
fn the_time_series_peak_stays_up_while_the_range_is_exhausted() {
    let s = parse(BURST);
    for run in sim::run_all(&s, s.seed, RunOptions::default()) {
        let mut exhausted_rows = 0;
        for r in &run.samples {
            // One destination: everything held at the row's end was held toward it.
            assert!(
                u64::from(r.peak_held_toward_one_destination) >= r.live + r.time_wait,
                "{} t={}: peak {} < live {} + TIME_WAIT {}",
                run.summary.name,
                r.t_s,
                r.peak_held_toward_one_destination,
                r.live,
                r.time_wait
            );
            if r.failed > 0 {
                exhausted_rows += 1;
                assert_eq!(r.peak_held_toward_one_destination, 100, "{} t={}", run.summary.name, r.t_s);
            }
        }
        assert!(exhausted_rows >= 15, "{}: {exhausted_rows} rows with failures", run.summary.name);
    }
}

#[test]
fn exhaustion_is_reported_as_episodes_and_a_warmup_failure_is_not_clamped() {
    let s = parse(&BURST.replace("seed = 2", "seed = 2\nwarmup = \"10s\""));
    for run in sim::run_all(&s, s.seed, RunOptions::default()) {
        let e = &run.summary.exhaustion;
        let name = &run.summary.name;
        // 100 ports at 500/s are full after 0.2 s: the first failure is then, in the warm-up.
        let first = e.first_failure_s.unwrap();
        assert!((0.19..0.3).contains(&first), "{name}: first failure {first}");
        assert!(e.first_failure_in_warmup);
        // One episode: from then until the first TIME_WAIT ends (30 s after the first close)
        // and the next attempt succeeds.
        assert_eq!(e.episodes.count, 1, "{name}: {:?}", e.episodes);
        let ep = e.episodes.list[0];
        assert!(ep.recovered && ep.in_warmup);
        assert_eq!(ep.start_s, first);
        assert!((30.0..34.0).contains(&ep.end_s), "{name}: recovered at {}", ep.end_s);
        assert!(ep.last_failure_s < ep.end_s && ep.last_failure_s > 29.0);
        assert_eq!(e.last_failure_s, Some(ep.last_failure_s));
        assert!((ep.duration_s - (ep.end_s - ep.start_s)).abs() < 1e-9);
        assert_eq!(
            (e.exhausted_s, e.episodes.total_s, e.episodes.longest_s),
            (ep.duration_s, ep.duration_s, ep.duration_s)
        );
        // Every failure of the run (the time series counts the warm-up too) is in it.
        let failed: u64 = run.samples.iter().map(|r| r.failed).sum();
        assert_eq!(ep.failures, failed);
    }
}

#[test]
fn a_run_that_ends_exhausted_has_an_open_episode() {
    // Past 30 s nothing frees up: cut the run at 20 s.
    let s = parse(&BURST.replace("duration = \"60s\"", "duration = \"20s\""));
    let run = &sim::run_all(&s, s.seed, RunOptions::default())[0];
    let e = &run.summary.exhaustion;
    assert!(!e.first_failure_in_warmup);
    assert_eq!(e.episodes.count, 1);
    let ep = e.episodes.list[0];
    assert!(!ep.recovered);
    assert_eq!(ep.end_s, 20.0);
    assert_eq!(run.summary.connections.failed, ep.failures);
}

fn portsim() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("portsim").expect("the portsim binary is built for the tests")
}

#[test]
fn capacity_prints_an_underflowed_blocking_as_zero() {
    let out = portsim()
        .args(["capacity", "--scope", "local-port", "--destinations", "10", "--rate", "300"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Erlang-B blocking   0 (below 1e-308) of attempts fail"), "{text}");
    assert!(!text.contains("e-324"), "{text}");
}

#[test]
fn csv_floats_are_shortest_round_trip_and_keep_their_type() {
    assert_eq!(portsim::report::csv_float(4.94e-324), "5e-324");
    assert_eq!(portsim::report::csv_float(0.0), "0.0");
    assert_eq!(portsim::report::csv_float(0.1 + 0.2), "0.30000000000000004");
    for x in [1.0 / 3.0, 1e-300, 6.02e23, 56.248960560] {
        assert_eq!(portsim::report::csv_float(x).parse::<f64>().unwrap(), x);
    }
}

#[test]
fn sweep_csv_has_seconds_for_durations_and_no_file_name_has_an_equals_sign() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.toml");
    std::fs::write(&path, BURST).unwrap();
    let out = dir.path().join("out");
    portsim()
        .arg("sweep")
        .arg(&path)
        .args(["--vary", "workload.arrivals.off_rate=1,2", "--vary", "tcp.time_wait=500ms,30s", "--out"])
        .arg(&out)
        .assert()
        .success();
    let mut r = csv::Reader::from_path(out.join("sweep.csv")).unwrap();
    let headers = r.headers().unwrap().clone();
    assert_eq!(&headers[1], "workload.arrivals.off_rate");
    assert_eq!(&headers[2], "tcp.time_wait_s");
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let mut waits = Vec::new();
    for rec in r.records() {
        let rec = rec.unwrap();
        waits.push(rec[2].to_string());
        for c in ["failed_fraction", "mean_candidates", "closed_form_blocking"] {
            let v = &rec[col(c)];
            if v.is_empty() {
                continue; // no closed form for on-off arrivals
            }
            assert!(v.contains('.') || v.contains('e'), "{c} = {v} is written as a float");
            assert!(v.len() < 30, "{c} = {v}");
        }
    }
    waits.dedup();
    assert_eq!(waits, ["0.5", "30.0", "0.5", "30.0"]);
    for e in walk(&out) {
        assert!(!e.contains('='), "{e}");
    }
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p.display().to_string());
    }
    out
}

#[test]
fn the_warmup_block_shows_double_hash_wrapping_its_counter() {
    let mut s = portsim::scenario::load(std::path::Path::new("scenarios/quickstart.toml")).unwrap();
    s.retain_strategies(&["double-hash".into(), "bsd".into()]).unwrap();
    let runs = sim::run_all(&s, s.seed, RunOptions::default());
    let dh = runs.iter().find(|r| r.summary.name == "double-hash").unwrap();
    let w = &dh.summary.warmup;
    // The warm-up (60 s at 200 conn/s) holds an attempt that scanned thousands of ports
    // (8,094 with this seed); no counted attempt needed a second candidate.
    assert_eq!(w.duration_s, 60.0);
    assert_eq!(w.attempts + dh.summary.connections.attempted, dh.summary.run.simulated_connections);
    assert!(w.max_probes > 1000, "{w:?}");
    assert_eq!(dh.summary.probes.max, 1);
    assert!(w.held_more);
    let table = portsim::report::render_table(&s, &runs);
    assert!(
        table.contains("note: ^ double-hash: the warm-up (first 1m) held more than the counted window"),
        "{table}"
    );
    let bsd = runs.iter().find(|r| r.summary.name == "bsd").unwrap();
    assert!(!bsd.summary.warmup.held_more, "{:?}", bsd.summary.warmup);
}

#[test]
fn a_run_still_in_its_transient_says_so() {
    // 60 s against a hold of 30 s (TIME_WAIT) + 1 ms, no warm-up: too short.
    let s = parse(BURST);
    let runs = sim::run_all(&s, s.seed, RunOptions::default());
    for r in &runs {
        let st = &r.summary.steady;
        assert!(st.too_short && !st.settled, "{st:?}");
        assert!((st.hold_s - 30.001).abs() < 1e-9);
    }
    let table = portsim::report::render_table(&s, &runs);
    assert!(
        table.contains(
            "note: ~ bsd, random-pick not at steady state: 1m is under 10 holds of 30.0 s (p99 lifetime + TIME_WAIT) and the warm-up under one"
        ),
        "{table}"
    );
    // A load that grows all run long: the measured occupancy is still rising at the end.
    let ramp = BURST
        .replace(
            "arrivals = { process = \"on-off\", rate = 500.0, on = \"2s\", off = \"58s\", off_rate = 1.0 }",
            "arrivals = { process = \"ramp\", from = 100.0, to = 2000.0 }",
        )
        .replace("time_wait = \"30s\"", "time_wait = \"1s\"")
        .replace("range = \"20000-20099\"", "range = \"20000-29999\"");
    let s = parse(&ramp);
    let run = &sim::run_all(&s, s.seed, RunOptions::default())[0];
    let st = &run.summary.steady;
    assert!(!st.too_short && st.still_rising && !st.settled, "{st:?}");
    // The same host under a constant load has settled.
    let flat = ramp.replace(
        "arrivals = { process = \"ramp\", from = 100.0, to = 2000.0 }",
        "arrivals = { process = \"constant\", rate = 2000.0 }",
    );
    let s = parse(&flat);
    let run = &sim::run_all(&s, s.seed, RunOptions::default())[0];
    assert!(run.summary.steady.settled, "{:?}", run.summary.steady);
}

#[test]
fn pools_say_who_ran_out() {
    // Two backends, nine connections in ten to the first: 18/s x 10 s of TIME_WAIT wants 180
    // of its 100 ports; the second needs about 20.
    let text = BURST
        .replace("time_wait = \"30s\"", "time_wait = \"10s\"")
        .replace(
            "[[destinations]]\naddr = \"192.0.2.1:443\"",
            "[[destinations]]\naddr = \"192.0.2.1:443\"\nweight = 9.0\n[[destinations]]\naddr = \"192.0.2.2:443\"\nweight = 1.0",
        )
        .replace(
            "arrivals = { process = \"on-off\", rate = 500.0, on = \"2s\", off = \"58s\", off_rate = 1.0 }",
            "arrivals = { process = \"poisson\", rate = 20.0 }",
        );
    let s = parse(&text);
    for run in sim::run_all(&s, s.seed, RunOptions::default()) {
        let p = &run.summary.pools;
        assert_eq!((p.count, p.with_failures), (2, 1), "{p:?}");
        let (hot, cold) = (&p.top[0], &p.top[1]);
        assert_eq!((hot.local_addr.as_str(), hot.destination.as_str()), ("10.0.0.1", "192.0.2.1:443"));
        assert_eq!(cold.destination, "192.0.2.2:443");
        assert!(hot.failed > 0 && hot.first_failure_s.is_some() && hot.peak == 100, "{hot:?}");
        assert!(cold.failed == 0 && cold.first_failure_s.is_none() && cold.peak < 60, "{cold:?}");
        assert_eq!(hot.attempted + cold.attempted, run.summary.connections.attempted);
        assert_eq!(hot.failed, run.summary.connections.failed);
        assert_eq!(hot.first_failure_s, run.summary.exhaustion.first_failure_s);
    }
}
