//! The pages beside a run's report: `index.html` for a run of several scenarios, the sweep's
//! `report.html`, and the findings read from the time series (the parity cliff).

use assert_cmd::Command;

fn portsim() -> Command {
    Command::cargo_bin("portsim").expect("the portsim binary is built for the tests")
}

/// Linux's parity cliff on a 1,000-port range: 12 connections a second held 60 s in TIME_WAIT
/// grow towards 720 4-tuples; connect() scans the 500 even ports first, so once they are all
/// held each attempt examines all 500 and takes the first odd port it then tries: 501
/// candidates. bsd, with no parity passes, keeps finding the next port at once.
const PARITY: &str = r#"
name = "parity"
seed = 1
duration = "2m"
warmup = "10s"
[ports]
range = "40000-40999"
[tcp]
time_wait = "60s"
active_close = "client"
[[destinations]]
addr = "192.0.2.10:443"
[workload]
arrivals = { process = "constant", rate = 12.0 }
lifetime = { dist = "exponential", mean = "500ms" }
[[strategies]]
name = "linux"
[[strategies]]
name = "bsd"
"#;

#[test]
fn the_parity_cliff_is_found_in_the_candidates_series() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("parity.toml");
    std::fs::write(&file, PARITY).unwrap();
    let out = dir.path().join("out");
    portsim().arg("run").arg(&file).arg("--out").arg(&out).assert().success();
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let start = html.find("<h2 id=\"findings\">").unwrap();
    let findings = &html[start..html[start..].find("</ul>").unwrap() + start];
    let cliff =
        findings.lines().find(|l| l.contains("candidates per attempt jumped")).expect("a jump is found");
    assert!(cliff.starts_with("<li>linux&#39;s candidates per attempt jumped from about "), "{cliff}");
    // 500 even ports walked, then the first odd port tried is free.
    assert!(cliff.contains(" to 501 at "), "{cliff}");
    assert!(cliff.contains("of its 1000 usable ports): the parity cliff."), "{cliff}");
    assert_eq!(findings.matches("jumped").count(), 1, "bsd does not jump: {findings}");

    // The sample it names is the series' own: the first after the warm-up at ten times the
    // median before it, held at about half the range.
    let mut r = csv::Reader::from_path(out.join("timeseries.csv")).unwrap();
    let linux: Vec<(f64, f64, u32)> = r
        .deserialize::<(f64, String, u64, u64, u64, f64, u64, u64, u64, u64, u32)>()
        .map(|x| x.unwrap())
        .filter(|x| x.1 == "linux")
        .map(|x| (x.0, x.5, x.10))
        .collect();
    let at = linux.iter().position(|s| s.1 >= 20.0).unwrap();
    let (t, _, held) = linux[at];
    assert!(
        cliff.contains(&format!("at {t:.1} s (holding {held} 4-tuples")),
        "{cliff} vs t = {t}, held {held}"
    );
    assert!((450..=650).contains(&held), "half the range: {held}");
}

fn scenario(name: &str) -> String {
    PARITY
        .replace("name = \"parity\"", &format!("name = \"{name}\"\ndescription = \"the {name} run\""))
        .replace("duration = \"2m\"", "duration = \"20s\"")
}

#[test]
fn several_scenarios_write_an_index_linking_each_report() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.toml"), dir.path().join("b.toml"));
    std::fs::write(&a, scenario("first run")).unwrap();
    std::fs::write(&b, scenario("second")).unwrap();
    let out = dir.path().join("out");
    portsim().arg("run").arg(&a).arg(&b).arg("--out").arg(&out).assert().success();
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(index.starts_with("<!DOCTYPE html>"));
    assert!(
        index.contains("<a href=\"first%20run/report.html\">first run</a>: the first run run"),
        "{index}"
    );
    assert!(index.contains("<a href=\"second/report.html\">second</a>: the second run"), "{index}");
    assert!(out.join("first run/report.html").is_file() && out.join("second/report.html").is_file());
    // The first finding of each report, word for word.
    for name in ["first run", "second"] {
        let report = std::fs::read_to_string(out.join(name).join("report.html")).unwrap();
        let first =
            report.split("<ul class=\"findings\">\n<li>").nth(1).unwrap().split("</li>").next().unwrap();
        assert!(index.contains(first), "{name}: {first}");
    }
    // One scenario: its folder is --out itself, and there is no index.
    let one = dir.path().join("one");
    portsim().arg("run").arg(&a).arg("--out").arg(&one).assert().success();
    assert!(!one.join("index.html").exists() && !dir.path().join("index.html").exists());
    // --no-charts: no reports to link.
    let bare = dir.path().join("bare");
    portsim().arg("run").arg(&a).arg(&b).arg("--out").arg(&bare).arg("--no-charts").assert().success();
    assert!(!bare.join("index.html").exists());
}

