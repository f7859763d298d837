//! `portsim compare`: run folders read back exactly, the differences taken from the figures the
//! folders hold, the seeds' verdict, the overlaid charts, and every refusal pinned.

use assert_cmd::Command;
use portsim::report::charts::RUN_CHARTS;
use std::path::{Path, PathBuf};

fn portsim() -> Command {
    Command::cargo_bin("portsim").expect("the portsim binary is built for the tests")
}

/// A short run on a small range: failures, reuse and collisions, so every metric has a value.
fn scenario(time_wait: &str) -> String {
    format!(
        r#"
name = "cmp"
seed = 2
duration = "30s"
warmup = "5s"
[ports]
range = "20000-20199"
[tcp]
time_wait = "{time_wait}"
active_close = "client"
[[destinations]]
addr = "192.0.2.10:443"
[workload]
arrivals = {{ process = "poisson", rate = 30.0 }}
lifetime = {{ dist = "exponential", mean = "200ms" }}
[[strategies]]
name = "bsd"
[[strategies]]
name = "random-pick"
[[strategies]]
name = "linux"
"#
    )
}

/// Runs `scenario(time_wait)` into `dir/name` with `args`.
fn run(dir: &Path, name: &str, time_wait: &str, args: &[&str]) -> PathBuf {
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, scenario(time_wait)).unwrap();
    let out = dir.join(name);
    let o = portsim().arg("run").arg(&file).arg("--out").arg(&out).args(args).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

fn compare(args: &[&Path]) -> std::process::Output {
    let mut c = portsim();
    c.arg("compare");
    for a in args {
        c.arg(a);
    }
    c.output().unwrap()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).trim_end().to_string()
}

/// A figure as the folder holds it: the mean over the seeds where `across_seeds` has the
/// metric, else the single run's value.
fn figure(doc: &serde_json::Value, strategy: &str, key: &str) -> (Option<f64>, Option<f64>, usize) {
    if let Some(a) = doc["across_seeds"].as_array() {
        let s = a.iter().find(|s| s["name"] == strategy).unwrap();
        if let Some(m) = s["metrics"].as_array().unwrap().iter().find(|m| m["key"] == key)
            && m["n"].as_u64().unwrap() > 0
        {
            return (m["mean"].as_f64(), m["ci95"].as_f64(), m["n"].as_u64().unwrap() as usize);
        }
    }
    let s = doc["strategies"].as_array().unwrap().iter().find(|s| s["name"] == strategy).unwrap();
    (s.pointer(&format!("/{}", key.replace('.', "/"))).and_then(|v| v.as_f64()), None, 1)
}

#[test]
fn differences_are_the_folders_own_figures_with_the_seeds_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let before = run(dir.path(), "before", "10s", &["--seeds", "3"]);
    let after = run(dir.path(), "after", "4s", &["--seeds", "3"]);
    let out = dir.path().join("cmp");
    let o = portsim().arg("compare").arg(&before).arg(&after).arg("--out").arg(&out).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));

    let (a, b) = (summary(&before), summary(&after));
    let mut r = csv::Reader::from_path(out.join("differences.csv")).unwrap();
    assert_eq!(
        r.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "strategy",
            "metric",
            "baseline_run",
            "run",
            "run_strategy",
            "baseline",
            "baseline_ci95",
            "baseline_seeds",
            "value",
            "value_ci95",
            "value_seeds",
            "difference",
            "relative_difference",
            "within_seed_spread"
        ]
    );
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(rows.len(), 3 * portsim::compare::diff::METRICS.len(), "every strategy and metric");
    let num = |s: &str| if s.is_empty() { None } else { Some(s.parse::<f64>().unwrap()) };
    let mut beyond = 0;
    for row in &rows {
        let (strategy, key) = (&row[0], &row[1]);
        assert_eq!((&row[2], &row[3], &row[4]), ("before", "after", strategy));
        let (va, ca, na) = figure(&a, strategy, key);
        let (vb, cb, nb) = figure(&b, strategy, key);
        assert_eq!(num(&row[5]), va, "{strategy} {key} baseline");
        assert_eq!(num(&row[6]), ca, "{strategy} {key} baseline ci");
        assert_eq!(row[7].parse::<usize>().unwrap(), na);
        assert_eq!(num(&row[8]), vb, "{strategy} {key} value");
        assert_eq!(num(&row[9]), cb);
        assert_eq!(row[10].parse::<usize>().unwrap(), nb);
        let d = va.zip(vb).map(|(x, y)| y - x);
        assert_eq!(num(&row[11]), d, "{strategy} {key} difference");
        let within = match (d, ca, cb) {
            (Some(d), Some(x), Some(y)) => Some(d.abs() <= (x * x + y * y).sqrt()),
            _ => None,
        };
        assert_eq!(&row[13], within.map(|w| w.to_string()).unwrap_or_default(), "{strategy} {key} verdict");
        beyond += usize::from(within == Some(false));
    }
    // TIME_WAIT from 10 s to 4 s: the peak occupancy falls far beyond what three seeds spread.
    assert!(beyond > 0, "some difference lies beyond the seeds' spread");
    let peak = rows.iter().find(|r| &r[0] == "bsd" && &r[1] == "occupancy.peak").unwrap();
    assert_eq!(&peak[13], "false", "bsd's peak occupancy moved beyond the spread");

    // The overlaid charts: every run's curves, named "run: strategy".
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    for name in RUN_CHARTS {
        assert!(out.join("charts").join(format!("{name}.svg")).is_file());
        assert!(out.join("charts").join(format!("{name}.png")).is_file());
        assert!(html.contains(&format!("data-chart=\"{name}\"")), "report.html holds {name}");
    }
    let cdf = std::fs::read_to_string(out.join("charts/candidates_cdf.svg")).unwrap();
    for label in ["before: bsd", "after: bsd", "before: linux", "after: random-pick"] {
        assert!(cdf.contains(label), "the legend names {label}");
    }
    assert!(html.contains("beyond the seed-to-seed spread"), "the findings give the seeds' verdict");
    for forbidden in ["<script", "<link", "<img", "src="] {
        assert!(!html.contains(forbidden), "report.html has no {forbidden}");
    }
}

