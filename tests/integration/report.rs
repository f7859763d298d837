//! The charts and `report.html` a run writes.

use assert_cmd::Command;
use portsim::report::charts::{RUN_CHARTS, run_charts};
use portsim::sim::{self, RunOptions};
use std::path::Path;

fn portsim() -> Command {
    Command::cargo_bin("portsim").expect("the portsim binary is built for the tests")
}

/// A short, busy scenario on a small range: collisions, TIME_WAIT, reuse and some failures.
const SMALL: &str = r#"
name = "small-report"
description = "A <small> range & three strategies"
seed = 3
duration = "40s"
warmup = "10s"

[ports]
range = "20000-20299"
reserved = ["20100-20109"]

[tcp]
time_wait = "5s"
active_close = 0.7

[[destinations]]
addr = "192.0.2.10:443"

[workload]
arrivals = { process = "poisson", rate = 60.0 }
lifetime = { dist = "exponential", mean = "200ms" }

[[strategies]]
name = "bsd"

[[strategies]]
name = "random-pick"

[[strategies]]
name = "double-hash"
label = "double-hash <T=10>"
"#;

fn write_scenario(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("small.toml");
    std::fs::write(&path, SMALL).unwrap();
    path
}

#[test]
fn run_writes_every_chart_in_both_formats_and_a_self_contained_report() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(dir.path());
    let out = dir.path().join("out");
    portsim().arg("run").arg(&scenario).arg("--out").arg(&out).assert().success();
    for name in RUN_CHARTS {
        let svg = std::fs::read_to_string(out.join("charts").join(format!("{name}.svg"))).unwrap();
        assert!(svg.contains("<svg") && svg.contains("</svg>"), "{name}.svg is an SVG");
        let png = std::fs::read(out.join("charts").join(format!("{name}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{name}.png is a PNG");
        assert!(png.len() > 5_000, "{name}.png has something drawn in it");
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    for label in ["bsd", "random-pick", "double-hash &lt;T=10&gt;"] {
        assert!(html.contains(label), "report.html names {label}");
    }
    assert!(!html.contains("double-hash <T=10>"), "labels are escaped");
    for name in RUN_CHARTS {
        assert!(html.contains(&format!("data-chart=\"{name}\"")), "report.html holds {name}");
    }
    assert_eq!(html.matches("<svg").count(), RUN_CHARTS.len(), "every chart inline, as SVG");
    // Self-contained: nothing to fetch.
    for forbidden in ["<script", "<link", "<img", "src=", "url("] {
        assert!(!html.contains(forbidden), "report.html has no {forbidden}");
    }
    // The scenario, the settings and the metric sentences.
    for needle in
        ["A &lt;small&gt; range &amp; three strategies", "20000-20299", "four-tuple", "What the columns mean"]
    {
        assert!(html.contains(needle), "report.html shows {needle}");
    }
}

#[test]
fn no_charts_skips_charts_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(dir.path());
    let out = dir.path().join("out");
    portsim().arg("run").arg(&scenario).arg("--out").arg(&out).arg("--no-charts").assert().success();
    assert!(out.join("summary.json").exists());
    assert!(!out.join("charts").exists());
    assert!(!out.join("report.html").exists());
}

#[test]
fn charts_and_report_are_the_same_bytes_every_time() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(dir.path());
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    portsim().arg("run").arg(&scenario).arg("--out").arg(&a).arg("--threads").arg("1").assert().success();
    portsim().arg("run").arg(&scenario).arg("--out").arg(&b).arg("--threads").arg("2").assert().success();
    for name in RUN_CHARTS {
        for ext in ["svg", "png"] {
            let f = format!("charts/{name}.{ext}");
            assert!(std::fs::read(a.join(&f)).unwrap() == std::fs::read(b.join(&f)).unwrap(), "{f} differs");
        }
    }
    assert_eq!(std::fs::read(a.join("report.html")).unwrap(), std::fs::read(b.join("report.html")).unwrap());
}

#[test]
fn six_strategies_draw_quickly() {
    let text = SMALL.replace(
        "[[strategies]]\nname = \"bsd\"",
        "[[strategies]]\nname = \"bsd\"\n\n[[strategies]]\nname = \"hash\"\n\n[[strategies]]\nname = \"random-start\"\n\n[[strategies]]\nname = \"random-increments\"",
    );
    let s = portsim::scenario::parse(&text, "six", Path::new(".")).unwrap();
    assert_eq!(s.strategies.len(), 6);
    let outputs = sim::run_all(&s, s.seed, RunOptions::default());
    let started = std::time::Instant::now();
    let charts = run_charts(&s, &outputs).unwrap();
    let took = started.elapsed().as_secs_f64();
    assert_eq!(charts.iter().map(|c| c.name).collect::<Vec<_>>(), RUN_CHARTS);
    // Generous for a loaded CI machine; about 0.2 s here.
    assert!(took < 5.0, "drawing took {took:.2} s");
}

/// The findings open the report and are the summary's own numbers: who failed first and when,
/// who reused a 4-tuple soonest.
#[test]
fn report_opens_with_findings_from_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(dir.path());
    let out = dir.path().join("out");
    portsim().arg("run").arg(&scenario).arg("--out").arg(&out).assert().success();
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let strategies = summary["strategies"].as_array().unwrap();
    let findings = html.find("<h2 id=\"findings\">").expect("a findings section");
    assert!(findings < html.find("<h2 id=\"scenario\">").unwrap(), "findings come first");
    let first = strategies
        .iter()
        .filter_map(|s| s["exhaustion"]["first_failure_s"].as_f64().map(|t| (t, s["name"].as_str().unwrap())))
        .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(b.1)));
    match first {
        Some((t, name)) => {
            let name = name.replace('<', "&lt;").replace('>', "&gt;");
            assert!(
                html.contains(&format!("<li>{name} failed first, at {t:.3} s")),
                "first failure: {name} at {t}"
            );
        }
        None => assert!(html.contains("No strategy failed a connection attempt")),
    }
    let soonest = strategies
        .iter()
        .filter_map(|s| s["reuse"]["interval_s"]["min"].as_f64())
        .fold(f64::INFINITY, f64::min);
    if soonest.is_finite() {
        assert!(html.contains("reused a 4-tuple soonest"), "the soonest reuse is named");
    }
}
