//! Linux's `connect()` and `bind(port 0)` port selection, in three eras, from the descriptions
//! in `operating-systems.md` §1 and `rfc6056.md` §3.2 (the kernel is GPL-2.0: its code is
//! described and re-derived here, never copied).
//!
//! - [`Linux`]: Linux >= 5.18 (and 6.x), `__inet_hash_connect()` after the May 2022 series by
//!   Willy Tarreau and Eric Dumazet (b2d057560b81, 9e9b70ae923b, 4dfa9b438ee3, ca7af0402550,
//!   e9261476184b, 4c2c8f03a5ab, e8161345ddbb), with the 6.8 `IP_LOCAL_PORT_RANGE` step-1 scan:
//!   a 64-bit SipHash of (saddr, daddr, dport, 10-second window) whose low 16 bits index a
//!   2^16-entry table of random `u32` counters and whose high 32 bits, added to the counter,
//!   give the offset; two parity passes; after a success the counter advances by
//!   `max(i, 2·rand(0..7)) + 2`.
//! - [`Linux512`]: Linux 5.12-5.17, commit 190cc82489f4 ("tcp: change source port
//!   randomizarion at connect() time", Algorithm 4 with a 256-entry table indexed by
//!   `hash_32()` of a 32-bit hash) and c579bd1b4021 ("tcp: add some entropy in
//!   __inet_hash_connect()": skip the next candidate in 1 of 16 first-try successes).
//! - [`LinuxLegacy`]: Linux <= 5.11, Algorithm 3 with one shared `hint`; by default the 4.6-5.11
//!   form ("tcp/dccp: better use of ephemeral ports in connect()", 2016: parity passes, step 2,
//!   `hint += i + 2`), optionally the 3.x form (one pass, step 1, `hint += i`).
//!
//! `bind(port 0)` (a [`SocketMode::BindThenConnect`] request) is `inet_csk_find_open_port()`
//! in every era from 4.6 on: a random odd offset, the odd pass first, then the even one, and no
//! table or hint update. The port it returns is held exclusively (the stack's `BindCheck`).
//!
//! `i` is the kernel's loop variable: positions scanned in the current pass times the step, so a
//! reserved or `bind()`-owned port (which the kernel `continue`s past) still advances it. Every
//! port looked at is one candidate, one `is_suitable` call.

use super::keyed_hash::{HashFn, KeyedHash, Rekey};
use super::{PortCheck, PortSelector, Request, Selection, SocketMode, StrategyRng, random32};
use crate::time::{NANOS_PER_SEC, Nanos};
use rand::Rng;
use serde::Serialize;

/// `EPHEMERAL_PORT_SHUFFLE_PERIOD`: `10 * HZ`, 10 seconds (4dfa9b438ee3).
pub const SHUFFLE_PERIOD: Nanos = 10 * NANOS_PER_SEC;

/// Linux 6.2+ `get_random_u32_below(ceil)`: Lemire's multiply-shift of one `u32`, redrawing in
/// the rare case the low half falls below `2^32 mod ceil`. For a power of two (8) it never
/// redraws, and is `(u32 · 8) >> 32`, as `double_hash.rs` does.
pub(crate) fn random_u32_below<R: Rng>(rng: &mut R, ceil: u32) -> u32 {
    let draw = random32(rng);
    if ceil == 0 {
        return draw;
    }
    let mut mult = u64::from(ceil) * u64::from(draw);
    if (mult as u32) < ceil {
        let bound = ceil.wrapping_neg() % ceil;
        while (mult as u32) < bound {
            mult = u64::from(ceil) * u64::from(random32(rng));
        }
    }
    (mult >> 32) as u32
}

/// `hash_32(val, bits)`: multiply by the golden-ratio constant `0x61C88647`, keep the top `bits`.
fn hash_32(val: u32, bits: u32) -> u32 {
    if bits == 0 { 0 } else { val.wrapping_mul(0x61C8_8647) >> (32 - bits) }
}

/// The half-open range `[low, high)` one scan walks, and its step.
#[derive(Clone, Copy, Debug)]
struct Scan {
    low: u32,
    high: u32,
    /// `high - low`, rounded down to even when the scan steps by 2.
    remaining: u32,
    step: u32,
}

impl Scan {
    /// `[lo, hi + 1)`; with `step` 2 the count is rounded to even (when more than 1), which is
    /// why an odd-sized range has a slightly irregular set of reachable ports.
    fn new(lo: u32, high: u32, step: u32) -> Scan {
        let mut remaining = high - lo;
        if step == 2 && remaining > 1 {
            remaining &= !1;
        }
        Scan { low: lo, high, remaining, step }
    }

