//! The summary as an aligned terminal table.

use crate::metrics::StrategySummary;
use crate::scenario::Scenario;
use crate::sim::RunOutput;

/// What each column of the summary means: (header, JSON key, sentence).
pub const COLUMNS: &[(&str, &str, &str)] = &[
    (
        "attempted",
        "connections.attempted",
        "Connection attempts after the warm-up: every strategy faces the same arrivals, destinations and lifetimes.",
    ),
    (
        "failed",
        "connections.failed",
        "Attempts that found no usable port (the application would see EADDRNOTAVAIL).",
    ),
    (
        "fail %",
        "connections.failed_fraction",
        "Failed attempts as a percentage of attempts; ~ when the run had not reached its steady state (steady.settled), so the steady-state closed forms do not apply.",
    ),
    (
        "probes mean",
        "probes.mean",
        "Candidate ports examined per attempt on average, failed attempts included: 1 means the first candidate was always usable.",
    ),
    ("p99", "probes.p99", "99 % of attempts examined at most this many candidates."),
    (
        "max",
        "probes.max",
        "The most candidates one attempt examined; ^ when an attempt in the warm-up examined more (warmup.max_probes).",
    ),
    (
        "coll local",
        "collisions.local",
        "Candidates check_suitable_port rejected because the port (or 4-tuple) was in use, summed over all attempts.",
    ),
    (
        "coll remote",
        "collisions.remote",
        "New connections whose 4-tuple the server still held in TIME_WAIT (RFC 6056 §2.3): possible only when the server closes first.",
    ),
    (
        "reuse <thr",
        "reuse.within_threshold",
        "New connections on a 4-tuple that had been closed less than the reuse threshold before.",
    ),
    ("reuse min", "reuse.interval_s.min", "The shortest time between a 4-tuple's close and its next use."),
    (
        "1st fail",
        "exhaustion.first_failure_s",
        "Simulated time of the first failed attempt of the run (- when none failed); * when it came in the warm-up, before the counted window.",
    ),
    (
        "exhausted",
        "exhaustion.exhausted_s",
        "Time spent exhausted: from each failure that found the host not already failing to the next success (or the run's end), summed.",
    ),
    (
        "peak occ",
        "occupancy.peak",
        "The most 4-tuples live or in TIME_WAIT toward one destination at once: compare it with the usable ports n.",
    ),
    ("ports used", "port_usage.distinct", "Ports that carried at least one connection."),
    (
        "max/mean",
        "port_usage.max_over_mean",
        "The busiest port's connections over the mean per usable port: 1 is a perfectly even spread.",
    ),
];

fn fmt_opt_s(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(x) if x >= 100.0 => format!("{x:.0}s"),
        Some(x) if x >= 1.0 => format!("{x:.2}s"),
        Some(x) => format!("{:.1}ms", x * 1e3),
    }
}

/// The summary's cells in [`COLUMNS`] order, after the strategy's name: what the terminal table
/// and `report.html` both show.
pub fn summary_cells(s: &StrategySummary) -> Vec<String> {
    vec![
        s.name.clone(),
        s.connections.attempted.to_string(),
        s.connections.failed.to_string(),
        format!("{:.3}", s.connections.failed_fraction * 100.0) + if s.steady.settled { "" } else { "~" },
        format!("{:.3}", s.probes.mean),
        s.probes.p99.to_string(),
        s.probes.max.to_string() + if s.warmup.held_more { "^" } else { "" },
        s.collisions.local.to_string(),
        s.collisions.remote.to_string(),
        s.reuse.within_threshold.to_string(),
        fmt_opt_s(s.reuse.interval_s.min),
        fmt_opt_s(s.exhaustion.first_failure_s) + if s.exhaustion.first_failure_in_warmup { "*" } else { "" },
        if s.exhaustion.episodes.count == 0 { "-".into() } else { fmt_opt_s(Some(s.exhaustion.exhausted_s)) },
        s.occupancy.peak.to_string(),
        s.port_usage.distinct.to_string(),
        format!("{:.2}", s.port_usage.max_over_mean),
    ]
}

/// What the figures of the table do not say by themselves, one sentence each: the table prints
/// them under it and `report.html` under its summary.
pub fn summary_notes(scenario: &Scenario, outputs: &[RunOutput]) -> Vec<String> {
    let mut notes = Vec::new();
    // A profile that models undocumented behaviour says so (windows).
    for o in outputs {
        if let Some(a) = o.summary.settings.pointer("/parameters/assumption").and_then(|v| v.as_str()) {
            notes.push(format!("{} is an assumption: {a}", o.summary.name));
        }
    }
    let early: Vec<&str> = outputs
        .iter()
        .filter(|o| o.summary.exhaustion.first_failure_in_warmup)
        .map(|o| o.summary.name.as_str())
        .collect();
    if !early.is_empty() {
        notes.push(format!(
            "* {} first failed in the warm-up, before the counted window (exhaustion counts the whole run)",
            early.join(", ")
        ));
    }
    // Strategies that failed the steady-state test for the same reason share one note.
    let mut unsettled: Vec<(String, Vec<&str>)> = Vec::new();
    for o in outputs.iter().filter(|o| !o.summary.steady.settled) {
        let st = &o.summary.steady;
        let mut why = Vec::new();
        if st.too_short {
            why.push(format!(
                "{} is under {} holds of {:.1} s (p99 lifetime + TIME_WAIT) and the warm-up under one",
                crate::time::format_duration(scenario.duration),
                crate::metrics::steady::SETTLE_FACTOR,
                st.hold_s
            ));
        }
        if st.still_rising {
            why.push(format!(
                "occupancy still rising at the end ({:.0} -> {:.0} held, third to last quarter)",
                st.occupancy_third_quarter, st.occupancy_last_quarter
            ));
        }
        let why = why.join("; ");
        match unsettled.iter_mut().find(|(w, _)| *w == why) {
            Some((_, names)) => names.push(&o.summary.name),
            None => unsettled.push((why, vec![&o.summary.name])),
        }
    }
    for (why, names) in unsettled {
        notes.push(format!(
            "~ {} not at steady state: {why}; do not read against the steady-state closed forms (lengthen duration or warmup)",
            names.join(", ")
        ));
    }
    for o in outputs.iter().filter(|o| o.summary.warmup.held_more) {
        let (s, w) = (&o.summary, &o.summary.warmup);
        notes.push(format!(
            "^ {}: the warm-up (first {}) held more than the counted window: {} attempts, {} failed, at most {} probes (counted: at most {}, {} failed)",
            s.name,
            crate::time::format_duration(scenario.warmup),
            w.attempts,
            w.failures,
            w.max_probes,
            s.probes.max,
            s.connections.failed
        ));
    }
    notes
}

/// One row per strategy, columns right-aligned, a header and a rule, then the notes.
pub fn render_table(scenario: &Scenario, outputs: &[RunOutput]) -> String {
    let header: Vec<&str> = std::iter::once("strategy").chain(COLUMNS.iter().map(|c| c.0)).collect();
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    rows.extend(outputs.iter().map(|o| summary_cells(&o.summary)));
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
    for n in summary_notes(scenario, outputs) {
        out.push_str(&format!("note: {n}\n"));
    }
    out
}
