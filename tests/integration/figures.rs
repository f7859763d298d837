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

// --- the charts, read off their SVGs ------------------------------------------------------

use portsim::report::charts::{Chart, ChartStyle, run_charts_with};

/// The text of every `<text>` element of an SVG, trimmed.
fn svg_texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| Some(t.split_once('>')?.1.split_once("</text>")?.0.trim().to_string()))
        .collect()
}

fn charts_of(text: &str, style: ChartStyle) -> Vec<Chart> {
    let s = parse(text);
    let runs = sim::run_all(&s, s.seed, RunOptions::default());
    run_charts_with(&s, &runs, &style).unwrap()
}

fn chart<'a>(charts: &'a [Chart], name: &str) -> &'a Chart {
    charts.iter().find(|c| c.name == name).unwrap()
}

/// The six RFC 6056 algorithms on a lightly loaded range: every CDF climbs to 1 within a few
/// candidates and stays there, on top of the others.
const SIX_LIGHT: &str = r#"
name = "six-light"
seed = 4
duration = "20s"
[ports]
range = "20000-21999"
[tcp]
time_wait = "2s"
[[destinations]]
addr = "192.0.2.1:443"
[workload]
arrivals = { process = "poisson", rate = 150.0 }
lifetime = { dist = "constant", value = "1s" }
[[strategies]]
name = "bsd"
[[strategies]]
name = "random-start"
[[strategies]]
name = "random-pick"
[[strategies]]
name = "hash"
[[strategies]]
name = "double-hash"
[[strategies]]
name = "random-increments"
"#;

const SIX: [&str; 6] = ["bsd", "random-start", "random-pick", "hash", "double-hash", "random-increments"];

#[test]
fn six_overlapping_cdfs_are_drawn_as_one_panel_each() {
    let charts = charts_of(SIX_LIGHT, ChartStyle::default());
    let texts = svg_texts(&chart(&charts, "candidates_cdf").svg);
    // One caption per panel (the legend's entries carry the mean: "bsd (1.00)").
    for name in SIX {
        assert_eq!(texts.iter().filter(|t| *t == name).count(), 1, "{name}: {texts:?}");
    }
    assert!(texts.iter().any(|t| t == "the other strategies"));
    // Two strategies are drawn on one plot.
    let two = SIX_LIGHT.replace(
        "[[strategies]]\nname = \"random-pick\"\n[[strategies]]\nname = \"hash\"\n[[strategies]]\nname = \"double-hash\"\n[[strategies]]\nname = \"random-increments\"\n",
        "",
    );
    let charts = charts_of(&two, ChartStyle::default());
    let texts = svg_texts(&chart(&charts, "candidates_cdf").svg);
    assert!(!texts.iter().any(|t| t == "bsd" || t == "the other strategies"), "{texts:?}");
}

/// 100 ports held about 1 s each under a load that ramps up past 100/s: nothing fails for
/// the first quarter of the run, then every strategy fails in its own way.
const RAMP_OVER: &str = r#"
name = "ramp-over"
seed = 5
duration = "40s"
[ports]
range = "20000-20099"
[tcp]
time_wait = "1s"
[[destinations]]
addr = "192.0.2.1:443"
[workload]
arrivals = { process = "ramp", from = 1.0, to = 250.0 }
lifetime = { dist = "constant", value = "1ms" }
[[strategies]]
name = "bsd"
[[strategies]]
name = "random-start"
[[strategies]]
name = "random-pick"
[[strategies]]
name = "hash"
[[strategies]]
name = "double-hash"
"#;

#[test]
fn five_overlapping_failure_curves_get_one_panel_each() {
    let charts = charts_of(RAMP_OVER, ChartStyle::default());
    let texts = svg_texts(&chart(&charts, "failures_over_time").svg);
    for name in &SIX[..5] {
        assert_eq!(texts.iter().filter(|t| t == name).count(), 1, "{name} has its panel: {texts:?}");
    }
    assert!(texts.iter().any(|t| t == "failures: the other strategies"));
    assert!(texts.iter().any(|t| t == "failed / s"), "the left column names the axis");
}