    /// One pass from `low + offset`: `remaining / step` positions, wrapping by `remaining` when a
    /// port reaches `high`. Returns the port and the kernel's `i` for it.
    fn pass(&self, offset: u32, check: &dyn PortCheck, candidates: &mut u32) -> Option<(u16, u32)> {
        let mut port = self.low.wrapping_add(offset);
        let mut i = 0;
        while i < self.remaining {
            if port >= self.high {
                port -= self.remaining;
            }
            *candidates += 1;
            if check.is_suitable(port as u16) {
                return Some((port as u16, i));
            }
            i += self.step;
            port += self.step;
        }
        None
    }

    /// `__inet_hash_connect()`'s passes: from `offset`, then (with step 2) from `offset + 1`,
    /// the other parity, unless the first pass was already the odd one.
    fn connect(&self, mut offset: u32, check: &dyn PortCheck, candidates: &mut u32) -> Option<(u16, u32)> {
        loop {
            if let Some(hit) = self.pass(offset, check, candidates) {
                return Some(hit);
            }
            if self.step == 1 {
                return None;
            }
            offset = offset.wrapping_add(1);
            if offset & 1 == 0 || self.remaining <= 1 {
                return None;
            }
        }
    }
}

/// The socket asks `bind(port 0)` first (`bind-no-port` and `connect` go through connect()).
fn is_bind(req: &Request<'_>) -> bool {
    req.mode == SocketMode::BindThenConnect
}

/// How an era draws `bind(0)`'s offset: `prandom_u32() % remaining` before 6.1,
/// `get_random_u32_below(remaining)` since.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BindDraw {
    Modulo,
    Below,
}

/// `inet_csk_find_open_port()` (4.6+): a random odd offset in `[0, remaining)`, the odd pass
/// first, then `offset - 1`, the even one. With `SO_REUSEADDR` (`so_reuseaddr`) the lower half
/// of the range is tried first, then the upper half. Nothing is remembered between calls.
fn find_open_port<R: Rng>(
    req: &Request<'_>,
    check: &dyn PortCheck,
    rng: &mut R,
    draw: BindDraw,
    so_reuseaddr: bool,
) -> Selection {
    let lo = u32::from(req.range.lo());
    let hi = u32::from(req.range.hi()) + 1;
    let mut attempt_half = if so_reuseaddr { 1 } else { 0 };
    let mut candidates = 0;
    loop {
        let (mut low, mut high) = (lo, hi);
        if high - low < 4 {
            attempt_half = 0;
        }
        if attempt_half != 0 {
            let half = low + (((high - low) >> 2) << 1);
            if attempt_half == 1 {
                high = half;
            } else {
                low = half;
            }
        }
        let scan = Scan::new(low, high, 2);
        let r = match draw {
            BindDraw::Modulo => random32(rng) % scan.remaining,
            BindDraw::Below => random_u32_below(rng, scan.remaining),
        };
        let mut offset = r | 1;
        loop {
            if let Some((port, _)) = scan.pass(offset, check, &mut candidates) {
                return Selection::found(port, candidates);
            }
            offset = offset.wrapping_sub(1);
            if offset & 1 != 0 {
                break;
            }
        }
        if attempt_half == 1 {
            attempt_half = 2;
            continue;
        }
        return Selection::exhausted(candidates);
    }
}

/// Linux >= 5.18's parameters, with the kernel's values as defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LinuxConfig {
    /// `INET_TABLE_PERTURB_SIZE` = `1 << CONFIG_INET_TABLE_PERTURB_ORDER` (16: aeac4ec8f46d made it configurable;
    /// the order was fixed at 16 by 4c2c8f03a5ab). A power of two.
    pub table_length: u32,
    /// The hash-input window (4dfa9b438ee3): 10 s; `None` turns re-keying off.
    pub rekey_period: Option<Nanos>,
    pub hash: HashFn,
    /// The socket set `SO_REUSEADDR` before `bind(0)`: `inet_csk_find_open_port()` then tries the
    /// lower half of the range first. Only the search order is modelled; the stack's bind check
    /// stays the one without `SO_REUSEADDR`.
    pub so_reuseaddr: bool,
}

impl Default for LinuxConfig {
    fn default() -> Self {
        LinuxConfig {
            table_length: 1 << 16,
            rekey_period: Some(SHUFFLE_PERIOD),
            hash: HashFn::Siphash24,
            so_reuseaddr: false,
        }
    }
}

/// Linux >= 5.18 `connect()` (and `bind(0)`): see the module documentation.
#[derive(Debug)]
pub struct Linux<R = StrategyRng> {
    cfg: LinuxConfig,
    /// `net_secret`, random once per boot.
    secret: KeyedHash,
    /// `jiffies / (10 * HZ)` with a random boot phase.
    rekey: Rekey,
    /// `table_perturb[]`, filled with random bytes at first use.
    table: Vec<u32>,
    rng: R,
}

