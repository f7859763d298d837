//! Progress of long work, measured in simulated time: a bar with an ETA on a terminal, and a line
//! on stderr every few seconds when stderr is piped (a CI log, `2> run.log`), so a long run never
//! looks hung. A run shorter than the interval prints nothing when piped.
//!
//! `PORTSIM_PROGRESS_SECS` sets the piped interval (default 5 s; fractions allowed).

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The piped interval when `PORTSIM_PROGRESS_SECS` does not set one.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// Progress over `total` simulated nanoseconds.
pub struct Progress {
    bar: ProgressBar,
    piped: Option<Piped>,
}

struct Piped {
    what: String,
    total: u64,
    done: AtomicU64,
    started: Instant,
    every: Duration,
    next: Mutex<Instant>,
}

fn interval() -> Duration {
    std::env::var("PORTSIM_PROGRESS_SECS")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(DEFAULT_INTERVAL, Duration::from_secs_f64)
}

/// `1m 5s`, `3h 2m`, `12s`.
fn short(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {}s", s / 60, s % 60),
        _ => format!("{}h {}m", s / 3600, s % 3600 / 60),
    }
}

impl Progress {
    /// `what` names the work (the scenario); `note` follows the bar on a terminal.
    pub fn new(total: u64, what: String, note: &str) -> Progress {
        if crate::term::quiet() {
            return Progress { bar: ProgressBar::hidden(), piped: None };
        }
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(&format!(
                    "{{msg}} [{{bar:30}}] {{percent:>3}}% simulated, eta {{eta}}{note}"
                ))
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.set_message(what);
            return Progress { bar, piped: None };
        }
        let every = interval();
        Progress {
            bar: ProgressBar::hidden(),
            piped: Some(Piped {
                what,
                total: total.max(1),
                done: AtomicU64::new(0),
                started: Instant::now(),
                every,
                next: Mutex::new(Instant::now() + every),
            }),
        }
    }

    /// `ns` more simulated nanoseconds are done.
    pub fn inc(&self, ns: u64) {
        self.bar.inc(ns);
        let Some(p) = &self.piped else { return };
        let done = p.done.fetch_add(ns, Ordering::Relaxed).saturating_add(ns).min(p.total);
        let now = Instant::now();
        let Ok(mut next) = p.next.try_lock() else { return };
        if now < *next {
            return;
        }
        *next = now + p.every;
        let elapsed = now - p.started;
        let fraction = done as f64 / p.total as f64;
        let eta = if fraction > 0.0 {
            short(elapsed.mul_f64((1.0 - fraction) / fraction))
        } else {
            "unknown".into()
        };
        eprintln!(
            "portsim: {}: {:.0}% simulated, {} elapsed, eta {eta}",
            p.what,
            fraction * 100.0,
            short(elapsed)
        );
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_short() {
        assert_eq!(short(Duration::from_secs(12)), "12s");
        assert_eq!(short(Duration::from_secs(65)), "1m 5s");
        assert_eq!(short(Duration::from_secs(3 * 3600 + 120)), "3h 2m");
    }
}
