//! RFC 6056 §3.3.4, Algorithm 4 ("Double-Hash"): F() gives each destination an offset, G()
//! picks one of TABLE_LENGTH counters, and the port is `min + (offset + table[index]) % n`.
//! Destinations that hash to different counters advance independently, so one destination's
//! traffic says nothing about another's.
//!
//! The knobs are the ones Linux turned between 2021 and 2022 (commits 190cc82489f4,
//! 9e9b70ae923b, ca7af0402550, 4c2c8f03a5ab, 4dfa9b438ee3): the table's length and entry width,
//! how the counter advances, where the index comes from, and periodic re-keying.

use super::keyed_hash::{HashFn, KeyedHash, MemoHash, Rekey};
use super::registry::{
    ConfiguredStrategy, HASH_PARAM, ParamInfo, REKEY_PARAM, StrategyConfig, StrategyInfo, period_text,
};
use super::{PortCheck, PortSelector, Request, Selection, StrategyRng, TapeRng, random32};
use crate::time::Nanos;
use rand::Rng;
use serde::Serialize;

/// The width of a table entry. The RFC's "short integers" wrap at 65,536, which is not a
/// multiple of n in general, so each wrap shifts the bucket's sequence by 65536 mod n; Linux
/// uses 32 bits to avoid that.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum EntryWidth {
    /// `uint16_t`, as the RFC's pseudo-code declares the table.
    #[serde(rename = "16")]
    Bits16,
    /// `u32`, as Linux's `table_perturb[]`.
    #[serde(rename = "32")]
    Bits32,
}

/// How `table[index]` advances.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Increment {
    /// RFC 6056: `table[index]++` after every candidate, rejected ones too.
    Rfc,
    /// Linux 5.12's increment: after a success at position i, `table[index] += i + 2`. Only the
    /// increment is the kernel's: the scan here is one pass of step 1 from the offset, without
    /// the kernel's even offset and parity passes (the `linux-5.12` strategy has those).
    #[serde(rename = "linux-5.12")]
    Linux512,
    /// Linux 5.18's increment (ca7af0402550): after a success at position i,
    /// `table[index] += max(i, 2·rand(0..7)) + 2`. As with `Linux512`, the scan is not the
    /// kernel's (the `linux` strategy's is).
    Linux,
}

/// Where the table index comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IndexSource {
    /// G() is a second keyed hash with its own key (the RFC's main text).
    Independent,
    /// The low 32 bits of F()'s 64-bit output give the index, the high 32 bits the offset
    /// (Linux since 9e9b70ae923b).
    SameHash,
    /// G() is the XOR of the bytes of the offset (the RFC's alternative).
    XorOffset,
}

/// `double-hash`'s parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct DoubleHashConfig {
    /// `TABLE_LENGTH`: how many counters.
    pub table_length: u32,
    /// The width each counter wraps at.
    pub entry_width: EntryWidth,
    /// How a counter advances.
    pub increment: Increment,
    /// Where the table index comes from.
    pub index: IndexSource,
    /// The keyed hash for F() and G().
    pub hash: HashFn,
    /// Re-key both hashes every period; `None` never.
    pub rekey_period: Option<Nanos>,
}

impl Default for DoubleHashConfig {
    fn default() -> Self {
        DoubleHashConfig {
            table_length: 10,
            entry_width: EntryWidth::Bits16,
            increment: Increment::Rfc,
            index: IndexSource::Independent,
            hash: HashFn::Siphash24,
            rekey_period: None,
        }
    }
}

