//! RFC 6056 §3.3.1, Algorithm 1 ("Simple Port Randomization"): a random starting point, then a
//! linear scan. Biased toward the first free port after a run of unusable ones: with L unusable
//! ports before it, a port is picked with probability (1 + L)/n.
//!
//! The RFC's pseudo-code tests `check_suitable_port(port)` with `port` never assigned; the
//! candidate it returns is `next_ephemeral`, so that is what is tested here.

use super::registry::{ConfiguredStrategy, StrategyConfig, StrategyInfo};
use super::{PortCheck, PortSelector, Request, Selection, StrategyRng, TapeRng, random32};
use rand::Rng;

/// `random-start` (aliases `alg1`, `simple-random`).
pub static INFO: StrategyInfo = StrategyInfo {
    name: "random-start",
    aliases: &["alg1", "simple-random"],
    summary: "RFC 6056 Algorithm 1: random start, then a +1 linear scan (biased after runs of busy ports)",
    params: &[],
    parse: |_| Ok(StrategyConfig::new(RandomStartConfig)),
};

/// Algorithm 1 has no parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RandomStartConfig;

impl ConfiguredStrategy for RandomStartConfig {
    fn name(&self) -> &'static str {
        INFO.name
    }
    fn settings(&self) -> serde_json::Value {
        serde_json::json!({})
    }
    fn build(&self, rng: StrategyRng) -> Box<dyn PortSelector> {
        Box::new(RandomStart::new(rng))
    }
    fn build_taped(&self, rng: TapeRng) -> Option<Box<dyn PortSelector>> {
        Some(Box::new(RandomStart::new(rng)))
    }
}

/// RFC 6056 Algorithm 1; it keeps no state but its RNG.
#[derive(Debug)]
pub struct RandomStart<R = StrategyRng> {
    rng: R,
}

impl<R: Rng + Send> RandomStart<R> {
    /// Draws from `rng`.
    pub fn new(rng: R) -> Self {
        RandomStart { rng }
    }
}

impl<R: Rng + Send> PortSelector for RandomStart<R> {
    select_via_generic!();

    /// One draw for the start, then a +1 scan of all `num_ephemeral` ports that keeps no
    /// state: draw the start, report `num_ephemeral` candidates.
    fn select_exhausted(&mut self, req: &Request<'_>) -> Option<Selection> {
        random32(&mut self.rng);
        Some(Selection::exhausted(req.range.len()))
    }
}

impl<R: Rng + Send> RandomStart<R> {
    /// The selection, generic over the check: the engine's calls are monomorphised, so no
    /// candidate pays a dynamic call (issue 16).
    pub(crate) fn select_generic<C: PortCheck + ?Sized>(&mut self, req: &Request<'_>, check: &C) -> Selection {
        let (min, max) = (req.range.lo(), req.range.hi());
        let num_ephemeral = req.range.len();
        let mut next = min + (random32(&mut self.rng) % num_ephemeral) as u16;
        let mut examined = 0;
        while examined < num_ephemeral {
            examined += 1;
            if check.is_suitable(next) {
                return Selection::found(next, examined);
            }
            next = if next == max { min } else { next + 1 };
        }
        Selection::exhausted(examined)
    }
}
