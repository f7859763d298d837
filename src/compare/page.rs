//! The comparison's `report.html`: the folders compared, the headline changes as sentences, the
//! differences per strategy (marked when within the seeds' spread) and the overlaid charts.
//! Self-contained, as a run's report is.

use super::diff::{Difference, Figure, METRICS};
use super::folder::RunFolder;
use crate::report::charts::Chart;
use crate::report::html::{escape, inline_svg, page_start, table};
use std::fmt::Write as _;

fn num(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.3}")
    } else {
        format!("{v:.6}")
    }
}

fn figure(f: &Figure) -> String {
    match (f.value, f.ci95) {
        (None, _) => "-".into(),
        (Some(v), Some(c)) => format!("{} ± {}", num(v), num(c)),
        (Some(v), None) => num(v),
    }
}

fn spread(d: &Difference) -> &'static str {
    match d.within_seed_spread {
        Some(true) => "within",
        Some(false) => "beyond",
        None => "-",
    }
}

/// The headline sentences: for each strategy and run, how its failures, candidates and first
/// failure moved from the baseline, with the seeds' verdict when there is one.
pub fn headlines(runs: &[RunFolder], diffs: &[Difference]) -> Vec<String> {
    let mut out = Vec::new();
    for d in diffs {
        let what = match d.metric {
            "connections.failed_fraction" => "failed fraction",
            "probes.mean" => "mean candidates per attempt",
            "exhaustion.first_failure_s" => "first failure (s)",
            _ => continue,
        };
        let (a, b) = (d.baseline.value, d.other.value);
        if a == b {
            continue;
        }
        let show = |v: Option<f64>| match v {
            None => "none".to_string(),
            Some(x) if d.metric == "connections.failed_fraction" => format!("{} %", num(100.0 * x)),
            Some(x) => num(x),
        };
        let who = if d.strategy == d.run_strategy {
            d.strategy.clone()
        } else {
            format!("{} ({} in {})", d.strategy, d.run_strategy, d.run)
        };
        let verdict = match d.within_seed_spread {
            Some(true) => ", within the seed-to-seed spread: the seeds alone could make it",
            Some(false) => ", beyond the seed-to-seed spread",
            None => "",
        };
        out.push(format!(
            "{who}: {what} {} in {} and {} in {}{verdict}.",
            show(a),
            runs[0].label,
            show(b),
            d.run
        ));
    }
    if out.is_empty() {
        out.push("No strategy's failures, candidates or first failure differ between the runs.".into());
    }
    out
}

/// The page.
pub fn report_html(runs: &[RunFolder], diffs: &[Difference], charts: &[Chart], caveats: &[String]) -> String {
    let labels: Vec<&str> = runs.iter().map(|r| r.label.as_str()).collect();
    let mut h = page_start(&format!("portsim compare: {}", labels.join(" vs ")));
    let _ = writeln!(h, "<h1>{}</h1>", escape(&labels.join(" vs ")));
    let _ = writeln!(
        h,
        "<p class=\"meta\">portsim {} &middot; {} runs; the first, {}, is the baseline every difference is taken from.</p>",
        env!("CARGO_PKG_VERSION"),
        runs.len(),
        escape(labels[0])
    );
    h.push_str("<h2 id=\"findings\">Findings</h2>\n<ul class=\"findings\">\n");
    for f in headlines(runs, diffs) {
        let _ = writeln!(h, "<li>{}</li>", escape(&f));
    }
    for c in caveats {
        let _ = writeln!(h, "<li>Note: {}.</li>", escape(c));
    }
    h.push_str("</ul>\n");

    h.push_str("<h2 id=\"runs\">The runs</h2>\n");
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            let text = |k: &str| {
                crate::report::html::json_text(r.scenario.get(k).unwrap_or(&serde_json::Value::Null))
            };
            vec![
                r.label.clone(),
                r.dir.display().to_string(),
                text("name"),
                text("seed"),
                if r.seeds.len() > 1 { r.seeds.len().to_string() } else { "1".into() },
                format!("{} s", text("duration_s")),
                r.strategy_names().join(", "),
            ]
        })
        .collect();
    let t = table(&["run", "folder", "scenario", "seed", "seeds", "duration", "strategies"], &rows)
        .replace("<td data-label=\"strategies\">", "<td class=\"left\" data-label=\"strategies\">");
    h.push_str(&t);

    h.push_str("<h2 id=\"differences\">Differences</h2>\n<p>Each run against the baseline, strategy by strategy: the difference is the run's figure less the baseline's, the relative difference that over the baseline. With <code>--seeds</code> the figures are means over the seeds with 95 % half-widths, and a difference is <em>within</em> the seed-to-seed spread when it is no larger than the half-width of its own 95 % interval, sqrt(a² + b²). The same rows are in differences.csv beside this file.</p>\n");
    let mut strategies: Vec<&str> = Vec::new();
    for d in diffs {
        if !strategies.contains(&d.strategy.as_str()) {
            strategies.push(&d.strategy);
        }
    }
    for s in strategies {
        let _ = writeln!(h, "<h3>{}</h3>", escape(s));
        let rows: Vec<Vec<String>> = diffs
            .iter()
            .filter(|d| d.strategy == s)
            .map(|d| {
                vec![
                    d.metric.to_string(),
                    d.run.clone(),
                    figure(&d.baseline),
                    figure(&d.other),
                    d.difference.map(num).unwrap_or_else(|| "-".into()),
                    d.relative.map(|x| format!("{:+.1} %", 100.0 * x)).unwrap_or_else(|| "-".into()),
                    spread(d).to_string(),
                ]
            })
            .collect();
        let base = format!("{} (baseline)", labels[0]);
        let t =
            table(&["metric", "run", &base, "run's value", "difference", "relative", "seed spread"], &rows)
                .replace(">within</td>", " class=\"within\">within</td>")
                .replace(">beyond</td>", " class=\"beyond\">beyond</td>");
        h.push_str(&t);
    }
    h.push_str("<h2 id=\"metrics\">The metrics</h2>\n<dl>\n");
    for (key, about) in METRICS {
        let _ = writeln!(h, "<dt><code>{}</code></dt><dd>{}</dd>", escape(key), escape(about));
    }
    h.push_str("</dl>\n");

    if !charts.is_empty() {
        h.push_str("<h2 id=\"charts\">Charts</h2>\n<p>Every run's curves on the same axes, each named \"run: strategy\".</p>\n");
    }
    for c in charts {
        let _ = writeln!(
            h,
            "<figure id=\"chart-{}\" data-chart=\"{}\">\n<h3>{}</h3>\n{}\n<figcaption>{} (<a href=\"charts/{}.svg\">SVG</a>, <a href=\"charts/{}.png\">PNG</a>)</figcaption>\n</figure>",
            c.name,
            c.name,
            escape(&c.title),
            inline_svg(&c.svg),
            escape(c.about),
            c.name,
            c.name,
        );
    }
    h.push_str("</body>\n</html>\n");
    h
}