/// `double-hash` (alias `alg4`).
pub static INFO: StrategyInfo = StrategyInfo {
    name: "double-hash",
    aliases: &["alg4"],
    summary: "RFC 6056 Algorithm 4: hash offset plus a table of TABLE_LENGTH counters chosen by a second hash",
    params: &[
        ParamInfo {
            name: "table_length",
            default: "10",
            help: "number of counters, 1 to 16777216 (Linux: 256 in 5.12, 65536 since 5.18)",
        },
        ParamInfo {
            name: "entry_width",
            default: "16",
            help: "bits per counter: 16 (the RFC's short integers) or 32 (Linux)",
        },
        ParamInfo {
            name: "increment",
            default: "rfc",
            help: "rfc (+1 per candidate), linux-5.12 (i + 2 after a success at position i), linux (max(i, 2*rand(0..7)) + 2); the linux ones are the kernels' increments on the RFC's one-pass scan, not the kernels (no even offset, no parity passes: use the linux and linux-5.12 strategies)",
        },
        ParamInfo {
            name: "index",
            default: "independent",
            help: "table index from: independent (G with its own key), same-hash (other bits of F, Linux), xor-offset (XOR of the offset's bytes)",
        },
        HASH_PARAM,
        REKEY_PARAM,
    ],
    parse: |p| {
        let table_length = p.u64_in("table_length", 10, 1, 1 << 24)? as u32;
        let entry_width = match p.choice("entry_width", &["16", "32"])? {
            "32" => EntryWidth::Bits32,
            _ => EntryWidth::Bits16,
        };
        let increment = match p.choice("increment", &["rfc", "linux-5.12", "linux"])? {
            "linux-5.12" => Increment::Linux512,
            "linux" => Increment::Linux,
            _ => Increment::Rfc,
        };
        let index = match p.choice("index", &["independent", "same-hash", "xor-offset"])? {
            "same-hash" => IndexSource::SameHash,
            "xor-offset" => IndexSource::XorOffset,
            _ => IndexSource::Independent,
        };
        Ok(StrategyConfig::new(DoubleHashConfig {
            table_length,
            entry_width,
            increment,
            index,
            hash: HashFn::parse(p.choice("hash", HashFn::NAMES)?),
            rekey_period: p.optional_period("rekey_period")?,
        }))
    },
};

/// `summary.json` writes the re-key period as the scenario does.
#[derive(Serialize)]
struct DoubleHashSettings {
    table_length: u32,
    entry_width: EntryWidth,
    increment: Increment,
    index: IndexSource,
    hash: HashFn,
    rekey_period: String,
}

impl ConfiguredStrategy for DoubleHashConfig {
    fn name(&self) -> &'static str {
        INFO.name
    }
    fn settings(&self) -> serde_json::Value {
        super::registry::serialized(&DoubleHashSettings {
            table_length: self.table_length,
            entry_width: self.entry_width,
            increment: self.increment,
            index: self.index,
            hash: self.hash,
            rekey_period: period_text(self.rekey_period),
        })
    }
    fn build(&self, rng: StrategyRng) -> Box<dyn PortSelector> {
        Box::new(DoubleHash::new(*self, rng))
    }
    fn build_taped(&self, rng: TapeRng) -> Option<Box<dyn PortSelector>> {
        Some(Box::new(DoubleHash::new(*self, rng)))
    }
}

/// RFC 6056 Algorithm 4 with its table and keys.
#[derive(Debug)]
pub struct DoubleHash<R = StrategyRng> {
    cfg: DoubleHashConfig,
    /// F() and G(), each remembering its last answer.
    f: MemoHash,
    g: MemoHash,
    rekey: Rekey,
    table: Vec<u32>,
    rng: R,
}

impl<R: Rng + Send> DoubleHash<R> {
    /// Draws, in order: F()'s key, G()'s key, the re-key phase (if re-keying), then the table,
    /// entry by entry (`random() % 65536` for 16-bit entries, `random()` for 32-bit ones).
    pub fn new(cfg: DoubleHashConfig, mut rng: R) -> Self {
        let f = KeyedHash::from_rng(&mut rng, cfg.hash);
        let g = KeyedHash::from_rng(&mut rng, cfg.hash);
        let rekey = Rekey::new(cfg.rekey_period, &mut rng);
        let table = (0..cfg.table_length)
            .map(|_| match cfg.entry_width {
                EntryWidth::Bits16 => random32(&mut rng) % 65536,
                EntryWidth::Bits32 => random32(&mut rng),
            })
            .collect();
        DoubleHash { cfg, f: MemoHash::new(f), g: MemoHash::new(g), rekey, table, rng }
    }