impl<R: Rng + Send> Linux<R> {
    /// Draws, in order: the secret (k0, k1), the window phase (if re-keying), then the table,
    /// one `u32` per entry.
    pub fn new(cfg: LinuxConfig, mut rng: R) -> Self {
        let secret = KeyedHash::from_rng(&mut rng, cfg.hash);
        let rekey = Rekey::new(cfg.rekey_period, &mut rng);
        let table = (0..cfg.table_length).map(|_| random32(&mut rng)).collect();
        Linux { cfg, secret, rekey, table, rng }
    }

    /// The counters; for tests and reports.
    pub fn table(&self) -> &[u32] {
        &self.table
    }
}

impl<R: Rng + Send> PortSelector for Linux<R> {
    fn select(&mut self, req: &Request<'_>, check: &dyn PortCheck) -> Selection {
        if is_bind(req) {
            return find_open_port(req, check, &mut self.rng, BindDraw::Below, self.cfg.so_reuseaddr);
        }
        // IP_LOCAL_PORT_RANGE (6.8+): step 1, one pass, no parity split.
        let step = if req.per_socket_range { 1 } else { 2 };
        let scan = Scan::new(u32::from(req.range.lo()), u32::from(req.range.hi()) + 1, step);
        let port_offset = self.secret.hash(req.flow, self.rekey.window(req.now));
        let index = (port_offset as u32 & (self.cfg.table_length - 1)) as usize;
        let mut offset = self.table[index].wrapping_add((port_offset >> 32) as u32) % scan.remaining;
        if step == 2 {
            offset &= !1;
        }
        let mut candidates = 0;
        match scan.connect(offset, check, &mut candidates) {
            Some((port, i)) => {
                let r = random_u32_below(&mut self.rng, 8);
                let i = i.max(r * step);
                self.table[index] = self.table[index].wrapping_add(i + step);
                Selection::found(port, candidates)
            }
            None => Selection::exhausted(candidates),
        }
    }
}

/// Linux 5.12-5.17's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Linux512Config {
    /// `1 << INET_TABLE_PERTURB_SHIFT` = 256. A power of two.
    pub table_length: u32,
    pub hash: HashFn,
    /// c579bd1b4021: after a success on the first candidate, skip the next one (`i = 2`) when
    /// `prandom_u32() % skip_one_in == 0`; 0 turns the noise off.
    pub skip_one_in: u32,
}

