//! The findings that open `report.html`: one sentence per notable result, each computed from the
//! run's measured summaries (never from the scenario's inputs), so a reader learns what happened
//! before reading how it was measured.

use crate::metrics::StrategySummary;
use crate::sim::RunOutput;

fn secs(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0} s")
    } else if v >= 1.0 {
        format!("{v:.1} s")
    } else {
        format!("{v:.3} s")
    }
}

fn names(list: &[&str]) -> String {
    match list {
        [] => String::new(),
        [a] => (*a).to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// The findings of a run, in reading order.
pub fn findings(outputs: &[RunOutput]) -> Vec<String> {
    let mut out = Vec::new();
    if outputs.is_empty() {
        return out;
    }
    let summaries: Vec<_> = outputs.iter().map(|o| &o.summary).collect();

    // Who ran out first, and who never did.
    let mut failing: Vec<_> =
        summaries.iter().filter_map(|s| s.exhaustion.first_failure_s.map(|t| (t, *s))).collect();
    failing.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.name.cmp(&b.1.name)));
    let never: Vec<&str> = summaries
        .iter()
        .filter(|s| s.exhaustion.first_failure_s.is_none())
        .map(|s| s.name.as_str())
        .collect();
    match failing.first() {
        None => {
            out.push("No strategy failed a connection attempt: every attempt found a usable port.".into())
        }
        Some(&(t, s)) => {
            let mut f = format!(
                "{} failed first, at {t:.3} s ({} failed attempts, {:.3}% of its attempts).",
                s.name,
                s.connections.failed,
                100.0 * s.connections.failed_fraction
            );
            if let Some(&(t2, s2)) = failing.iter().find(|(t2, _)| *t2 > t) {
                f.push_str(&format!(" Next: {} at {t2:.3} s.", s2.name));
            }
            if !never.is_empty() {
                f.push_str(&format!(" {} never failed.", names(&never)));
            }
            out.push(f);
        }
    }

    // The longest stretch without a usable port.
    if let Some(s) = summaries
        .iter()
        .filter(|s| s.exhaustion.episodes.count > 0)
        .max_by(|a, b| a.exhaustion.episodes.longest_s.total_cmp(&b.exhaustion.episodes.longest_s))
    {
        let recovered = s.exhaustion.episodes.list.iter().all(|e| e.recovered);
        out.push(format!(
            "{}'s longest exhaustion lasted {} ({} episode{}, {} in all){}.",
            s.name,
            secs(s.exhaustion.episodes.longest_s),
            s.exhaustion.episodes.count,
            if s.exhaustion.episodes.count == 1 { "" } else { "s" },
            secs(s.exhaustion.episodes.total_s),
            if recovered { "" } else { "; it had not recovered when the run ended" }
        ));
    }

    // Who reused a 4-tuple soonest after its close.
    if let Some(s) = summaries.iter().filter(|s| s.reuse.interval_s.min.is_some()).min_by(|a, b| {
        a.reuse.interval_s.min.unwrap_or(f64::MAX).total_cmp(&b.reuse.interval_s.min.unwrap_or(f64::MAX))
    }) {
        out.push(format!(
            "{} reused a 4-tuple soonest: {} after its previous close; {} of its {} reuses came within the {} threshold.",
            s.name,
            secs(s.reuse.interval_s.min.unwrap_or(0.0)),
            s.reuse.within_threshold,
            s.reuse.count,
            secs(s.reuse.threshold_s)
        ));
    } else {
        out.push("No 4-tuple was used twice after the warm-up.".into());
    }

    // Search cost: the most and the fewest candidates per attempt.
    let with_attempts: Vec<_> = summaries.iter().filter(|s| s.connections.attempted > 0).collect();
    if with_attempts.len() > 1 {
        let most = with_attempts.iter().max_by(|a, b| a.probes.mean.total_cmp(&b.probes.mean)).copied();
        let least = with_attempts.iter().min_by(|a, b| a.probes.mean.total_cmp(&b.probes.mean)).copied();
        if let (Some(m), Some(l)) = (most, least)
            && m.probes.mean > l.probes.mean * 1.05
        {
            out.push(format!(
                "{} examined the most candidate ports per attempt: {:.2} on average, {} at most; {} the fewest, {:.2}.",
                m.name, m.probes.mean, m.probes.max, l.name, l.probes.mean
            ));
        }
    }

    // The most uneven spread over the range.
    if let Some(s) = summaries
        .iter()
        .filter(|s| s.port_usage.distinct > 0)
        .max_by(|a, b| a.port_usage.max_over_mean.total_cmp(&b.port_usage.max_over_mean))
        && s.port_usage.max_over_mean >= 1.5
    {
        out.push(format!(
            "{} spread its connections least evenly: its busiest port carried {:.2} times the mean.",
            s.name, s.port_usage.max_over_mean
        ));
    }

    // A jump in the candidates each attempt examined: the parity cliff on Linux.
    out.extend(outputs.iter().filter_map(candidates_jump));

    // What the warm-up left out of the counts: one sentence for every strategy it hid failures of.
    let hidden: Vec<_> = summaries.iter().filter(|s| s.warmup.failures > 0).collect();
    if let [s] = hidden.as_slice() {
        out.push(format!(
            "The warm-up hid {} failed attempts of {} (of {} attempts in the first {}); the counts above leave them out.",
            s.warmup.failures,
            s.name,
            s.warmup.attempts,
            secs(s.warmup.duration_s)
        ));
    } else if let Some(first) = hidden.first() {
        let each: Vec<String> = hidden
            .iter()
            .map(|s| format!("{} of {}'s {} attempts", s.warmup.failures, s.name, s.warmup.attempts))
            .collect();
        out.push(format!(
            "The warm-up hid failed attempts of {} strategies ({}) in the first {}; the counts above leave them out.",
            hidden.len(),
            names(&each.iter().map(String::as_str).collect::<Vec<_>>()),
            secs(first.warmup.duration_s)
        ));
    }
    // A longer search in the warm-up than any counted one (a counter wrapping, a burst at the
    // start): the counted maximum understates what the strategy can do.
    for s in summaries.iter().filter(|s| s.warmup.max_probes > s.probes.max) {
        out.push(format!(
            "The warm-up hid {}'s longest search: {} candidates on one attempt in the first {}, more than the {} of any counted attempt.",
            s.name,
            s.warmup.max_probes,
            secs(s.warmup.duration_s),
            s.probes.max
        ));
    }
    out
}