    /// The current value of every counter; for tests and reports.
    pub fn table(&self) -> &[u32] {
        &self.table
    }

    #[inline]
    fn wrap(&self, v: u32) -> u32 {
        match self.cfg.entry_width {
            EntryWidth::Bits16 => v & 0xffff,
            EntryWidth::Bits32 => v,
        }
    }
}

impl<R: Rng + Send> PortSelector for DoubleHash<R> {
    select_via_generic!();

    /// The RFC's increment moves `table[index]` once per candidate, so a failed scan of `n`
    /// candidates leaves it `n` further on (wrapped at the entry's width, which commutes with
    /// the sum). The Linux increments change the table only after a success, and draw only then:
    /// nothing moves. Either way the scan's `n` candidates are reported.
    fn select_exhausted(&mut self, req: &Request<'_>) -> Option<Selection> {
        let n = req.range.len();
        if self.cfg.increment == Increment::Rfc {
            let (_, index) = self.offset_and_index(req);
            self.table[index] = self.wrap(self.table[index].wrapping_add(n));
        }
        Some(Selection::exhausted(n))
    }
}

impl<R: Rng + Send> DoubleHash<R> {
    /// F()'s offset and G()'s table index for the request's flow and key window.
    #[inline]
    fn offset_and_index(&mut self, req: &Request<'_>) -> (u32, usize) {
        let window = self.rekey.window(req.now);
        let h = self.f.hash(req.flow, window);
        let tl = self.cfg.table_length;
        match self.cfg.index {
            IndexSource::Independent => (h as u32, (self.g.hash(req.flow, window) % u64::from(tl)) as usize),
            IndexSource::SameHash => ((h >> 32) as u32, ((h as u32) % tl) as usize),
            IndexSource::XorOffset => {
                let o = h as u32;
                let x = o.to_le_bytes().iter().fold(0u8, |a, b| a ^ b);
                (o, (u32::from(x) % tl) as usize)
            }
        }
    }

    /// The selection, generic over the check: the engine's calls are monomorphised, so no
    /// candidate pays a dynamic call (issue 16).
    pub(crate) fn select_generic<C: PortCheck + ?Sized>(&mut self, req: &Request<'_>, check: &C) -> Selection {
        let min = req.range.lo();
        let n = req.range.len();
        let (offset, index) = self.offset_and_index(req);
        match self.cfg.increment {
            Increment::Rfc => {
                let mut examined = 0;
                while examined < n {
                    let port = min + (offset.wrapping_add(self.table[index]) % n) as u16;
                    self.table[index] = self.wrap(self.table[index].wrapping_add(1));
                    examined += 1;
                    if check.is_suitable(port) {
                        return Selection::found(port, examined);
                    }
                }
                Selection::exhausted(examined)
            }
            Increment::Linux512 | Increment::Linux => {
                let start = offset.wrapping_add(self.table[index]) % n;
                for i in 0..n {
                    let port = min + ((start + i) % n) as u16;
                    if check.is_suitable(port) {
                        let step = if self.cfg.increment == Increment::Linux {
                            // get_random_u32_below(8): Lemire's multiply-shift of one u32.
                            let r = ((u64::from(random32(&mut self.rng)) * 8) >> 32) as u32;
                            i.max(2 * r)
                        } else {
                            i
                        };
                        self.table[index] = self.wrap(self.table[index].wrapping_add(step + 2));
                        return Selection::found(port, i + 1);
                    }
                }
                Selection::exhausted(n)
            }
        }
    }
}