/// 100 ports, 1 s of TIME_WAIT, 300 connections a second arriving like clockwork: about 200
/// fail every second, a level a linear axis shows best, until `--log-y` asks otherwise.
const STEADY_OVERLOAD: &str = r#"
name = "steady-overload"
seed = 6
duration = "30s"
[ports]
range = "20000-20099"
[tcp]
time_wait = "1s"
[[destinations]]
addr = "192.0.2.1:443"
[workload]
arrivals = { process = "constant", rate = 300.0 }
lifetime = { dist = "constant", value = "1ms" }
[[strategies]]
name = "bsd"
[[strategies]]
name = "random-pick"
"#;

#[test]
fn log_y_forces_log_axes_with_decade_ticks() {
    let linear =
        svg_texts(&chart(&charts_of(STEADY_OVERLOAD, ChartStyle::default()), "failures_over_time").svg);
    assert!(linear.iter().any(|t| t == "failed attempts / s"), "{linear:?}");
    assert!(!linear.iter().any(|t| t == "1k"));
    let style = ChartStyle { log_y: true, ..ChartStyle::default() };
    let log = svg_texts(&chart(&charts_of(STEADY_OVERLOAD, style), "failures_over_time").svg);
    assert!(log.iter().any(|t| t == "failed attempts / s (log scale)"), "{log:?}");
    // About 200 a second: the axis runs in decades up to 1k, zeros on a row of their own.
    for tick in ["1k", "100", "10", "0"] {
        assert!(log.iter().any(|t| t == tick), "tick {tick}: {log:?}");
    }
}

#[test]
fn sweeps_take_log_y_size_and_scale_too() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.toml");
    std::fs::write(&path, STEADY_OVERLOAD).unwrap();
    let out = dir.path().join("out");
    portsim()
        .arg("sweep")
        .arg(&path)
        .args([
            "--vary",
            "workload.arrivals.rate=250,300",
            "--log-y",
            "--chart-size",
            "900x500",
            "--scale",
            "2",
        ])
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let svg = std::fs::read_to_string(out.join("charts/failure_fraction.svg")).unwrap();
    assert!(svg.contains(r#"<svg width="900" height="500""#), "{}", &svg[..200]);
    assert!(svg_texts(&svg).iter().any(|t| t == "fraction of attempts that failed (log scale)"));
    assert_eq!(png_size(&std::fs::read(out.join("charts/failure_fraction.png")).unwrap()), (1800, 1000));
}

/// A PNG's width and height, from its IHDR chunk.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&png[12..16], b"IHDR");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&png[16..20]), be(&png[20..24]))
}