#[test]
fn a_sweep_writes_its_report_with_its_charts_and_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.toml");
    std::fs::write(&file, scenario("sw")).unwrap();
    let out = dir.path().join("out");
    portsim()
        .arg("sweep")
        .arg(&file)
        .args(["--vary", "workload.arrivals.rate=10,20,40", "--seeds", "2", "--out"])
        .arg(&out)
        .assert()
        .success();
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let charts: Vec<String> = std::fs::read_dir(out.join("charts"))
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().to_str()?.strip_suffix(".svg").map(String::from))
        .collect();
    assert!(!charts.is_empty());
    for c in &charts {
        assert!(html.contains(&format!("data-chart=\"{c}\"")), "report.html holds {c}");
    }
    assert_eq!(html.matches("<svg").count(), charts.len(), "every chart inline");
    let rows = csv::Reader::from_path(out.join("sweep.csv")).unwrap().records().count();
    let table = &html[html.find("<h2 id=\"table\">").unwrap()..];
    assert_eq!(table.matches("<tr><th scope=\"row\"").count(), rows, "one row per sweep.csv row");
    // Where each strategy first failed, from the rows: at 40/s the 1,000 ports are not enough
    // for 60 s of TIME_WAIT (2,400 held), so both fail there and not below.
    let sweep: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("sweep.json")).unwrap()).unwrap();
    for name in ["linux", "bsd"] {
        let first =
            sweep["points"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| {
                    p["strategies"].as_array().unwrap().iter().any(|s| {
                        s["strategy"] == name && s["failed_fraction"]["mean"].as_f64().unwrap() > 0.0
                    })
                })
                .map(|p| p["values"]["workload.arrivals.rate"].as_str().unwrap().to_string());
        match first {
            Some(v) => assert!(
                html.contains(&format!("{name} first failed at workload.arrivals.rate = {v}:")),
                "{name} at {v}"
            ),
            None => assert!(html.contains("failed no attempt at any point swept")),
        }
    }
    // A merge writes the same page: the sweep's bytes are the merged sweep's.
    let sharded = dir.path().join("sharded");
    for k in 0..2 {
        portsim()
            .arg("sweep")
            .arg(&file)
            .args([
                "--vary",
                "workload.arrivals.rate=10,20,40",
                "--seeds",
                "2",
                "--shard",
                &format!("{k}/2"),
                "--out",
            ])
            .arg(&sharded)
            .assert()
            .success();
    }
    portsim().arg("merge").arg(&sharded).assert().success();
    assert_eq!(std::fs::read(sharded.join("report.html")).unwrap(), html.as_bytes());
}

#[test]
fn index_lists_runs_as_cards_on_a_phone() {
    let entries = vec![portsim::report::index::IndexEntry {
        name: "a <b>".into(),
        description: String::new(),
        folder: "a <b>".into(),
        seed: 1,
        strategies: vec!["bsd".into()],
        headline: "x & y".into(),
        expectations: (1, 2),
    }];
    let page = portsim::report::index::index_html(&entries);
    assert!(page.contains("<a href=\"a%20%3Cb%3E/report.html\">a &lt;b&gt;</a>"), "{page}");
    assert!(page.contains("<td data-label=\"[expect]\">1 of 2 hold</td>"), "{page}");
    assert!(page.contains("<td class=\"left\" data-label=\"first finding\">x &amp; y</td>"), "{page}");
    assert!(page.contains("table.cards thead { display: none; }"), "the phone layout");
}

/// What the warm-up hid: failures (one sentence for all the strategies it hid them of) and a
/// longer search than any counted one, each from the summary's own `warmup` figures.
#[test]
fn findings_say_what_the_warm_up_hid() {
    let s = portsim::scenario::parse(&scenario("warm"), "warm.toml", std::path::Path::new(".")).unwrap();
    let mut outputs = portsim::sim::run_all(&s, s.seed, portsim::sim::RunOptions::default());
    let said = |o: &[portsim::sim::RunOutput]| portsim::report::findings::findings(o).join("\n");
    assert!(!said(&outputs).contains("The warm-up hid"), "a calm warm-up hides nothing");
    let counted = outputs[1].summary.probes.max;
    outputs[1].summary.warmup.max_probes = counted + 40;
    outputs[0].summary.warmup.failures = 7;
    outputs[1].summary.warmup.failures = 3;
    let (a0, a1) = (outputs[0].summary.warmup.attempts, outputs[1].summary.warmup.attempts);
    let text = said(&outputs);
    assert!(
        text.contains(&format!(
            "The warm-up hid failed attempts of 2 strategies (7 of linux's {a0} attempts and 3 of bsd's {a1} attempts) in the first 10.0 s; the counts above leave them out."
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "The warm-up hid bsd's longest search: {} candidates on one attempt in the first 10.0 s, more than the {counted} of any counted attempt.",
            counted + 40
        )),
        "{text}"
    );
}
