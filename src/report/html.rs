//! `report.html`: one self-contained page (no scripts, no external assets, charts inline as
//! SVG) with the scenario, the effective settings of every strategy, the summary table, one
//! sentence per metric and the charts.

use super::charts::Chart;
use super::table::{COLUMNS, summary_cells, summary_notes};
use crate::scenario::Scenario;
use crate::sim::RunOutput;
use std::fmt::Write as _;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// One table row; each cell carries its column's name (`data-label`), which the phone layout
/// shows beside the value once the table is laid out as one card per row.
fn row(out: &mut String, labels: &[&str], cells: &[String]) {
    out.push_str("<tr>");
    for (i, c) in cells.iter().enumerate() {
        let label = escape(labels.get(i).copied().unwrap_or(""));
        if i == 0 {
            let _ = write!(out, "<th scope=\"row\" data-label=\"{label}\">{}</th>", escape(c));
        } else {
            let _ = write!(out, "<td data-label=\"{label}\">{}</td>", escape(c));
        }
    }
    out.push_str("</tr>\n");
}

/// A whole table in its scrolling box: a header row, then one row per entry (the first cell a
/// row header). Shared by the run, sweep, compare and index pages so they read alike.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::from("<div class=\"scroll\"><table class=\"cards\">\n<thead><tr>");
    for h in headers {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for r in rows {
        row(&mut out, headers, r);
    }
    out.push_str("</tbody>\n</table></div>\n");
    out
}

/// The start of a page: doctype, title, the shared style, up to the open `<body>`.
pub fn page_start(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(title)
    )
}

/// An SVG file's text without its XML prolog, to be placed inline in a page.
pub fn inline_svg(svg: &str) -> &str {
    strip_xml_prolog(svg)
}

/// A JSON value as table text: strings bare, `null` as "-", lists joined.
pub fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "-".into(),
        serde_json::Value::Array(a) if a.is_empty() => "none".into(),
        serde_json::Value::Array(a) => a.iter().map(json_text).collect::<Vec<_>>().join(", "),
        serde_json::Value::Object(o) => {
            o.iter().map(|(k, v)| format!("{k} = {}", json_text(v))).collect::<Vec<_>>().join(", ")
        }
        other => other.to_string(),
    }
}

const STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', sans-serif; margin: 2rem auto; max-width: 1180px; padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; }
.meta { color: #555; }
table { border-collapse: collapse; margin: 0.6rem 0; font-size: 0.88rem; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.4rem; text-align: right; vertical-align: top; }
th[scope=row], thead th:first-child, td.left, .kv td { text-align: left; }
td { white-space: nowrap; } td.left { white-space: normal; min-width: 16rem; }
thead th { background: #f3f3f3; }
.scroll { overflow-x: auto; }
figure { margin: 1.2rem 0 2rem 0; } figcaption { color: #444; max-width: 60rem; }
figure svg { box-sizing: border-box; max-width: 100%; height: auto; border: 1px solid #eee; }
dt { font-weight: 600; margin-top: 0.4rem; } dd { margin-left: 1.2rem; }
.swatch { display: inline-block; width: 0.8rem; height: 0.8rem; border-radius: 2px; margin-right: 0.35rem; vertical-align: -0.05rem; }
code { overflow-wrap: anywhere; }
.within { color: #666; } .beyond { font-weight: 600; }
@media (max-width: 44rem) {
  body { margin: 1rem auto; padding: 0 0.6rem; }
  .kv td, .kv th { white-space: normal; overflow-wrap: anywhere; }
  table.cards, table.cards tbody, table.cards tr, table.cards th, table.cards td { display: block; width: auto; }
  table.cards thead { display: none; }
  table.cards tr { border: 1px solid #ddd; margin: 0 0 0.6rem 0; }
  table.cards th, table.cards td { border: none; border-bottom: 1px solid #eee; text-align: left; white-space: normal; overflow-wrap: anywhere; min-width: 0; }
  table.cards td::before { content: attr(data-label) \": \"; color: #555; }
}
";

/// The page. `scenario_json` is `summary.json`'s scenario object.
pub fn report_html(
    scenario: &Scenario,
    scenario_json: &serde_json::Value,
    outputs: &[RunOutput],
    charts: &[Chart],
    expectations: &[super::expectations::Checked],
    across_seeds: Option<&[super::seeds::AcrossSeeds]>,
) -> String {
    let mut h = String::new();
    let title = format!("portsim: {}", scenario.name);
    h.push_str(&page_start(&title));
    let _ = writeln!(h, "<h1>{}</h1>", escape(&scenario.name));
    if !scenario.description.is_empty() {
        let _ = writeln!(h, "<p>{}</p>", escape(&scenario.description));
    }
    let _ = writeln!(
        h,
        "<p class=\"meta\">portsim {} &middot; seed {} &middot; {} simulated, the first {} a warm-up left out of every count &middot; from <code>{}</code></p>",
        env!("CARGO_PKG_VERSION"),
        escape(&json_text(&scenario_json["seed"])),
        escape(&crate::time::format_duration(scenario.duration)),
        escape(&crate::time::format_duration(scenario.warmup)),
        escape(&scenario.origin),
    );

    let found = super::findings::findings(outputs);
    if !found.is_empty() {
        h.push_str("<h2 id=\"findings\">Findings</h2>\n<ul class=\"findings\">\n");
        for f in &found {
            let _ = writeln!(h, "<li>{}</li>", escape(f));
        }
        h.push_str("</ul>\n");
    }

    h.push_str("<h2 id=\"scenario\">Scenario</h2>\n<table class=\"kv\">\n<tbody>\n");
    if let Some(obj) = scenario_json.as_object() {
        for (k, v) in obj {
            if matches!(k.as_str(), "name" | "description") {
                continue;
            }
            row(&mut h, &["setting", "value"], &[k.clone(), json_text(v)]);
        }
    }
    h.push_str("</tbody>\n</table>\n");

    h.push_str("<h2 id=\"settings\">Effective settings per strategy</h2>\n<p>What each strategy ran with: the scenario's settings, else its OS profile's, else Linux's defaults.</p>\n<div class=\"scroll\"><table class=\"cards\">\n<thead><tr><th>strategy</th><th>algorithm</th><th>range</th><th>ports</th><th>reserved</th><th>scope</th><th>TIME_WAIT</th><th>tw_reuse</th><th>tw_reuse delay</th><th class=\"left\">parameters</th></tr></thead>\n<tbody>\n");
    let looks = super::plot::looks(outputs.iter().map(|o| o.summary.name.as_str()));
    for (o, look) in outputs.iter().zip(&looks) {
        let s = &o.summary;
        let get = |k: &str| s.settings.get(k).map(json_text).unwrap_or_else(|| "-".into());
        let secs = |k: &str| {
            s.settings.get(k).and_then(|v| v.as_f64()).map(|x| format!("{x} s")).unwrap_or_else(|| "-".into())
        };
        let _ = write!(
            h,
            "<tr><th scope=\"row\" data-label=\"strategy\"><span class=\"swatch\" style=\"background:{}\"></span>{}</th>",
            swatch(look.colour),
            escape(&s.name)
        );
        for (label, c) in [
            ("algorithm", s.strategy.clone()),
            ("range", get("range")),
            ("ports", get("ports")),
            ("reserved", get("reserved")),
            ("scope", get("scope")),
            ("TIME_WAIT", secs("time_wait_s")),
            ("tw_reuse", get("tw_reuse")),
            ("tw_reuse delay", secs("tw_reuse_delay_s")),
        ] {
            let _ = write!(h, "<td data-label=\"{label}\">{}</td>", escape(&c));
        }
        let _ = writeln!(
            h,
            "<td class=\"left\" data-label=\"parameters\">{}</td></tr>",
            escape(&get("parameters"))
        );
    }
    h.push_str("</tbody>\n</table></div>\n");

    h.push_str(
        "<h2 id=\"summary\">Summary</h2>\n<div class=\"scroll\"><table class=\"cards\">\n<thead><tr><th>strategy</th>",
    );
    for (name, key, about) in COLUMNS {
        let _ = write!(h, "<th title=\"{}: {}\">{}</th>", escape(key), escape(about), escape(name));
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    let labels: Vec<&str> = std::iter::once("strategy").chain(COLUMNS.iter().map(|c| c.0)).collect();
    for o in outputs {
        let s = &o.summary;
        row(&mut h, &labels, &summary_cells(s));
    }
    h.push_str("</tbody>\n</table></div>\n");
    for n in summary_notes(scenario, outputs) {
        let _ = writeln!(h, "<p class=\"note\">Note: {}</p>", escape(&n));
    }

    if let Some(across) = across_seeds.filter(|a| !a.is_empty()) {
        let _ = writeln!(
            h,
            "<h2 id=\"seeds\">Over {} seeds</h2>\n<p>Means with 95 % confidence half-widths over seeds {}; the rest of this page is seed {}'s run.</p>\n<div class=\"scroll\"><table class=\"cards\">\n<thead><tr><th>strategy</th>",
            across[0].seeds.len(),
            escape(&across[0].seeds.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", ")),
            across[0].seeds[0]
        );
        for (name, key) in super::seeds::SEED_METRICS {
            let _ = write!(h, "<th title=\"{}\">{}</th>", escape(key), escape(name));
        }
        h.push_str("</tr></thead>\n<tbody>\n");
        let labels: Vec<&str> =
            std::iter::once("strategy").chain(super::seeds::SEED_METRICS.iter().map(|m| m.0)).collect();
        for a in across {
            let mut cells = vec![a.name.clone()];
            cells.extend(super::seeds::cells(a));
            row(&mut h, &labels, &cells);
        }
        h.push_str("</tbody>\n</table></div>\n");
    }
    if !expectations.is_empty() {
        let failed = expectations.iter().filter(|c| !c.passed).count();
        let _ = writeln!(
            h,
            "<h2 id=\"expect\">Expectations</h2>\n<p>{} of {} assertions of <code>[expect]</code> hold.</p>\n<ul>",
            expectations.len() - failed,
            expectations.len()
        );
        for c in expectations {
            let _ = writeln!(
                h,
                "<li>{} {}</li>",
                if c.passed { "PASS" } else { "<strong>FAIL</strong>" },
                escape(&c.text)
            );
        }
        h.push_str("</ul>\n");
    }
    h.push_str("<h2 id=\"metrics\">What the columns mean</h2>\n<dl>\n");
    for (name, key, about) in COLUMNS {
        let _ =
            writeln!(h, "<dt>{} <code>{}</code></dt><dd>{}</dd>", escape(name), escape(key), escape(about));
    }
    let threshold = format!("{} s", crate::time::secs(scenario.metrics.reuse_threshold));
    let _ = writeln!(h, "</dl>\n<p>The reuse threshold of this run is {}.</p>", escape(&threshold));

    h.push_str("<h2 id=\"charts\">Charts</h2>\n");
    for c in charts {
        let _ = writeln!(
            h,
            "<figure id=\"chart-{}\" data-chart=\"{}\">\n<h3>{}</h3>\n{}\n<figcaption>{} (<a href=\"charts/{}.svg\">SVG</a>, <a href=\"charts/{}.png\">PNG</a>)</figcaption>\n</figure>",
            c.name,
            c.name,
            escape(&c.title),
            strip_xml_prolog(&c.svg),
            escape(c.about),
            c.name,
            c.name,
        );
    }
    h.push_str("<p class=\"meta\">The same figures as data: summary.json, summary.csv, timeseries.csv and port_usage.csv beside this file (summary.json also says how fast the simulator ran; this page leaves wall-clock figures out, so the same scenario and seed give the same page).</p>\n</body>\n</html>\n");
    h
}

/// A strategy's chart colour, as CSS.
fn swatch(c: plotters::style::RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

fn strip_xml_prolog(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
    }
}
