//! The findings that open `report.html`: one sentence per notable result, each computed from the
//! run's measured summaries (never from the scenario's inputs), so a reader learns what happened
//! before reading how it was measured.

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

    // What the warm-up left out of the counts.
    let hidden: Vec<_> = summaries.iter().filter(|s| s.warmup.failures > 0).collect();
    for s in hidden {
        out.push(format!(
            "The warm-up hid {} failed attempts of {} (of {} attempts in the first {}); the counts above leave them out.",
            s.warmup.failures,
            s.name,
            s.warmup.attempts,
            secs(s.warmup.duration_s)
        ));
    }
    out
}