#[test]
fn identical_runs_differ_by_nothing_and_single_runs_have_no_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let a = run(dir.path(), "a", "10s", &[]);
    let b = run(dir.path(), "b", "10s", &[]);
    let out = dir.path().join("cmp");
    let o =
        portsim().arg("compare").arg(&a).arg(&b).arg("--out").arg(&out).arg("--no-charts").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!out.join("report.html").exists() && !out.join("charts").exists(), "--no-charts: the CSV only");
    let mut r = csv::Reader::from_path(out.join("differences.csv")).unwrap();
    for row in r.records().map(|x| x.unwrap()) {
        assert!(matches!(&row[11], "" | "0.0"), "{} {}: {}", &row[0], &row[1], &row[11]);
        assert_eq!(&row[13], "", "one seed each: no spread to judge by");
    }
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .contains("No strategy's failures, candidates or first failure differ")
    );
}

#[test]
fn runs_of_one_strategy_each_are_paired() {
    let dir = tempfile::tempdir().unwrap();
    let a = run(dir.path(), "a", "10s", &["--only", "bsd"]);
    let b = run(dir.path(), "b", "10s", &["--only", "linux"]);
    let out = dir.path().join("cmp");
    let o =
        portsim().arg("compare").arg(&a).arg(&b).arg("--out").arg(&out).arg("--no-charts").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(out.join("differences.csv")).unwrap();
    assert!(text.lines().skip(1).all(|l| l.starts_with("bsd,") && l.contains(",a,b,linux,")), "{text}");
}

#[test]
fn a_folder_reads_back_as_the_run_that_wrote_it() {
    use portsim::sim::{self, DestinationTable, RunOptions};
    let dir = tempfile::tempdir().unwrap();
    let s = portsim::scenario::parse(&scenario("10s"), "cmp.toml", Path::new(".")).unwrap();
    let outputs = sim::run_all(&s, s.seed, RunOptions::default());
    let out = dir.path().join("run");
    portsim::report::write_outputs(
        &out,
        &s,
        s.seed,
        &outputs,
        &DestinationTable::of(&s),
        portsim::report::OutputOptions { charts: false, ..Default::default() },
    )
    .unwrap();
    let back = portsim::compare::folder::load(&out, "run".into()).unwrap();
    assert_eq!(back.outputs.len(), outputs.len());
    for (o, b) in outputs.iter().zip(&back.outputs) {
        let mut want = o.summary.clone();
        // A pool's index into the run's tables is not written anywhere.
        for p in want.pools.top.iter_mut().chain(want.pools.all.iter_mut()) {
            p.index = (0, 0);
        }
        assert_eq!(b.summary, want, "{}: the summary reads back exactly", o.summary.name);
        assert_eq!(b.samples, o.samples, "{}: the time series reads back exactly", o.summary.name);
    }
}

