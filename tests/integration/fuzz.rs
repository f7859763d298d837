//! Mutations of the shipped scenarios and the invalid fixtures, and random bytes, through the
//! validator: it never panics, and every refusal names the file (and, when it points into the
//! text, a position inside it). Every mutant it accepts is also run in-process, its duration
//! capped, when its work estimate is small: the run must not panic and must stay within what
//! the estimate says an attempt can cost. `PORTSIM_FUZZ_CASES` raises the number of cases
//! (256 by default for the validator, a quarter of it for runs and for random bytes: a few
//! seconds in all); `PORTSIM_FUZZ_CASES=20000 cargo test --release --test integration fuzz::`
//! is the long form. A cargo-fuzz target for a nightly toolchain is in fuzz/.

use proptest::prelude::*;
use std::path::Path;

fn corpus() -> &'static [String] {
    static CORPUS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    CORPUS.get_or_init(read_corpus)
}

fn read_corpus() -> Vec<String> {
    let mut texts = Vec::new();
    for dir in ["scenarios", "tests/invalid_scenarios"] {
        let mut paths: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            if p.extension().is_some_and(|e| e == "toml")
                && let Ok(bytes) = std::fs::read(&p)
            {
                texts.push(String::from_utf8_lossy(&bytes).into_owned());
            }
        }
    }
    texts
}

/// Replacements that hit the validator's edges: extreme numbers, type swaps, unicode.
const SPLICES: &[&str] = &[
    "0",
    "-1",
    "+1",
    "0xb00",
    "0o777",
    "0b101",
    "9223372036854775807",
    "-9223372036854775808",
    "1e308",
    "-0.0",
    "nan",
    "inf",
    "\"\"",
    "\"584y\"",
    "\"18446744073709551615ns\"",
    "\"1ns\"",
    "[]",
    "{}",
    "[[]]",
    "true",
    "\"\u{0}\"",
    "\"é🦀\"",
    "\"1-65535\"",
    "\"+443\"",
    "=",
    "[",
    "\n[x]\n",
];

fn cases() -> u32 {
    std::env::var("PORTSIM_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
}

/// `text` mutated by `edits`: (where, which splice, how many bytes it replaces).
fn mutate(mut text: String, edits: &[(prop::sample::Index, usize, usize)]) -> String {
    for (at, splice, cut) in edits {
        let mut i = at.index(text.len() + 1);
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        let mut j = (i + cut).min(text.len());
        while !text.is_char_boundary(j) {
            j -= 1;
        }
        text.replace_range(i..j, SPLICES[*splice]);
    }
    text
}

/// Checks a refusal: it names the file, says something, and points inside the text.
fn refused_clearly(e: &portsim::ScenarioError, text: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(&e.origin, "fuzz.toml");
    prop_assert!(!e.message.is_empty());
    if let Some((line, _)) = e.position {
        prop_assert!(line >= 1 && line <= text.lines().count().max(1) + 1, "{}", e);
    }
    Ok(())
}

/// The longest simulated time a fuzzed run gets, and the most estimated CPU it may take.
const RUN_CAP: u64 = 2 * portsim::time::NANOS_PER_SEC;
const RUN_BUDGET_S: f64 = 0.5;

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn mutated_scenarios_are_refused_clearly_or_accepted(
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0usize..SPLICES.len(), 0usize..12), 1..4),
    ) {
        let texts = corpus();
        let text = mutate(texts[pick.index(texts.len())].clone(), &edits);
        match portsim::scenario::parse(&text, "fuzz.toml", Path::new("scenarios")) {
            Ok(_) => {}
            Err(e) => refused_clearly(&e, &text)?,
        }
    }

    #[test]
    fn random_bytes_are_refused_clearly(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if let Err(e) = portsim::scenario::parse(&text, "fuzz.toml", Path::new("scenarios")) {
            refused_clearly(&e, &text)?;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases() / 4, ..ProptestConfig::default() })]

    #[test]
    fn accepted_mutants_run_within_their_estimate(
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0usize..SPLICES.len(), 0usize..12), 0..3),
    ) {
        let texts = corpus();
        let text = mutate(texts[pick.index(texts.len())].clone(), &edits);
        let Ok(mut s) = portsim::scenario::parse(&text, "fuzz.toml", Path::new("scenarios")) else {
            return Ok(());
        };
        s.duration = s.duration.min(RUN_CAP);
        s.warmup = s.warmup.min(s.duration / 2);
        let memory = portsim::budget::check_memory(&s, 1);
        prop_assert!(memory.is_ok(), "{:?}", memory);
        let work = portsim::budget::work(&s, 1);
        if work.cpu_s() > RUN_BUDGET_S {
            return Ok(());
        }
        let runs = portsim::run(&s, s.seed);
        prop_assert_eq!(runs.len(), s.strategies.len());
        let expected = work.attempts / s.strategies.len() as f64;
        for r in &runs {
            let attempts = r.summary.run.simulated_connections as f64;
            // Poisson counts: ten standard deviations over the estimate at most.
            prop_assert!(attempts <= expected + 10.0 * expected.sqrt() + 10.0, "{attempts} > {expected}");
            prop_assert!(u64::from(r.summary.probes.max) <= work.max_candidates_per_attempt.max(1));
            // An arrival, a close and a TIME_WAIT expiry per attempt at most.
            prop_assert!(r.summary.run.events <= 3 * r.summary.run.simulated_connections);
        }
    }
}
