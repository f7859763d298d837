//! The summary as an aligned terminal table.

use crate::sim::RunOutput;

fn fmt_opt_s(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(x) if x >= 100.0 => format!("{x:.0}s"),
        Some(x) if x >= 1.0 => format!("{x:.2}s"),
        Some(x) => format!("{:.1}ms", x * 1e3),
    }
}

/// One row per strategy, columns right-aligned, a header and a rule.
pub fn render_table(outputs: &[RunOutput]) -> String {
    let header = [
        "strategy",
        "attempted",
        "failed",
        "fail %",
        "probes mean",
        "p99",
        "max",
        "coll local",
        "coll remote",
        "reuse <thr",
        "reuse min",
        "1st fail",
        "peak occ",
        "ports used",
        "max/mean",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    for o in outputs {
        let s = &o.summary;
        rows.push(vec![
            s.name.clone(),
            s.connections.attempted.to_string(),
            s.connections.failed.to_string(),
            format!("{:.3}", s.connections.failed_fraction * 100.0),
            format!("{:.3}", s.probes.mean),
            s.probes.p99.to_string(),
            s.probes.max.to_string(),
            s.collisions.local.to_string(),
            s.collisions.remote.to_string(),
            s.reuse.within_threshold.to_string(),
            fmt_opt_s(s.reuse.interval_s.min),
            fmt_opt_s(s.exhaustion.first_failure_s),
            s.occupancy.peak.to_string(),
            s.port_usage.distinct.to_string(),
            format!("{:.2}", s.port_usage.max_over_mean),
        ]);
    }
    let widths: Vec<usize> =
        (0..header.len()).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for (i, r) in rows.iter().enumerate() {
        let cells: Vec<String> =
            r.iter()
                .enumerate()
                .map(|(c, v)| {
                    if c == 0 { format!("{v:<w$}", w = widths[c]) } else { format!("{v:>w$}", w = widths[c]) }
                })
                .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
        if i == 0 {
            out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1)));
            out.push('\n');
        }
    }
    out
}