#[test]
fn refusals_exit_2_with_their_pinned_messages() {
    let dir = tempfile::tempdir().unwrap();
    let a = run(dir.path(), "a", "10s", &["--only", "bsd,random-pick"]);
    let b = run(dir.path(), "b", "10s", &["--only", "linux"]);
    let version = "0.1.0";
    assert_eq!(env!("CARGO_PKG_VERSION"), version, "the messages below name this version");

    // No strategy in common, and not one each.
    let o = compare(&[&a, &b]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "error: no metric in common: no strategy is in every folder (a holds bsd, random-pick; b holds linux); compare runs of the same strategies, or runs of one strategy each"
    );
    assert!(!Path::new("output/compare-a-vs-b").exists(), "nothing written");

    // Another version.
    let old = dir.path().join("old");
    std::fs::create_dir(&old).unwrap();
    for f in ["timeseries.csv", "port_usage.csv"] {
        std::fs::copy(a.join(f), old.join(f)).unwrap();
    }
    let text = std::fs::read_to_string(a.join("summary.json")).unwrap();
    std::fs::write(
        old.join("summary.json"),
        text.replace("\"portsim_version\": \"0.1.0\"", "\"portsim_version\": \"0.0.9\""),
    )
    .unwrap();
    let o = compare(&[&a, &old]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        format!(
            "error: {}: written by portsim 0.0.9, this is portsim {version}: rerun its scenario with this version to compare it",
            old.display()
        )
    );

    // Not portsim's, and a sweep's.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let o = compare(&[&a, &empty]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        format!("error: {}: not a portsim run folder (it has no summary.json)", empty.display())
    );
    let sweep = dir.path().join("sweep");
    let file = dir.path().join("a.toml");
    let s = portsim()
        .arg("sweep")
        .arg(&file)
        .args(["--vary", "workload.arrivals.rate=10,20", "--no-charts", "--out"])
        .arg(&sweep)
        .output()
        .unwrap();
    assert!(s.status.success(), "{}", stderr(&s));
    let o = compare(&[&a, &sweep]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        format!(
            "error: {}: a sweep folder, not a run's: compare reads the folders `portsim run` writes (summary.json)",
            sweep.display()
        )
    );

    // A run folder missing a file, a bad summary, a folder that does not exist.
    let partial = dir.path().join("partial");
    std::fs::create_dir(&partial).unwrap();
    std::fs::copy(a.join("summary.json"), partial.join("summary.json")).unwrap();
    let o = compare(&[&a, &partial]);
    assert_eq!(
        stderr(&o),
        format!(
            "error: {}: timeseries.csv is missing: not a finished `portsim run` folder",
            partial.display()
        )
    );
    std::fs::write(partial.join("summary.json"), "{\"portsim_version\": 3}").unwrap();
    let o = compare(&[&a, &partial]);
    assert_eq!(
        stderr(&o),
        format!(
            "error: {}/summary.json: not portsim's summary: it has no portsim_version",
            partial.display()
        )
    );
    let missing = dir.path().join("missing");
    let o = compare(&[&a, &missing]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr(&o), format!("error: {}: no such folder", missing.display()));

    // The same folder twice, --out onto an input, and one folder alone.
    let o = compare(&[&a, &a]);
    assert_eq!(stderr(&o), format!("error: {}: given twice: compare each folder once", a.display()));
    let a2 = run(dir.path(), "a2", "10s", &["--only", "bsd,random-pick"]);
    let o = portsim().arg("compare").arg(&a).arg(&a2).arg("--out").arg(&a2).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        format!(
            "error: --out {}: that is one of the folders compared ({}); choose another",
            a2.display(),
            a2.display()
        )
    );
    assert!(a2.join("summary.json").is_file(), "the input is untouched");
    let o = compare(&[&a]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("required"), "{}", stderr(&o));
}

#[test]
fn strategies_only_some_runs_have_are_named_and_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let a = run(dir.path(), "a", "10s", &["--only", "bsd,linux"]);
    let b = run(dir.path(), "b", "10s", &[]);
    let out = dir.path().join("cmp");
    let o = portsim().arg("compare").arg(&a).arg(&b).arg("--out").arg(&out).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let note = "b also ran random-pick, which not every run has: left out of the differences";
    assert!(String::from_utf8_lossy(&o.stdout).contains(&format!("note: {note}")));
    assert!(
        std::fs::read_to_string(out.join("report.html"))
            .unwrap()
            .contains(&format!("<li>Note: {note}.</li>"))
    );
    let text = std::fs::read_to_string(out.join("differences.csv")).unwrap();
    assert!(text.lines().skip(1).all(|l| l.starts_with("bsd,") || l.starts_with("linux,")), "{text}");
}
