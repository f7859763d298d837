//! RFC 6056 §3.3.5, Algorithm 5 ("Random-Increments"): one global counter advanced by a random
//! 1..N before every candidate. N trades unpredictability (about 1/N per guess) against the
//! reuse interval (at least ceil(n/N) allocations between two uses of a port).
//!
//! The RFC stops after `num_ephemeral` candidates, which need not visit every port; RFC 9415's
//! variant subtracts each increment from the budget and so stops after about one pass.

use super::registry::{ConfiguredStrategy, ParamInfo, StrategyConfig, StrategyInfo, serialized};
use super::exhaustion::{FastMod, one_pass_increments, sum_increments};
use super::{PortCheck, PortSelector, Request, Selection, SkipDraws, StrategyRng, TapeRng, random32};
use rand::Rng;
use serde::Serialize;

/// When Algorithm 5 gives up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Termination {
    /// RFC 6056: give up after `num_ephemeral` candidates.
    Rfc6056,
    /// RFC 9415: `retry -= increment` after each candidate; give up when it reaches 0.
    OnePass,
}

/// `random-increments`' parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RandomIncrementsConfig {
    /// The RFC's N: increments are uniform in 1..=N.
    pub n: u32,
    /// When to give up.
    pub termination: Termination,
}

impl Default for RandomIncrementsConfig {
    fn default() -> Self {
        RandomIncrementsConfig { n: 500, termination: Termination::Rfc6056 }
    }
}

/// `random-increments` (alias `alg5`).
pub static INFO: StrategyInfo = StrategyInfo {
    name: "random-increments",
    aliases: &["alg5"],
    summary: "RFC 6056 Algorithm 5: one counter advanced by a random 1..N per candidate",
    params: &[
        ParamInfo {
            name: "n",
            default: "500",
            help: "the RFC's N: increments are uniform in 1..N (1 to 65535)",
        },
        ParamInfo {
            name: "termination",
            default: "rfc6056",
            help: "rfc6056 (give up after num_ephemeral candidates) or one-pass (RFC 9415: after the increments sum to num_ephemeral)",
        },
    ],
    parse: |p| {
        Ok(StrategyConfig::new(RandomIncrementsConfig {
            n: p.u64_in("n", 500, 1, 65535)? as u32,
            termination: match p.choice("termination", &["rfc6056", "one-pass"])? {
                "one-pass" => Termination::OnePass,
                _ => Termination::Rfc6056,
            },
        }))
    },
};

impl ConfiguredStrategy for RandomIncrementsConfig {
    fn name(&self) -> &'static str {
        INFO.name
    }
    fn settings(&self) -> serde_json::Value {
        serialized(self)
    }
    fn build(&self, rng: StrategyRng) -> Box<dyn PortSelector> {
        Box::new(RandomIncrements::new(*self, rng))
    }
    fn build_taped(&self, rng: TapeRng) -> Option<Box<dyn PortSelector>> {
        Some(Box::new(RandomIncrements::new(*self, rng)))
    }
}

/// RFC 6056 Algorithm 5 with its counter.
#[derive(Debug)]
pub struct RandomIncrements<R = StrategyRng> {
    cfg: RandomIncrementsConfig,
    next_ephemeral: u32,
    rng: R,
}

impl<R: Rng + Send> RandomIncrements<R> {
    /// Draws `next_ephemeral = random() % 65536` first.
    pub fn new(cfg: RandomIncrementsConfig, mut rng: R) -> Self {
        let next_ephemeral = random32(&mut rng) % 65536;
        RandomIncrements { cfg, next_ephemeral, rng }
    }
}

impl<R: SkipDraws + Send> PortSelector for RandomIncrements<R> {
    select_via_generic!();

    /// Where the counter ends is the sum of the scan's increments, so each is still drawn (one
    /// 32-bit word, a plain `% N`: no rejection), but no port is looked at: the scan's
    /// candidate count (`num_ephemeral`, or under RFC 9415's one pass as many as it takes the
    /// increments to reach it) and the counter it leaves come out the same, at the cost of the
    /// draws alone.
    fn select_exhausted(&mut self, req: &Request<'_>) -> Option<Selection> {
        let num_ephemeral = req.range.len();
        let n = FastMod::new(self.cfg.n);
        let (examined, sum) = match self.cfg.termination {
            Termination::Rfc6056 => (num_ephemeral, sum_increments(&mut self.rng, num_ephemeral, n)),
            Termination::OnePass => one_pass_increments(&mut self.rng, num_ephemeral, n),
        };
        self.next_ephemeral = self.next_ephemeral.wrapping_add(sum);
        Some(Selection::exhausted(examined))
    }
}

impl<R: Rng + Send> RandomIncrements<R> {
    /// The selection, generic over the check: the engine's calls are monomorphised, so no
    /// candidate pays a dynamic call (issue 16).
    pub(crate) fn select_generic<C: PortCheck + ?Sized>(&mut self, req: &Request<'_>, check: &C) -> Selection {
        let min = req.range.lo();
        let num_ephemeral = req.range.len();
        let mut budget = i64::from(num_ephemeral);
        let mut examined = 0;
        while budget > 0 {
            let inc = random32(&mut self.rng) % self.cfg.n + 1;
            self.next_ephemeral = self.next_ephemeral.wrapping_add(inc);
            let port = min + (self.next_ephemeral % num_ephemeral) as u16;
            examined += 1;
            if check.is_suitable(port) {
                return Selection::found(port, examined);
            }
            budget -= match self.cfg.termination {
                Termination::Rfc6056 => 1,
                Termination::OnePass => i64::from(inc),
            };
        }
        Selection::exhausted(examined)
    }
}