impl Default for Linux512Config {
    fn default() -> Self {
        Linux512Config { table_length: 256, hash: HashFn::Siphash24, skip_one_in: 16 }
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

    pub fn table(&self) -> &[u32] {
        &self.table
    }
}

impl<R: Rng + Send> PortSelector for Linux512<R> {
    fn select(&mut self, req: &Request<'_>, check: &dyn PortCheck) -> Selection {
        if is_bind(req) {
            return find_open_port(req, check, &mut self.rng, BindDraw::Modulo, false);
        }
        // IP_LOCAL_PORT_RANGE did not exist yet: the range is used, the scan stays step 2.
        let scan = Scan::new(u32::from(req.range.lo()), u32::from(req.range.hi()) + 1, 2);
        // secure_ipv4_port_ephemeral() returned the low 32 bits of the SipHash.
        let port_offset = self.secret.hash(req.flow, 0) as u32;
        let index = hash_32(port_offset, self.bits) as usize;
        let offset = (self.table[index].wrapping_add(port_offset) % scan.remaining) & !1;
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

/// Which pre-5.12 kernel [`LinuxLegacy`] reproduces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum LegacyEra {
    /// 4.6-5.11: parity passes with step 2, `hint += i + 2`; `bind(0)` takes odd ports.
    #[serde(rename = "4.6")]
    V4_6,
    /// 3.x-4.5: one pass `low + (i + hint + hash) % n` for i = 1..n, `hint += i`; `bind(0)` is a
    /// random start and a +1 scan; default range 32768-61000, `tcp_tw_reuse` 0.
    #[serde(rename = "3.x")]
    V3,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LinuxLegacyConfig {
    pub era: LegacyEra,
    pub hash: HashFn,
}

impl Default for LinuxLegacyConfig {
    fn default() -> Self {
        LinuxLegacyConfig { era: LegacyEra::V4_6, hash: HashFn::Siphash24 }
    }
}

/// Linux <= 5.11 `connect()`: RFC 6056 Algorithm 3 with one `static u32 hint` shared by every
/// destination (the counter 190cc82489f4 replaced because websites could count a user's
/// connections with it). The hash is the 32-bit `secure_ipv4_port_ephemeral()` (SipHash since
/// 2017, MD5 before; SipHash here).
#[derive(Debug)]
pub struct LinuxLegacy<R = StrategyRng> {
    cfg: LinuxLegacyConfig,
    secret: KeyedHash,
    hint: u32,
    rng: R,
}

impl<R: Rng + Send> LinuxLegacy<R> {
    /// Draws the secret (k0, k1); `hint` starts at 0, as a static does.
    pub fn new(cfg: LinuxLegacyConfig, mut rng: R) -> Self {
        let secret = KeyedHash::from_rng(&mut rng, cfg.hash);
        LinuxLegacy { cfg, secret, hint: 0, rng }
    }

    pub fn hint(&self) -> u32 {
        self.hint
    }
}

impl<R: Rng + Send> PortSelector for LinuxLegacy<R> {
    fn select(&mut self, req: &Request<'_>, check: &dyn PortCheck) -> Selection {
        let (lo, hi) = (u32::from(req.range.lo()), u32::from(req.range.hi()));
        match (self.cfg.era, is_bind(req)) {
            (LegacyEra::V4_6, true) => find_open_port(req, check, &mut self.rng, BindDraw::Modulo, false),
            (LegacyEra::V4_6, false) => {
                let scan = Scan::new(lo, hi + 1, 2);
                let port_offset = self.secret.hash(req.flow, 0) as u32;
                let offset = (self.hint.wrapping_add(port_offset) % scan.remaining) & !1;
                let mut candidates = 0;
                match scan.connect(offset, check, &mut candidates) {
                    Some((port, i)) => {
                        self.hint = self.hint.wrapping_add(i + 2);
                        Selection::found(port, candidates)
                    }
                    None => Selection::exhausted(candidates),
                }
            }
            (LegacyEra::V3, true) => {
                // inet_csk_get_port(): rover = random % n + low, then +1 with wrap, n candidates.
                let n = hi - lo + 1;
                let mut rover = lo + random32(&mut self.rng) % n;
                for k in 1..=n {
                    if check.is_suitable(rover as u16) {
                        return Selection::found(rover as u16, k);
                    }
                    rover = if rover == hi { lo } else { rover + 1 };
                }
                Selection::exhausted(n)
            }
            (LegacyEra::V3, false) => {
                let n = hi - lo + 1;
                let offset = self.hint.wrapping_add(self.secret.hash(req.flow, 0) as u32);
                for i in 1..=n {
                    let port = lo + i.wrapping_add(offset) % n;
                    if check.is_suitable(port as u16) {
                        self.hint = self.hint.wrapping_add(i);
                        return Selection::found(port as u16, i);
                    }
                }
                Selection::exhausted(n)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::ScriptedRng;

    #[test]
    fn below_is_multiply_shift_with_rejection() {
        // ceil 8: (0xE000_0000 * 8) >> 32 = 7, no rejection for a power of two.
        assert_eq!(random_u32_below(&mut ScriptedRng::new([0xE000_0000]), 8), 7);
        // ceil 10: 2^32 mod 10 = 6. A draw of 0 gives mult 0, low half 0 < 10 and < 6: redraw;
        // 0x8000_0000 * 10 = 5 << 32, low half 0 again < 6: redraw; 0x1999_999A * 10 =
        // 0x1_0000_0004, low half 4 < 6: redraw; 0x3333_3334 * 10 = 0x2_0000_0008, 8 >= 6: 2.
        let mut rng = ScriptedRng::new([0, 0x8000_0000, 0x1999_999A, 0x3333_3334]);
        assert_eq!(random_u32_below(&mut rng, 10), 2);
        assert_eq!(rng.remaining(), 0);
    }

    #[test]
    fn hash_32_keeps_the_top_bits_of_the_golden_ratio_product() {
        assert_eq!(hash_32(1, 8), 0x61);
        assert_eq!(hash_32(2, 8), 0xC3);
        assert_eq!(hash_32(12345, 0), 0);
    }

    /// Records the ports looked at; every one is busy.
    struct Recorder(std::cell::RefCell<Vec<u16>>);

    impl PortCheck for Recorder {
        fn is_suitable(&self, port: u16) -> bool {
            self.0.borrow_mut().push(port);
            false
        }
    }

    #[test]
    fn odd_sized_ranges_reach_hi_but_not_always_low() {
        // [0, 5): remaining rounds down to 4. Offset 2: ports 2, then 4 (4 < high = 5, so it is
        // not wrapped); offset 0: ports 0, 2.
        let scan = Scan::new(0, 5, 2);
        for (offset, expected) in [(2, vec![2, 4]), (0, vec![0, 2])] {
            let rec = Recorder(Default::default());
            let mut c = 0;
            assert!(scan.pass(offset, &rec, &mut c).is_none());
            assert_eq!((rec.0.into_inner(), c), (expected, 2));
        }
    }
}