#[test]
fn scale_draws_the_same_chart_with_more_pixels_and_size_sets_both() {
    let plain = charts_of(STEADY_OVERLOAD, ChartStyle::default());
    let double = charts_of(STEADY_OVERLOAD, ChartStyle { scale: 2.0, ..ChartStyle::default() });
    for (a, b) in plain.iter().zip(&double) {
        assert_eq!(a.svg, b.svg, "{}: the SVG does not depend on the scale", a.name);
        let (w, h) = png_size(&a.png);
        assert_eq!(png_size(&b.png), (2 * w, 2 * h), "{}", a.name);
        // 96 dpi at scale 1 is 3780 pixels a metre: twice that, in a pHYs chunk.
        let phys = b.png.windows(4).position(|w| w == b"pHYs").expect("a pHYs chunk");
        assert_eq!(u32::from_be_bytes(b.png[phys + 4..phys + 8].try_into().unwrap()), 7559);
    }
    let sized = charts_of(STEADY_OVERLOAD, ChartStyle { size: Some((1400, 900)), ..ChartStyle::default() });
    for c in &sized {
        assert!(c.svg.contains(r#"<svg width="1400" height="900""#), "{}", c.name);
        assert_eq!(png_size(&c.png), (1400, 900), "{}", c.name);
    }
}

/// Two strategies with ranges of their own, reserved ports in both.
const TWO_RANGES: &str = r#"
name = "two-ranges"
seed = 7
duration = "20s"
[ports]
reserved = ["50000-50999"]
[tcp]
time_wait = "5s"
[[destinations]]
addr = "192.0.2.1:443"
[workload]
arrivals = { process = "poisson", rate = 400.0 }
lifetime = { dist = "constant", value = "10ms" }
[[strategies]]
name = "random-pick"
[[strategies]]
name = "windows"
"#;

#[test]
fn port_usage_gives_each_range_its_axes_shades_reserved_ports_and_draws_the_uniform_band() {
    let charts = charts_of(TWO_RANGES, ChartStyle::default());
    let svg = &chart(&charts, "port_usage").svg;
    let texts = svg_texts(svg);
    let caption = |start: &str| texts.iter().find(|t| t.starts_with(start)).cloned().unwrap_or_default();
    assert!(caption("random-pick: ").starts_with("random-pick: 32768-60999, max/mean "), "{texts:?}");
    assert!(caption("windows: ").starts_with("windows: 49152-65535, max/mean "), "{texts:?}");
    // One shaded block per panel: 50000-50999 is inside both ranges.
    assert_eq!(svg.matches(r##"fill="#CDCDCD""##).count(), 2);
    // The band: thin dashed ink lines, many short strokes.
    assert!(svg.matches(r##"stroke="#282828" stroke-width="1""##).count() > 100);
    assert!(texts.iter().any(|t| t.contains("dashed: where those fall 99 % of the time")));
}

/// Two destinations, nine connections in ten to the first ([`BURST`]'s range and host):
/// the busiest pool is the first destination's, and it alone reaches n = 100.
fn two_pools(scope: &str) -> String {
    BURST
        .replace("time_wait = \"30s\"", "time_wait = \"10s\"")
        .replace("range = \"20000-20099\"", &format!("range = \"20000-20099\"\nscope = \"{scope}\""))
        .replace(
            "[[destinations]]\naddr = \"192.0.2.1:443\"",
            "[[destinations]]\naddr = \"192.0.2.1:443\"\nweight = 9.0\n[[destinations]]\naddr = \"192.0.2.2:443\"\nweight = 1.0",
        )
        .replace(
            "arrivals = { process = \"on-off\", rate = 500.0, on = \"2s\", off = \"58s\", off_rate = 1.0 }",
            "arrivals = { process = \"poisson\", rate = 20.0 }",
        )
}

#[test]
fn the_busiest_pool_is_sampled_and_drawn_against_its_n() {
    let s = parse(&two_pools("four-tuple"));
    let runs = sim::run_all(&s, s.seed, RunOptions::default());
    for run in &runs {
        let mut full = 0;
        for r in &run.samples {
            let (busiest, all) = (u64::from(r.busiest_pool_held), r.live + r.time_wait);
            // The larger of two pools holds at least half of both, and at most n.
            assert!(
                2 * busiest >= all && busiest <= all && busiest <= 100,
                "{} t={}: {r:?}",
                run.summary.name,
                r.t_s
            );
            full += usize::from(busiest == 100);
        }
        assert!(full > 10, "{}: the hot pool is full in {full} rows", run.summary.name);
        assert!(
            run.samples.iter().any(|r| r.live + r.time_wait > 100),
            "the sum passes n: {}",
            run.summary.name
        );
    }
    let charts = run_charts_with(&s, &runs, &ChartStyle::default()).unwrap();
    let texts = svg_texts(&chart(&charts, "occupancy_over_time").svg);
    assert!(texts.iter().any(|t| t == "busiest pool"), "{texts:?}");
    assert!(texts.iter().any(|t| t == "n = 100 usable ports"));
    assert!(texts.iter().any(|t| t == "in TIME_WAIT (all pools)"));
    // Under local-port scope the two destinations share one pool: the host's.
    let s = parse(&two_pools("local-port"));
    let runs = sim::run_all(&s, s.seed, RunOptions::default());
    for r in &runs[0].samples {
        assert_eq!(u64::from(r.busiest_pool_held), r.live + r.time_wait, "t={}", r.t_s);
    }
    let charts = run_charts_with(&s, &runs, &ChartStyle::default()).unwrap();
    let texts = svg_texts(&chart(&charts, "occupancy_over_time").svg);
    assert!(!texts.iter().any(|t| t == "busiest pool"), "{texts:?}");
}

/// double-hash is one colour in every run, whatever runs beside it: on its charts and on the
/// report's swatch.
#[test]
fn a_strategy_keeps_its_colour_across_runs_and_in_the_report() {
    let dir = tempfile::tempdir().unwrap();
    for (i, others) in
        ["name = \"random-pick\"\n[[strategies]]\nname = \"bsd\"", "name = \"hash\""].iter().enumerate()
    {
        let text = STEADY_OVERLOAD.replace(
            "name = \"bsd\"\n[[strategies]]\nname = \"random-pick\"",
            &format!("{others}\n[[strategies]]\nname = \"double-hash\""),
        );
        let path = dir.path().join(format!("{i}.toml"));
        std::fs::write(&path, text).unwrap();
        let out = dir.path().join(format!("out{i}"));
        portsim().arg("run").arg(&path).arg("--out").arg(&out).assert().success();
        let html = std::fs::read_to_string(out.join("report.html")).unwrap();
        assert!(html.contains("background:#cc79a7"), "run {i}: double-hash's swatch");
        let svg = std::fs::read_to_string(out.join("charts/failures_over_time.svg")).unwrap();
        assert!(svg.contains(r##"stroke="#CC79A7""##), "run {i}: double-hash's line");
    }
}

/// The (x, y) points of every `<polyline>` in `colour` (an SVG `#RRGGBB`).
fn polylines(svg: &str, colour: &str) -> Vec<Vec<(f64, f64)>> {
    svg.split("<polyline")
        .skip(1)
        .filter(|p| p.split("/>").next().unwrap_or("").contains(&format!("stroke=\"{colour}\"")))
        .filter_map(|p| {
            let pts = p.split_once("points=\"")?.1.split_once('"')?.0;
            Some(
                pts.split_whitespace()
                    .filter_map(|xy| {
                        let (x, y) = xy.split_once(',')?;
                        Some((x.parse().ok()?, y.parse().ok()?))
                    })
                    .collect(),
            )
        })
        .collect()
}

/// A sweep over socket calls is over categories, not a scale: its points stand in groups,
/// joined by no line; a sweep over the rate joins them.
#[test]
fn categorical_sweeps_are_points_not_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.toml");
    std::fs::write(&path, STEADY_OVERLOAD).unwrap();
    let sweep = |vary: &str, out: &str| {
        let out = dir.path().join(out);
        portsim().arg("sweep").arg(&path).args(["--vary", vary, "--out"]).arg(&out).assert().success();
        std::fs::read_to_string(out.join("charts/failure_fraction.svg")).unwrap()
    };
    // Joined: a line of the strategy's colour runs across the plot (the legend strip starts
    // at x = 870).
    let joined = |svg: &str, colour: &str| {
        polylines(svg, colour)
            .iter()
            .any(|l| l.iter().all(|p| p.0 < 860.0) && l.iter().any(|p| (p.0 - l[0].0).abs() > 1.0))
    };
    let categories = sweep("workload.socket=connect,bind-then-connect", "socket");
    assert!(svg_texts(&categories).iter().any(|t| t == "bind-then-connect"));
    for colour in ["#0072B2", "#009E73"] {
        assert!(!joined(&categories, colour), "{colour}: a line between categories");
    }
    let rates = sweep("workload.arrivals.rate=250,300", "rate");
    for colour in ["#0072B2", "#009E73"] {
        assert!(joined(&rates, colour), "{colour}: the rate sweep's line");
    }
}
