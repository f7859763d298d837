//! The pages in a real browser: headless Chromium (Debian's `chromium`) lays out each page
//! portsim writes — a run's report.html, the index of several runs, a sweep's report.html and a
//! comparison's — at a desktop and a phone width, and a probe script appended to a copy of the
//! page records what it measured into the DOM, which `--dump-dom` prints. The test asserts on
//! those measurements: no table wider than its container, the page no wider than the window,
//! every chart present with a size. Skipped, saying so, where Chromium is not installed
//! (`.ci/run` installs it).

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

fn portsim() -> Command {
    Command::cargo_bin("portsim").expect("the portsim binary is built for the tests")
}

/// Chromium, from `PORTSIM_CHROMIUM` or the usual names.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PORTSIM_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in std::env::split_paths(&path).chain([PathBuf::from("/usr/bin")]) {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// Measures the laid-out page from inside its frame and writes the measurements into the
/// parent page, which `--dump-dom` prints.
const PROBE: &str = r#"<script>
(function () {
  var r = { width: window.innerWidth, scroll: document.documentElement.scrollWidth, tables: [], charts: [] };
  document.querySelectorAll("table").forEach(function (t, i) {
    r.tables.push({ at: (t.previousElementSibling || t.parentElement.previousElementSibling || {}).textContent || String(i),
      width: t.getBoundingClientRect().width, container: t.parentElement.clientWidth });
  });
  document.querySelectorAll("figure[data-chart]").forEach(function (f) {
    var s = f.querySelector("svg"), img = f.querySelector("img");
    var b = s ? s.getBoundingClientRect() : (img ? img.getBoundingClientRect() : { width: 0, height: 0 });
    r.charts.push({ name: f.getAttribute("data-chart"), width: b.width, height: b.height,
      natural: img ? img.naturalWidth : (s ? 1 : 0), container: f.clientWidth });
  });
  var out = window.parent.document;
  var p = out.createElement("pre");
  p.id = "portsim-probe";
  p.textContent = JSON.stringify(r);
  out.body.appendChild(p);
})();
</script>"#;

