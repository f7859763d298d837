//! RFC 6056 §3.3.2, Algorithm 2 ("Another Simple Port Randomization"): a fresh random draw for
//! every candidate, with replacement, at most `num_ephemeral` times. The number of candidates is
//! geometric with mean 1/(1-rho); it may give up (probability rho^n) while a port is free.

use super::registry::{ConfiguredStrategy, StrategyConfig, StrategyInfo};
use super::{PortCheck, PortSelector, Request, Selection, SkipDraws, StrategyRng, TapeRng, random32};
use rand::Rng;
use std::num::NonZeroU32;

/// `random-pick` (alias `alg2`).
pub static INFO: StrategyInfo = StrategyInfo {
    name: "random-pick",
    aliases: &["alg2"],
    summary: "RFC 6056 Algorithm 2: a fresh random draw for every candidate, at most n draws",
    params: &[],
    parse: |_| Ok(StrategyConfig::new(RandomPickConfig)),
};

/// Algorithm 2 has no parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RandomPickConfig;

impl ConfiguredStrategy for RandomPickConfig {
    fn name(&self) -> &'static str {
        INFO.name
    }
    fn settings(&self) -> serde_json::Value {
        serde_json::json!({})
    }
    fn build(&self, rng: StrategyRng) -> Box<dyn PortSelector> {
        Box::new(RandomPick::new(rng))
    }
    fn build_taped(&self, rng: TapeRng) -> Option<Box<dyn PortSelector>> {
        Some(Box::new(RandomPick::new(rng)))
    }
}

/// RFC 6056 Algorithm 2; it keeps no state but its RNG.
#[derive(Debug)]
pub struct RandomPick<R = StrategyRng> {
    rng: R,
}

impl<R: Rng + Send> RandomPick<R> {
    /// Draws from `rng`.
    pub fn new(rng: R) -> Self {
        RandomPick { rng }
    }
}

impl<R: SkipDraws + Send> PortSelector for RandomPick<R> {
    select_via_generic!();

    /// Every candidate is one `random()`, one 32-bit word, whatever port it names (a plain
    /// `% num_ephemeral`, no rejection), and with no port free all `num_ephemeral` are drawn:
    /// the RNG skips that many words.
    fn select_exhausted(&mut self, req: &Request<'_>) -> Option<Selection> {
        let n = req.range.len();
        self.rng.skip_u32(u64::from(n));
        Some(Selection::exhausted(n))
    }
}

impl<R: Rng + Send> RandomPick<R> {
    /// The selection, generic over the check: the engine's calls are monomorphised, so no
    /// candidate pays a dynamic call (issue 16).
    pub(crate) fn select_generic<C: PortCheck + ?Sized>(&mut self, req: &Request<'_>, check: &C) -> Selection {
        let min = req.range.lo();
        let num_ephemeral = req.range.len();
        // A range holds at least one port: the remainder needs no zero test per draw.
        let modulus = NonZeroU32::new(num_ephemeral).unwrap_or(NonZeroU32::MIN);
        let mut examined = 0;
        while examined < num_ephemeral {
            let next = min + (random32(&mut self.rng) % modulus) as u16;
            examined += 1;
            if check.is_suitable(next) {
                return Selection::found(next, examined);
            }
        }
        Selection::exhausted(examined)
    }
}
