//! The `linux-5.12` profile: Linux 5.12-5.17 `connect()`, commit 190cc82489f4 ("tcp: change
//! source port randomizarion at connect() time": RFC 6056 Algorithm 4 with a 256-entry table
//! indexed by `hash_32()` of a 32-bit hash) and c579bd1b4021 ("tcp: add some entropy in
//! __inet_hash_connect()": skip the next candidate in 1 of 16 first-try successes). The scan and
//! `bind(0)` are those of [`super::linux`].

use super::keyed_hash::{HashFn, KeyedHash};
use super::linux::{BindDraw, Scan, find_open_port, find_open_port_exhausted, is_bind, linux_defaults};
use super::linux::{HZ_PARAM, parse_hz};
use super::registry::{
    ConfiguredStrategy, HASH_PARAM, OsDefaults, ParamInfo, StrategyConfig, StrategyInfo, power_of_two,
    serialized,
};
use super::{PortCheck, PortSelector, Request, Selection, StrategyRng, TapeRng, random32};
use rand::Rng;
use serde::Serialize;

/// `linux-5.12`.
pub static INFO: StrategyInfo = StrategyInfo {
    name: "linux-5.12",
    aliases: &[],
    summary: "Linux 5.12-5.17 connect(): Algorithm 4 with 256 counters indexed by hash_32() of a 32-bit hash, counter += i + 2 (skip one candidate in 1/16 of first-try successes), no re-keying",
    params: &[
        ParamInfo { name: "table_length", default: "256", help: "table_perturb[] entries, a power of two" },
        HASH_PARAM,
        ParamInfo {
            name: "skip_one_in",
            default: "16",
            help: "after a first-try success skip the next candidate with probability 1/N (c579bd1b4021); 0 = never",
        },
        HZ_PARAM,
    ],
    parse: |p| {
        Ok(StrategyConfig::new(Linux512Config {
            table_length: power_of_two(p, "table_length", 256, 1 << 24)?,
            hash: HashFn::parse(p.choice("hash", HashFn::NAMES)?),
            skip_one_in: p.u64_in("skip_one_in", 16, 0, 1 << 16)? as u32,
            hz: parse_hz(p)?,
        }))
    },
};

impl ConfiguredStrategy for Linux512Config {
    fn name(&self) -> &'static str {
        INFO.name
    }
    fn os_defaults(&self) -> OsDefaults {
        linux_defaults(self.hz)
    }
    fn settings(&self) -> serde_json::Value {
        serialized(self)
    }
    fn build(&self, rng: StrategyRng) -> Box<dyn PortSelector> {
        Box::new(Linux512::new(*self, rng))
    }
    fn build_taped(&self, rng: TapeRng) -> Option<Box<dyn PortSelector>> {
        Some(Box::new(Linux512::new(*self, rng)))
    }
}

/// `hash_32(val, bits)`: multiply by the golden-ratio constant `0x61C88647`, keep the top `bits`.
fn hash_32(val: u32, bits: u32) -> u32 {
    if bits == 0 { 0 } else { val.wrapping_mul(0x61C8_8647) >> (32 - bits) }
}

/// Linux 5.12-5.17's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Linux512Config {
    /// `1 << INET_TABLE_PERTURB_SHIFT` = 256. A power of two.
    pub table_length: u32,
    /// The keyed hash of `secure_ipv4_port_ephemeral()`.
    pub hash: HashFn,
    /// c579bd1b4021: after a success on the first candidate, skip the next one (`i = 2`) when
    /// `prandom_u32() % skip_one_in == 0`; 0 turns the noise off.
    pub skip_one_in: u32,
    /// `CONFIG_HZ`: the TIME_WAIT grid.
    pub hz: u32,
}

impl Default for Linux512Config {
    fn default() -> Self {
        Linux512Config {
            table_length: 256,
            hash: HashFn::Siphash24,
            skip_one_in: 16,
            hz: crate::scenario::DEFAULT_HZ,
        }
    }
}

/// Linux 5.12-5.17 `connect()`: Algorithm 4 with `table_perturb[256]`, the index
/// `hash_32(port_offset, 8)` of the same 32-bit hash that gives the offset, increments `i + 2`
/// (plus the 1-in-16 skip), no re-keying.
#[derive(Debug)]
pub struct Linux512<R = StrategyRng> {
    cfg: Linux512Config,
    secret: KeyedHash,
    bits: u32,
    table: Vec<u32>,
    rng: R,
}

impl<R: Rng + Send> Linux512<R> {
    /// Draws the secret (k0, k1), then the table, one `u32` per entry.
    pub fn new(cfg: Linux512Config, mut rng: R) -> Self {
        let secret = KeyedHash::from_rng(&mut rng, cfg.hash);
        let table = (0..cfg.table_length).map(|_| random32(&mut rng)).collect();
        Linux512 { bits: cfg.table_length.trailing_zeros(), cfg, secret, table, rng }
    }

    /// The counters; for tests and reports.
    pub fn table(&self) -> &[u32] {
        &self.table
    }
}

impl<R: Rng + Send> PortSelector for Linux512<R> {
    select_via_generic!();

    /// The table and the skip draw change only after a success: a failed `connect()` scans both
    /// parities and leaves everything alone. `bind(0)` draws its offset and scans both parities.
    fn select_exhausted(&mut self, req: &Request<'_>) -> Option<Selection> {
        if is_bind(req) {
            return Some(find_open_port_exhausted(req, &mut self.rng, BindDraw::Modulo, false));
        }
        let (scan, offset, _) = self.connect_scan(req);
        Some(Selection::exhausted(scan.connect_exhausted(offset)))
    }
}

impl<R: Rng + Send> Linux512<R> {
    /// A `connect()`'s scan, its starting offset and its table index.
    fn connect_scan(&self, req: &Request<'_>) -> (Scan, u32, usize) {
        // IP_LOCAL_PORT_RANGE did not exist yet: the range is used, the scan stays step 2.
        let scan = Scan::new(u32::from(req.range.lo()), u32::from(req.range.hi()) + 1, 2);
        // secure_ipv4_port_ephemeral() returned the low 32 bits of the SipHash.
        let port_offset = self.secret.hash(req.flow, 0) as u32;
        let index = hash_32(port_offset, self.bits) as usize;
        let offset = (self.table[index].wrapping_add(port_offset) % scan.remaining) & !1;
        (scan, offset, index)
    }

    /// The selection, generic over the check: the engine's calls are monomorphised, so no
    /// candidate pays a dynamic call (issue 16).
    pub(crate) fn select_generic<C: PortCheck + ?Sized>(&mut self, req: &Request<'_>, check: &C) -> Selection {
        if is_bind(req) {
            return find_open_port(req, check, &mut self.rng, BindDraw::Modulo, false);
        }
        let (scan, offset, index) = self.connect_scan(req);
        let mut candidates = 0;
        match scan.connect(offset, check, &mut candidates) {
            Some((port, mut i)) => {
                if i == 0
                    && self.cfg.skip_one_in != 0
                    && random32(&mut self.rng).is_multiple_of(self.cfg.skip_one_in)
                {
                    i = 2;
                }
                self.table[index] = self.table[index].wrapping_add(i + 2);
                Selection::found(port, candidates)
            }
            None => Selection::exhausted(candidates),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_32_keeps_the_top_bits_of_the_golden_ratio_product() {
        assert_eq!(hash_32(1, 8), 0x61);
        assert_eq!(hash_32(2, 8), 0xC3);
        assert_eq!(hash_32(12345, 0), 0);
    }
}
