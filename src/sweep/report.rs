//! The sweep's `report.html`: one self-contained page (no scripts, charts inline as SVG) with
//! what was swept, where each strategy first failed, the charts and the table of every
//! (point, strategy), so a sweep reads in a browser as a run does.

use super::SweepResult;
use super::chart::SweepChart;
use crate::report::html::{escape, inline_svg, page_start, table};
use std::fmt::Write as _;

fn pct(x: f64) -> String {
    format!("{:.3}", 100.0 * x)
}

fn pm(mean: String, ci: Option<String>) -> String {
    match ci {
        Some(c) => format!("{mean} ± {c}"),
        None => mean,
    }
}

/// Where each strategy first failed along the grid (the first point, in grid order, whose mean
/// failed fraction is above zero), or that it never did: measured, from the rows.
pub fn findings(r: &SweepResult) -> Vec<String> {
    let mut out = Vec::new();
    let mut never = Vec::new();
    for name in &r.strategies {
        let first = r.rows.iter().find(|row| &row.strategy == name && row.failed_fraction.mean > 0.0);
        match first {
            Some(row) => out.push(format!(
                "{name} first failed at {}: {} % of its attempts{}.",
                point_label(r, row.point),
                pct(row.failed_fraction.mean),
                row.failed_fraction
                    .ci95
                    .map(|c| format!(" (± {} over the seeds)", pct(c)))
                    .unwrap_or_default()
            )),
            None => never.push(name.as_str()),
        }
    }
    if !never.is_empty() {
        out.push(format!("{} failed no attempt at any point swept.", never.join(", ")));
    }
    out
}

fn point_label(r: &SweepResult, point: usize) -> String {
    r.varies
        .iter()
        .zip(&r.points[point].values)
        .map(|(v, x)| format!("{} = {}", v.key, x.label))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The page, from the sweep's rows and the charts it drew.
pub(crate) fn report_html(r: &SweepResult, charts: &[SweepChart]) -> String {
    let mut h = page_start(&format!("portsim sweep: {}", r.name));
    let _ = writeln!(h, "<h1>{} sweep</h1>", escape(&r.name));
    let done = r.rows.iter().map(|row| row.point).collect::<std::collections::BTreeSet<_>>().len();
    let _ = writeln!(
        h,
        "<p class=\"meta\">portsim {} &middot; from <code>{}</code> &middot; {} of {} points &times; {} strateg{} &times; {} seed{} (from seed {}) &middot; swept: {}</p>",
        env!("CARGO_PKG_VERSION"),
        escape(&r.origin),
        done,
        r.points.len(),
        r.strategies.len(),
        if r.strategies.len() == 1 { "y" } else { "ies" },
        r.seeds,
        if r.seeds == 1 { "" } else { "s" },
        r.seed,
        escape(
            &r.varies
                .iter()
                .map(|v| format!(
                    "{} = {}",
                    v.key,
                    v.values.iter().map(|x| x.label.as_str()).collect::<Vec<_>>().join(", ")
                ))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    );
    h.push_str("<h2 id=\"findings\">Findings</h2>\n<ul class=\"findings\">\n");
    for f in findings(r) {
        let _ = writeln!(h, "<li>{}</li>", escape(&f));
    }
    h.push_str("</ul>\n");
    if let Some(note) = super::transient_note(r) {
        let _ = writeln!(h, "<p class=\"note\">Note: {}.</p>", escape(&note));
    }
    if let Some(note) = &r.closed_form_note {
        let _ = writeln!(h, "<p class=\"note\">Closed forms: {}</p>", escape(note));
    }

    h.push_str("<h2 id=\"charts\">Charts</h2>\n");
    for c in charts {
        let _ = writeln!(
            h,
            "<figure id=\"chart-{0}\" data-chart=\"{0}\">\n{1}\n<figcaption>{0} (<a href=\"charts/{0}.svg\">SVG</a>, <a href=\"charts/{0}.png\">PNG</a>)</figcaption>\n</figure>",
            escape(&c.name),
            inline_svg(&c.svg),
        );
    }

    h.push_str("<h2 id=\"table\">Every point</h2>\n<p>Means over the seeds with 95 % confidence half-widths; Erlang-B and 1/(1-ρ) are the closed forms at the point. The same rows, with every column, are in sweep.csv beside this file.</p>\n");
    let mut headers: Vec<&str> = r.varies.iter().map(|v| v.key.as_str()).collect();
    headers.extend([
        "strategy",
        "fail %",
        "Erlang-B %",
        "candidates mean",
        "1/(1-ρ)",
        "p99 candidates",
        "first failure s",
        "steady state",
    ]);
    let rows: Vec<Vec<String>> = r
        .rows
        .iter()
        .map(|row| {
            let mut cells: Vec<String> = r.points[row.point].values.iter().map(|v| v.label.clone()).collect();
            let cf = row.closed_form;
            cells.extend([
                row.strategy.clone(),
                pm(pct(row.failed_fraction.mean), row.failed_fraction.ci95.map(pct)),
                cf.map(|c| pct(c.blocking)).unwrap_or_else(|| "-".into()),
                pm(
                    format!("{:.3}", row.mean_candidates.mean),
                    row.mean_candidates.ci95.map(|c| format!("{c:.3}")),
                ),
                cf.and_then(|c| c.random_pick_candidates)
                    .map(|c| format!("{c:.3}"))
                    .unwrap_or_else(|| "-".into()),
                format!("{:.1}", row.p99_candidates),
                row.first_failure_s.map(|t| format!("{t:.3}")).unwrap_or_else(|| "-".into()),
                if row.steady_state { "yes".into() } else { "no".into() },
            ]);
            cells
        })
        .collect();
    h.push_str(&table(&headers, &rows));
    h.push_str("<p class=\"meta\">The same figures as data: sweep.csv and sweep.json beside this file.</p>\n</body>\n</html>\n");
    h
}
