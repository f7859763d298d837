//! RFC 6056 §3.3.3, Algorithm 3 ("Simple Hash-Based"): a keyed-hash offset per destination plus
//! one global counter. The counter advances on every candidate, rejected ones too, and wraps as
//! the unsigned 32-bit integer it is. Linux before 5.12 ran this algorithm (with a shared `hint`).

use super::keyed_hash::{HashFn, KeyedHash, Rekey};
use super::registry::{
    ConfiguredStrategy, HASH_PARAM, ParamInfo, REKEY_PARAM, StrategyConfig, StrategyInfo, period_text,
};
use super::{PortCheck, PortSelector, Request, Selection, StrategyRng, TapeRng, random32};
use crate::time::Nanos;
use rand::Rng;
use serde::Serialize;

/// `hash`'s parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct HashConfig {
    /// Start `next_ephemeral` at a random value instead of 0 ("Could be random").
    pub random_init: bool,
    /// The keyed hash for F().
    pub hash: HashFn,
    /// Re-key F() every period (RFC 6056 §3.4 leaves when to the implementation).
    pub rekey_period: Option<Nanos>,
}

impl Default for HashConfig {
    fn default() -> Self {
        HashConfig { random_init: false, hash: HashFn::Siphash24, rekey_period: None }
    }
}

/// `hash` (alias `alg3`).
pub static INFO: StrategyInfo = StrategyInfo {
    name: "hash",
    aliases: &["alg3"],
    summary: "RFC 6056 Algorithm 3: keyed-hash offset per destination plus one global counter",
    params: &[
        ParamInfo {
            name: "next_ephemeral_init",
            default: "zero",
            help: "initial global counter: zero or random",
        },
        HASH_PARAM,
        REKEY_PARAM,
    ],
    parse: |p| {
        Ok(StrategyConfig::new(HashConfig {
            random_init: p.choice("next_ephemeral_init", &["zero", "random"])? == "random",
            hash: HashFn::parse(p.choice("hash", HashFn::NAMES)?),
            rekey_period: p.optional_period("rekey_period")?,
        }))
    },
};

/// `summary.json` names the initial counter as the scenario does.
#[derive(Serialize)]
struct HashSettings {
    next_ephemeral_init: &'static str,
    hash: HashFn,
    rekey_period: String,
}

impl ConfiguredStrategy for HashConfig {
    fn name(&self) -> &'static str {
        INFO.name
    }
    fn settings(&self) -> serde_json::Value {
        super::registry::serialized(&HashSettings {
            next_ephemeral_init: if self.random_init { "random" } else { "zero" },
            hash: self.hash,
            rekey_period: period_text(self.rekey_period),
        })
    }
    fn build(&self, mut rng: StrategyRng) -> Box<dyn PortSelector> {
        Box::new(HashBased::new(*self, &mut rng))
    }
    fn build_taped(&self, mut rng: TapeRng) -> Option<Box<dyn PortSelector>> {
        Some(Box::new(HashBased::new(*self, &mut rng)))
    }
}

/// RFC 6056 Algorithm 3 with its key and counter.
#[derive(Debug)]
pub struct HashBased {
    f: KeyedHash,
    rekey: Rekey,
    next_ephemeral: u32,
}

impl HashBased {
    /// Draws, in order: the key of F(), the re-key phase (if re-keying), the initial counter (if
    /// random).
    pub fn new<R: Rng>(cfg: HashConfig, rng: &mut R) -> Self {
        let f = KeyedHash::from_rng(rng, cfg.hash);
        let rekey = Rekey::new(cfg.rekey_period, rng);
        let next_ephemeral = if cfg.random_init { random32(rng) } else { 0 };
        HashBased { f, rekey, next_ephemeral }
    }

    /// [`HashBased::new`] drawing from an owned RNG.
    pub fn from_rng(cfg: HashConfig, mut rng: StrategyRng) -> Self {
        Self::new(cfg, &mut rng)
    }
}

impl PortSelector for HashBased {
    select_via_generic!();

    /// The counter advances once per candidate, rejected ones too, and the scan gives up after
    /// `num_ephemeral`: it ends `num_ephemeral` further on (wrapping as the `u32` it is). F()
    /// only names the ports, so it is not computed.
    fn select_exhausted(&mut self, req: &Request<'_>) -> Option<Selection> {
        let n = req.range.len();
        self.next_ephemeral = self.next_ephemeral.wrapping_add(n);
        Some(Selection::exhausted(n))
    }
}

impl HashBased {
    /// The selection, generic over the check: the engine's calls are monomorphised, so no
    /// candidate pays a dynamic call (issue 16).
    pub(crate) fn select_generic<C: PortCheck + ?Sized>(&mut self, req: &Request<'_>, check: &C) -> Selection {
        let min = req.range.lo();
        let num_ephemeral = req.range.len();
        let offset = self.f.hash(req.flow, self.rekey.window(req.now)) as u32;
        let mut examined = 0;
        while examined < num_ephemeral {
            let port = min + (self.next_ephemeral.wrapping_add(offset) % num_ephemeral) as u16;
            self.next_ephemeral = self.next_ephemeral.wrapping_add(1);
            examined += 1;
            if check.is_suitable(port) {
                return Selection::found(port, examined);
            }
        }
        Selection::exhausted(examined)
    }
}
