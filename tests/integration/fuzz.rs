//! Mutations of the shipped scenarios and the invalid fixtures through the validator: it never
//! panics, and every refusal names the file (and, when it points into the text, a position
//! inside it). `PORTSIM_FUZZ_CASES` raises the number of cases (256 by default, a few seconds).

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

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn mutated_scenarios_are_refused_clearly_or_accepted(
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0usize..SPLICES.len(), 0usize..12), 1..4),
    ) {
        let texts = corpus();
        let mut text = texts[pick.index(texts.len())].clone();
        for (at, splice, cut) in edits {
            let mut i = at.index(text.len() + 1);
            while !text.is_char_boundary(i) { i -= 1; }
            let mut j = (i + cut).min(text.len());
            while !text.is_char_boundary(j) { j -= 1; }
            text.replace_range(i..j, SPLICES[splice]);
        }
        match portsim::scenario::parse(&text, "fuzz.toml", Path::new("scenarios")) {
            Ok(_) => {}
            Err(e) => {
                prop_assert_eq!(&e.origin, "fuzz.toml");
                prop_assert!(!e.message.is_empty());
                if let Some((line, _)) = e.position {
                    prop_assert!(line >= 1 && line <= text.lines().count().max(1) + 1, "{}", e);
                }
            }
        }
    }
}
