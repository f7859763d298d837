//! The `[expect]` assertions of a run, each judged against every strategy it names: the
//! terminal prints a PASS or FAIL line per assertion and `report.html` lists them.

use crate::scenario::{Bound, Scenario};
use crate::sim::RunOutput;

/// One assertion on one strategy.
#[derive(Clone, Debug, PartialEq)]
pub struct Checked {
    pub passed: bool,
    /// `quickstart: bsd mean_probes is 1, expected <= 0.5 (expect.max_mean_probes)`.
    pub text: String,
}

/// Every assertion of `s` against every strategy it applies to, in the scenario's order.
pub fn check(s: &Scenario, outputs: &[RunOutput]) -> Vec<Checked> {
    let mut out = Vec::new();
    for e in &s.expect {
        for o in outputs {
            if e.strategy.as_ref().is_some_and(|l| l != &o.summary.name) {
                continue;
            }
            let actual = o.summary.metric(&e.metric);
            let passed = actual.is_some_and(|a| e.holds(a));
            let want = match e.bound {
                Bound::Exactly => format!("= {}", e.value),
                Bound::AtMost => format!("<= {}", e.value),
                Bound::AtLeast => format!(">= {}", e.value),
            };
            let is = actual.map_or_else(|| "null".to_string(), |a| a.to_string());
            out.push(Checked {
                passed,
                text: format!(
                    "{}: {} {} is {is}, expected {want} ({})",
                    s.name, o.summary.name, e.metric, e.key
                ),
            });
        }
    }
    out
}
