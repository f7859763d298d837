//! The summary as an aligned terminal table: a compact one within [`COMPACT_WIDTH`] columns by
//! default, every column with `--wide`. One unit per column, named in its header: times are
//! seconds, fractions percent, everything else a count or a ratio.

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
    ("reuse min s", "reuse.interval_s.min", "The shortest time between a 4-tuple's close and its next use."),
    (
        "1st fail s",
        "exhaustion.first_failure_s",
        "Simulated time of the first failed attempt of the run (- when none failed); * when it came in the warm-up, before the counted window.",
    ),
    (
        "exhausted s",
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

/// The columns of the compact table, most important first: when the figures are too wide for
/// [`COMPACT_WIDTH`], the last ones go first. A user reads whether connections failed and when,
/// what the search cost, and how close the busiest destination came to the usable ports.
const COMPACT: &[&str] = &[
    "connections.failed_fraction",
    "connections.failed",
    "probes.mean",
    "exhaustion.first_failure_s",
    "occupancy.peak",
    "probes.max",
    "collisions.local",
    "reuse.within_threshold",
];

/// The width the compact table keeps within (unless the strategy names alone exceed it).
pub const COMPACT_WIDTH: usize = 100;

/// Seconds, with a precision that fits the magnitude: whole seconds from 100 s, hundredths from
/// 1 s, three significant digits below (a 1.2 ms reuse interval is `0.00120`).
fn fmt_opt_s(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(x) if x >= 100.0 => format!("{x:.0}"),
        Some(x) if x >= 1.0 => format!("{x:.2}"),
        Some(x) if x <= 0.0 => "0".into(),
        Some(x) => {
            let decimals = (2 - x.log10().floor() as i32).clamp(3, 9) as usize;
            format!("{x:.decimals$}")
        }
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

/// The table with every column (`portsim run --wide`): one row per strategy, columns
/// right-aligned, a header and a rule, then the notes.
pub fn render_table(scenario: &Scenario, outputs: &[RunOutput]) -> String {
    let rows = rows(outputs);
    let all: Vec<usize> = (0..rows[0].len()).collect();
    let mut out = aligned(&rows, &all);
    for n in summary_notes(scenario, outputs) {
        out.push_str(&format!("note: {n}\n"));
    }
    out
}

/// The default table of `portsim run`: the strategy and the compact columns, in the wide
/// table's order, within [`COMPACT_WIDTH`] columns; a last note names what `--wide` adds.
pub fn render_compact_table(scenario: &Scenario, outputs: &[RunOutput]) -> String {
    let rows = rows(outputs);
    let keys: Vec<&str> = COLUMNS.iter().map(|c| c.1).collect();
    let (shown, hidden) = compact_columns(&rows, &keys);
    let mut out = aligned(&rows, &shown);
    let wide = wide_adds(&rows, &hidden);
    for n in summary_notes(scenario, outputs).iter().chain(std::iter::once(&wide)) {
        out.push_str(&wrap_note(n, COMPACT_WIDTH));
    }
    out
}

/// The columns of `rows` a compact table shows (the first, the strategy, always) and those it
/// leaves to `--wide`, when column `c` holds the summary key `keys[c - 1]`: the [`COMPACT`]
/// keys, dropped from the least read on until the table fits [`COMPACT_WIDTH`].
pub(super) fn compact_columns(rows: &[Vec<String>], keys: &[&str]) -> (Vec<usize>, Vec<usize>) {
    let widths = column_widths(rows);
    let mut kept: Vec<usize> =
        COMPACT.iter().filter_map(|k| keys.iter().position(|c| c == k)).map(|i| i + 1).collect();
    let width = |cols: &[usize]| widths[0] + cols.iter().map(|&c| widths[c] + 2).sum::<usize>();
    while kept.len() > 1 && width(&kept) > COMPACT_WIDTH {
        kept.pop();
    }
    kept.sort_unstable();
    let hidden = (1..rows[0].len()).filter(|c| !kept.contains(c)).collect();
    (std::iter::once(0).chain(kept).collect(), hidden)
}

/// The last note of a compact table: `--wide adds` and the headers of the `hidden` columns.
pub(super) fn wide_adds(rows: &[Vec<String>], hidden: &[usize]) -> String {
    format!("--wide adds {}", hidden.iter().map(|&c| rows[0][c].as_str()).collect::<Vec<_>>().join(", "))
}

/// `note: ` and `text`, broken at spaces into lines of at most `width` characters (a word
/// longer than that stands alone), the following lines indented under the text.
pub(super) fn wrap_note(text: &str, width: usize) -> String {
    const LEAD: &str = "note: ";
    let mut out = String::from(LEAD);
    let mut line = LEAD.len();
    for (i, word) in text.split(' ').enumerate() {
        let n = word.chars().count();
        if i > 0 && line + 1 + n > width {
            out.push('\n');
            out.push_str(&" ".repeat(LEAD.len()));
            line = LEAD.len();
        } else if i > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(word);
        line += n;
    }
    out.push('\n');
    out
}

/// The header row, then one row of [`summary_cells`] per strategy.
fn rows(outputs: &[RunOutput]) -> Vec<Vec<String>> {
    let header = std::iter::once("strategy").chain(COLUMNS.iter().map(|c| c.0)).map(String::from).collect();
    std::iter::once(header).chain(outputs.iter().map(|o| summary_cells(&o.summary))).collect()
}

fn column_widths(rows: &[Vec<String>]) -> Vec<usize> {
    (0..rows[0].len()).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect()
}

/// The columns `cols` of `rows`, the first left-aligned, the others right-aligned, two spaces
/// apart, with a rule under the header.
pub(super) fn aligned(rows: &[Vec<String>], cols: &[usize]) -> String {
    let widths = column_widths(rows);
    let mut out = String::new();
    for (i, r) in rows.iter().enumerate() {
        let cells: Vec<String> = cols
            .iter()
            .map(|&c| {
                let (v, w) = (&r[c], widths[c]);
                if c == 0 { format!("{v:<w$}") } else { format!("{v:>w$}") }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
        if i == 0 {
            out.push_str(&"-".repeat(cols.iter().map(|&c| widths[c]).sum::<usize>() + 2 * (cols.len() - 1)));
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{fmt_opt_s, wrap_note};

    #[test]
    fn notes_wrap_under_their_text() {
        let text = "aaa bbbb cc dddddddddddd e";
        assert_eq!(wrap_note(text, 16), "note: aaa bbbb\n      cc\n      dddddddddddd\n      e\n");
        assert_eq!(wrap_note("short", 100), "note: short\n");
    }

    #[test]
    fn seconds_keep_one_unit_whatever_the_magnitude() {
        let cells: Vec<String> =
            [None, Some(0.0), Some(0.0012), Some(0.5), Some(1.0), Some(60.0), Some(136.4)]
                .map(fmt_opt_s)
                .into();
        assert_eq!(cells, ["-", "0", "0.00120", "0.500", "1.00", "60.00", "136"]);
    }
}