/// A sample's mean candidates must reach this many times the median of the samples before it
/// (and at least [`JUMP_FLOOR`]) to count as a jump.
const JUMP_FACTOR: f64 = 10.0;
/// Candidates per attempt below which no rise is called a jump: a handful of busy ports in a
/// row is ordinary churn.
const JUMP_FLOOR: f64 = 20.0;
/// Held ports, as a share of the usable ones, from which a jump is exhaustion, not a cliff.
const EXHAUSTED_SHARE: f64 = 0.95;
/// Samples after the jump searched for the level it rose to.
const JUMP_SETTLE: usize = 5;

/// The first sample after the warm-up whose mean candidates per attempt reached
/// `JUMP_FACTOR` times the median of the samples before it: `(index, median before)`.
/// Read from the measured time series (`timeseries.csv`'s `mean_candidates`), not predicted.
pub fn first_jump(samples: &[crate::metrics::Sample], warmup_s: f64) -> Option<(usize, f64)> {
    let mut before: Vec<f64> = Vec::new();
    for (i, s) in samples.iter().enumerate() {
        if s.t_s <= warmup_s || s.attempts == 0 {
            continue;
        }
        if !before.is_empty() {
            let median = before[before.len() / 2];
            if s.mean_candidates >= JUMP_FLOOR && s.mean_candidates >= JUMP_FACTOR * median {
                return Some((i, median));
            }
        }
        let at = before.partition_point(|&x| x < s.mean_candidates);
        before.insert(at, s.mean_candidates);
    }
    None
}