struct Measured {
    width: f64,
    scroll: f64,
    tables: Vec<(String, f64, f64)>,
    charts: Vec<(String, f64, f64, f64, f64)>,
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Lays `page` out at `width` x `height` in headless Chromium and returns what the probe saw.
fn measure(chrome: &Path, page: &Path, width: u32, height: u32) -> Measured {
    // Headless Chromium's window is at least 500 px wide, so the page is laid out in a frame of
    // the width asked for (`srcdoc`: same origin as its parent, which reads nothing else).
    let html = std::fs::read_to_string(page).unwrap().replace("</body>", &format!("{PROBE}\n</body>"));
    let frame = html.replace('&', "&amp;").replace('"', "&quot;");
    let probe = page.with_file_name(format!("probe-{width}-{}", page.file_name().unwrap().to_string_lossy()));
    std::fs::write(
        &probe,
        format!(
            "<!DOCTYPE html>\n<html><body style=\"margin:0\"><iframe style=\"border:0;width:{width}px;height:{height}px\" srcdoc=\"{frame}\"></iframe></body></html>\n"
        ),
    )
    .unwrap();
    let profile = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(chrome)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--window-size={},{}", width.max(500) + 100, height + 100))
        .arg("--dump-dom")
        .arg(format!("file://{}", std::path::absolute(&probe).unwrap().display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("Chromium starts");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).map(|_| s)
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("Chromium did not finish {} within 120 s", page.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let dom = reader.join().unwrap().unwrap();
    let start = dom.find("<pre id=\"portsim-probe\">").unwrap_or_else(|| panic!("no probe output: {dom}"));
    let rest = &dom[start + "<pre id=\"portsim-probe\">".len()..];
    let json: serde_json::Value =
        serde_json::from_str(&unescape(&rest[..rest.find("</pre>").unwrap()])).unwrap();
    let f = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    Measured {
        width: f(&json, "width"),
        scroll: f(&json, "scroll"),
        tables: json["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["at"].as_str().unwrap_or("").trim().to_string(), f(t, "width"), f(t, "container")))
            .collect(),
        charts: json["charts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap_or("").to_string(),
                    f(c, "width"),
                    f(c, "height"),
                    f(c, "natural"),
                    f(c, "container"),
                )
            })
            .collect(),
    }
}

/// Two short scenarios with the report's wide tables (several strategies, long labels, a
/// reserved block), a failing one among them.
fn scenario(name: &str, rate: f64) -> String {
    format!(
        r#"
name = "{name}"
description = "A small range, four strategies, one with a long label"
seed = 5
duration = "30s"
warmup = "5s"
[ports]
range = "20000-20299"
reserved = ["20100-20109"]
[tcp]
time_wait = "5s"
active_close = "client"
[[destinations]]
addr = "192.0.2.10:443"
[workload]
arrivals = {{ process = "poisson", rate = {rate} }}
lifetime = {{ dist = "exponential", mean = "200ms" }}
[[strategies]]
name = "bsd"
[[strategies]]
name = "random-pick"
[[strategies]]
name = "linux"
[[strategies]]
name = "double-hash"
label = "double-hash with a table of ten counters"
"#
    )
}

fn check(chrome: &Path, page: &Path, charts: std::ops::RangeInclusive<usize>) {
    for (w, h) in [(1280, 900), (390, 844)] {
        let m = measure(chrome, page, w, h);
        let what = format!("{} at {w} px", page.display());
        assert_eq!(m.width, f64::from(w), "{what}: the window is {w} px wide");
        assert!(m.scroll <= m.width + 0.5, "{what}: the page is {} px wide, wider than the window", m.scroll);
        assert!(!m.tables.is_empty(), "{what}: has tables");
        for (at, width, container) in &m.tables {
            assert!(
                width <= &(container + 0.5),
                "{what}: the table after `{at}` is {width} px in a {container} px box"
            );
        }
        assert!(charts.contains(&m.charts.len()), "{what}: {} charts, expected {charts:?}", m.charts.len());
        for (name, width, height, natural, container) in &m.charts {
            assert!(*width > 50.0 && *height > 50.0, "{what}: chart {name} is {width} x {height} px");
            assert!(*natural > 0.0, "{what}: chart {name} did not load");
            assert!(
                width <= &(container + 0.5),
                "{what}: chart {name} is {width} px in a {container} px box"
            );
        }
    }
}

#[test]
fn every_page_fits_a_desktop_and_a_phone_in_chromium() {
    let Some(chrome) = chromium() else {
        eprintln!(
            "skipped: Chromium not found (no chromium on PATH or in /usr/bin; `apt-get install chromium` or set PORTSIM_CHROMIUM): the pages were not checked in a browser"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.toml"), dir.path().join("b.toml"));
    std::fs::write(&a, scenario("browser-calm", 20.0)).unwrap();
    std::fs::write(&b, scenario("browser-busy", 70.0)).unwrap();
    let runs = dir.path().join("runs");
    let out = portsim().arg("run").arg(&a).arg(&b).arg("--out").arg(&runs).output().unwrap();
    assert!(out.status.code().is_some_and(|c| c <= 1), "{}", String::from_utf8_lossy(&out.stderr));
    let sweep = dir.path().join("sweep");
    let out = portsim()
        .args(["sweep"])
        .arg(&a)
        .args(["--vary", "workload.arrivals.rate=20..80:3", "--seeds", "2", "--out"])
        .arg(&sweep)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cmp = dir.path().join("cmp");
    let out = portsim()
        .arg("compare")
        .arg(runs.join("browser-calm"))
        .arg(runs.join("browser-busy"))
        .arg("--out")
        .arg(&cmp)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    check(&chrome, &runs.join("browser-busy").join("report.html"), 5..=5);
    check(&chrome, &runs.join("index.html"), 0..=0);
    check(&chrome, &sweep.join("report.html"), 2..=24);
    check(&chrome, &cmp.join("report.html"), 5..=5);
}
