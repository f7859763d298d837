//! Any bytes as a scenario file: the validator refuses them with an error naming the file, or
//! accepts them, and then a run capped at two simulated seconds (when its work estimate is
//! under half a second of CPU) finishes without panicking. The same checks as
//! tests/integration/fuzz.rs, with libFuzzer's coverage-guided inputs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut s = match portsim::scenario::parse(&text, "fuzz.toml", Path::new("scenarios")) {
        Ok(s) => s,
        Err(e) => {
            assert_eq!(e.origin, "fuzz.toml");
            assert!(!e.message.is_empty());
            return;
        }
    };
    s.duration = s.duration.min(2 * portsim::time::NANOS_PER_SEC);
    s.warmup = s.warmup.min(s.duration / 2);
    assert!(portsim::budget::check_memory(&s, 1).is_ok());
    if portsim::budget::work(&s, 1).cpu_s() <= 0.5 {
        let runs = portsim::run(&s, s.seed);
        assert_eq!(runs.len(), s.strategies.len());
    }
});