/// Whether the strategy scans ports of one parity before the other in `connect()`: Linux since
/// 4.6 (commit 1580ab63fc9a, "tcp/dccp: better use of ephemeral ports in connect()"), which the
/// `linux` and `linux-5.12` profiles and `linux-legacy`'s era 4.6 follow.
fn scans_by_parity(s: &StrategySummary) -> bool {
    match s.strategy.as_str() {
        "linux" | "linux-5.12" => true,
        "linux-legacy" => s.settings.pointer("/parameters/era").and_then(|v| v.as_str()) == Some("4.6"),
        _ => false,
    }
}

/// One sentence when a strategy's candidates per attempt jumped (see [`first_jump`]); on a
/// parity-scanning Linux profile that jumped as it came to hold about half its ports toward one
/// destination, it names the parity cliff: `connect()` walks every port of its preferred parity
/// before the other half, so once that half is busy each attempt examines about n/2 ports.
fn candidates_jump(o: &RunOutput) -> Option<String> {
    let s = &o.summary;
    let (i, median) = first_jump(&o.samples, s.warmup.duration_s)?;
    let jump = &o.samples[i];
    let peak = o.samples[i..].iter().take(JUMP_SETTLE).map(|x| x.mean_candidates).fold(0.0, f64::max);
    let held = jump.peak_held_toward_one_destination;
    let usable = usable_ports(s);
    let share = usable.map(|n| f64::from(held) / n as f64);
    // A jump into exhaustion (a full scan that failed) is the first-failure finding's.
    if jump.failed > 0 || share.is_some_and(|x| x >= EXHAUSTED_SHARE) {
        return None;
    }
    let mut f = format!(
        "{}'s candidates per attempt jumped from about {median:.1} to {} at {} (holding {held} 4-tuples toward one destination",
        s.name,
        if peak >= 100.0 { format!("{peak:.0}") } else { format!("{peak:.1}") },
        secs(jump.t_s),
    );
    if let (Some(n), Some(x)) = (usable, share) {
        f.push_str(&format!(", {:.0}% of its {n} usable ports", 100.0 * x));
    }
    f.push(')');
    if scans_by_parity(s) && share.is_some_and(|x| (0.4..=0.65).contains(&x)) {
        f.push_str(
            ": the parity cliff. Linux's connect() tries every port of one parity before the \
             other, so once that half of the range is busy each attempt first walks all of it",
        );
    }
    f.push('.');
    Some(f)
}

/// The ports a strategy could hand out: its range less the reserved ones in it, as
/// `summary.json`'s settings record them.
fn usable_ports(s: &StrategySummary) -> Option<u64> {
    let ports = s.settings.get("ports")?.as_u64()?;
    let reserved = s.settings.get("reserved").and_then(|v| v.as_u64()).unwrap_or(0);
    (ports > reserved).then(|| ports - reserved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Sample;

    fn series(means: &[f64]) -> Vec<Sample> {
        means
            .iter()
            .enumerate()
            .map(|(i, &m)| Sample {
                t_s: 2.0 * (i + 1) as f64,
                attempts: 10,
                established: 10,
                failed: 0,
                mean_candidates: m,
                collisions_local: 0,
                collisions_remote: 0,
                live: 0,
                time_wait: 0,
                peak_held_toward_one_destination: 0,
                busiest_pool_held: 0,
            })
            .collect()
    }

    #[test]
    fn a_jump_is_ten_times_the_median_before_and_at_least_the_floor() {
        // Median of [1, 1.5, 2, 3] (sorted, upper middle) is 2: 20 is the first to reach 10x.
        assert_eq!(first_jump(&series(&[1.0, 2.0, 1.5, 3.0, 19.9, 20.0, 501.0]), 0.0), Some((5, 2.0)));
        // A steady rise never ten times what came before, and small values under the floor.
        assert_eq!(first_jump(&series(&[1.0, 1.5, 2.2, 3.3, 5.0, 7.5, 11.0, 16.0]), 0.0), None);
        assert_eq!(first_jump(&series(&[0.1, 0.1, 0.1, 1.9]), 0.0), None);
        // The warm-up is left out: the samples up to 4 s neither count as a baseline nor jump.
        assert_eq!(first_jump(&series(&[1.0, 300.0, 300.0, 301.0]), 4.0), None);
    }
}
