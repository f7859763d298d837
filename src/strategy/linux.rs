//! The `linux` profile: Linux >= 5.18 (and 6.x) `connect()` and `bind(port 0)` port selection,
//! from the descriptions in `operating-systems.md` §1 and `rfc6056.md` §3.2 (the kernel is
//! GPL-2.0: its code is described and re-derived here, never copied). The scan and `bind(0)`
//! machinery here is shared with the older eras, `linux_5_12.rs` and `linux_legacy.rs`.
//!
//! [`Linux`] is `__inet_hash_connect()` after the May 2022 series by Willy Tarreau and Eric
//! Dumazet (b2d057560b81, 9e9b70ae923b, 4dfa9b438ee3, ca7af0402550, e9261476184b, 4c2c8f03a5ab,
//! e8161345ddbb), with the 6.8 `IP_LOCAL_PORT_RANGE` step-1 scan: a 64-bit SipHash of (saddr,
//! daddr, dport, 10-second window) whose low 16 bits index a 2^16-entry table of random `u32`
//! counters and whose high 32 bits, added to the counter, give the offset; two parity passes;
//! after a success the counter advances by `max(i, 2·rand(0..7)) + 2`.
//!
//! `step_width` is `net.ipv4.ip_local_port_step_width`, net-next commit 7da62262ec96 ("inet:
//! add ip_local_port_step_width sysctl to improve port usage distribution", Fernando Fernandez
//! Mancera, March 2026): when set, each `connect()` draws a scan step `s` uniform in
//! `1..=min(positions, step_width)` (`get_random_u32_inclusive`), moves it up to the next value
//! coprime with the number of positions (skipping even values when both are even; back to 1
//! past the bound), and walks both parity passes by `s · step` instead of `step`: a variant of
//! RFC 6056 Algorithm 5 that still visits every port before `EADDRNOTAVAIL`, so the port after
//! a reserved block is no longer the one every blocked scan lands on. `i`, and so the table
//! update, still counts positions times `step`. 0 (the kernel's default) is today's scan.
//!
//! `bind(port 0)` (a [`SocketMode::BindThenConnect`] request) is `inet_csk_find_open_port()`
//! in every era from 4.6 on: a random odd offset, the odd pass first, then the even one, and no
//! table or hint update. The port it returns is held exclusively (the stack's `BindCheck`).
//!
//! `i` is the kernel's loop variable: positions scanned in the current pass times the step, so a
//! reserved or `bind()`-owned port (which the kernel `continue`s past) still advances it. Every
//! port looked at is one candidate, one `is_suitable` call.

use super::keyed_hash::{HashFn, KeyedHash, MemoHash, Rekey};
use super::registry::{ConfiguredStrategy, HASH_PARAM, OsDefaults, ParamInfo, StrategyConfig, StrategyInfo};
use super::registry::{flag, period_text, power_of_two};
use super::{PortCheck, PortSelector, Request, Selection, SocketMode, StrategyRng, TapeRng, random32};
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

/// The half-open range `[low, high)` one scan walks, and its step.
#[derive(Clone, Copy, Debug)]
pub(super) struct Scan {
    low: u32,
    high: u32,
    /// `high - low`, rounded down to even when the scan steps by 2.
    pub(super) remaining: u32,
    step: u32,
    /// How far the port moves per position: `step`, or `step_width`'s random coprime multiple.
    scan_step: u32,
}

impl Scan {
    /// `[lo, hi + 1)`; with `step` 2 the count is rounded to even (when more than 1), which is
    /// why an odd-sized range has a slightly irregular set of reachable ports.
    pub(super) fn new(lo: u32, high: u32, step: u32) -> Scan {
        let mut remaining = high - lo;
        if step == 2 && remaining > 1 {
            remaining &= !1;
        }
        Scan { low: lo, high, remaining, step, scan_step: step }
    }

    /// One pass from `low + offset`: `remaining / step` positions, wrapping by `remaining` when a
    /// port reaches `high`. Returns the port and the kernel's `i` for it.
    pub(super) fn pass<C: PortCheck + ?Sized>(
        &self,
        offset: u32,
        check: &C,
        candidates: &mut u32,
    ) -> Option<(u16, u32)> {
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
            port += self.scan_step;
        }
        None
    }

    /// The candidates one [`pass`](Scan::pass) examines when none is suitable: `i` runs from 0
    /// by `step` while below `remaining`, whatever the offset and the scan step.
    pub(super) fn pass_len(&self) -> u32 {
        self.remaining.div_ceil(self.step)
    }

    /// What [`connect`](Scan::connect) examines when no port is suitable, from the same
    /// control flow with each pass replaced by its length.
    pub(super) fn connect_exhausted(&self, mut offset: u32) -> u32 {
        let mut candidates = 0;
        loop {
            candidates += self.pass_len();
            if self.step == 1 {
                return candidates;
            }
            offset = offset.wrapping_add(1);
            if offset & 1 == 0 || self.remaining <= 1 {
                return candidates;
            }
        }
    }

    /// `__inet_hash_connect()`'s passes: from `offset`, then (with step 2) from `offset + 1`,
    /// the other parity, unless the first pass was already the odd one.
    pub(super) fn connect<C: PortCheck + ?Sized>(
        &self,
        mut offset: u32,
        check: &C,
        candidates: &mut u32,
    ) -> Option<(u16, u32)> {
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

/// 7da62262ec96's scan step for `positions` = `remaining / step` positions and
/// `ip_local_port_step_width` = `width` (> 0): a draw in `1..=min(positions, width)`, moved up to
/// the first value coprime with `positions`, or 1 if none is left below the bound. In positions;
/// the caller multiplies by `step`.
fn random_scan_step<R: Rng>(rng: &mut R, positions: u32, width: u32) -> u32 {
    let upper_bound = positions.min(width);
    // get_random_u32_inclusive(1, upper_bound) = 1 + get_random_u32_below(upper_bound).
    let mut s = 1 + random_u32_below(rng, upper_bound);
    while gcd(s, positions) != 1 {
        s += 1;
        if s & 1 == 0 && positions & 1 == 0 {
            s += 1;
        }
        if s > upper_bound {
            return 1;
        }
    }
    s
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The socket asks `bind(port 0)` first (`bind-no-port` and `connect` go through connect()).
pub(super) fn is_bind(req: &Request<'_>) -> bool {
    req.mode == SocketMode::BindThenConnect
}

/// How an era draws `bind(0)`'s offset: `prandom_u32() % remaining` before 6.1,
/// `get_random_u32_below(remaining)` since.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum BindDraw {
    Modulo,
    Below,
}

/// `inet_csk_find_open_port()` (4.6+): a random odd offset in `[0, remaining)`, the odd pass
/// first, then `offset - 1`, the even one. With `SO_REUSEADDR` (`so_reuseaddr`) the lower half
/// of the range is tried first, then the upper half. Nothing is remembered between calls.
pub(super) fn find_open_port<R: Rng, C: PortCheck + ?Sized>(
    req: &Request<'_>,
    check: &C,
    rng: &mut R,
    draw: BindDraw,
    so_reuseaddr: bool,
) -> Selection {
    find_open_port_with(req, rng, draw, so_reuseaddr, |scan, offset, candidates| {
        scan.pass(offset, check, candidates)
    })
}

/// [`find_open_port`] when no port of the range is free: the same draws (one offset per half
/// searched, each drawn exactly as the scan draws it, rejection included) and the same
/// candidate count, each pass replaced by its length.
pub(super) fn find_open_port_exhausted<R: Rng>(
    req: &Request<'_>,
    rng: &mut R,
    draw: BindDraw,
    so_reuseaddr: bool,
) -> Selection {
    find_open_port_with(req, rng, draw, so_reuseaddr, |scan, _, candidates| {
        *candidates += scan.pass_len();
        None
    })
}

/// `inet_csk_find_open_port()`'s control flow around `pass`, which scans one parity.
fn find_open_port_with<R: Rng>(
    req: &Request<'_>,
    rng: &mut R,
    draw: BindDraw,
    so_reuseaddr: bool,
    mut pass: impl FnMut(&Scan, u32, &mut u32) -> Option<(u16, u32)>,
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
            if let Some((port, _)) = pass(&scan, offset, &mut candidates) {
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
    /// The keyed hash (`siphash_3u32`/`siphash_4u32`: SipHash-2-4).
    pub hash: HashFn,
    /// The socket set `SO_REUSEADDR` before `bind(0)`: `inet_csk_find_open_port()` then tries the
    /// lower half of the range first. Only the search order is modelled; the stack's bind check
    /// stays the one without `SO_REUSEADDR`.
    pub so_reuseaddr: bool,
    /// `net.ipv4.ip_local_port_step_width` (7da62262ec96): the largest random scan step, in
    /// positions; 0 (the default) scans by one position.
    pub step_width: u32,
    /// `CONFIG_HZ`: the TIME_WAIT grid.
    pub hz: u32,
}

impl Default for LinuxConfig {
    fn default() -> Self {
        LinuxConfig {
            table_length: 1 << 16,
            rekey_period: Some(SHUFFLE_PERIOD),
            hash: HashFn::Siphash24,
            so_reuseaddr: false,
            step_width: 0,
            hz: crate::scenario::DEFAULT_HZ,
        }
    }
}

/// `linux`.
pub static INFO: StrategyInfo = StrategyInfo {
    name: "linux",
    aliases: &[],
    summary: "Linux >= 5.18 connect(): Algorithm 4 with a 2^16 table of u32 counters, 64-bit SipHash of (saddr, daddr, dport, 10 s window), even/odd parity passes, counter += max(i, 2*rand(0..7)) + 2; bind(0) takes odd ports",
    params: &[
        ParamInfo {
            name: "table_length",
            default: "65536",
            help: "table_perturb[] entries, a power of two (1 << CONFIG_INET_TABLE_PERTURB_ORDER)",
        },
        ParamInfo {
            name: "rekey_period",
            default: "10s",
            help: "the hash-input window, EPHEMERAL_PORT_SHUFFLE_PERIOD (\"none\" for no re-keying)",
        },
        HASH_PARAM,
        ParamInfo {
            name: "so_reuseaddr",
            default: "false",
            help: "bind(0) sockets set SO_REUSEADDR: search the lower half of the range first",
        },
        ParamInfo {
            name: "step_width",
            default: "0",
            help: "net.ipv4.ip_local_port_step_width (7da62262ec96): connect() scans by a random step in 1..=N coprime with the range; 0 = by 1",
        },
        HZ_PARAM,
    ],
    parse: |p| {
        let table_length = power_of_two(p, "table_length", 1 << 16, 1 << 24)?;
        let rekey_period =
            if p.has("rekey_period") { p.optional_period("rekey_period")? } else { Some(SHUFFLE_PERIOD) };
        Ok(StrategyConfig::new(LinuxConfig {
            table_length,
            rekey_period,
            hash: HashFn::parse(p.choice("hash", HashFn::NAMES)?),
            so_reuseaddr: flag(p, "so_reuseaddr", false)?,
            step_width: p.u64_in("step_width", 0, 0, u64::from(u32::MAX))? as u32,
            hz: parse_hz(p)?,
        }))
    },
};

/// The defaults of every Linux since 4.6: `ip_local_port_range` 32768-60999,
/// `TCP_TIMEWAIT_LEN` 60 s, `tcp_tw_reuse` 2 (loopback only).
/// The Linux profiles' stack: `ip_local_port_range` 32768-60999, four-tuple scope,
/// `TCP_TIMEWAIT_LEN` 60 s on the timer wheel of `CONFIG_HZ = hz`, `tcp_tw_reuse` 2, and
/// per-port bind buckets (`__inet_hash_connect()` skips a bucket a `bind()` made or joined).
pub(super) fn linux_defaults(hz: u32) -> OsDefaults {
    use crate::stack::{BindConflict, Scope, TwReuse};
    OsDefaults {
        hz: Some(hz),
        bind_conflict: Some(BindConflict::Port),
        ..OsDefaults::profile(32768, 60999, Scope::FourTuple, 60, TwReuse::Loopback)
    }
}

/// `hz`: every Linux profile's `CONFIG_HZ`, which sets its TIME_WAIT grid.
pub(super) const HZ_PARAM: ParamInfo = ParamInfo {
    name: "hz",
    default: "250",
    help: "CONFIG_HZ (100, 250, 300 or 1000): TIME_WAIT ends on the timer wheel's grid, 2.048 s at 250",
};

/// Reads `hz`, one of the kernel's `CONFIG_HZ` choices.
pub(super) fn parse_hz(p: &mut crate::params::Params) -> Result<u32, crate::params::ParamError> {
    let hz = p.u64_in("hz", u64::from(crate::scenario::DEFAULT_HZ), 1, 100_000)? as u32;
    if !crate::stack::timer_wheel::HZ_CHOICES.contains(&hz) {
        return Err(p.error("hz", format!("{hz} is not a CONFIG_HZ choice: use 100, 250, 300 or 1000")));
    }
    Ok(hz)
}

impl ConfiguredStrategy for LinuxConfig {
    fn name(&self) -> &'static str {
        INFO.name
    }
    fn os_defaults(&self) -> OsDefaults {
        linux_defaults(self.hz)
    }
    fn settings(&self) -> serde_json::Value {
        serde_json::json!({
            "table_length": self.table_length,
            "rekey_period": period_text(self.rekey_period),
            "hash": self.hash,
            "so_reuseaddr": self.so_reuseaddr,
            "step_width": self.step_width,
            "hz": self.hz,
        })
    }
    fn build(&self, rng: StrategyRng) -> Box<dyn PortSelector> {
        Box::new(Linux::new(*self, rng))
    }
    fn build_taped(&self, rng: TapeRng) -> Option<Box<dyn PortSelector>> {
        Some(Box::new(Linux::new(*self, rng)))
    }
}

/// Linux >= 5.18 `connect()` (and `bind(0)`): see the module documentation.
#[derive(Debug)]
pub struct Linux<R = StrategyRng> {
    cfg: LinuxConfig,
    /// `net_secret`, random once per boot, remembering its last answer.
    secret: MemoHash,
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
        Linux { cfg, secret: MemoHash::new(secret), rekey, table, rng }
    }

    /// The counters; for tests and reports.
    pub fn table(&self) -> &[u32] {
        &self.table
    }
}

impl<R: Rng + Send> PortSelector for Linux<R> {
    select_via_generic!();

    /// Both parity passes run to their end, and the table and the `get_random_u32_below(8)`
    /// draw change only after a success: a failed `connect()` leaves the table alone and draws
    /// only its scan step (with `step_width`, a rejection-sampled draw made here exactly as
    /// the scan makes it). `bind(0)` draws its offsets and scans both parities of each half.
    fn select_exhausted(&mut self, req: &Request<'_>) -> Option<Selection> {
        if is_bind(req) {
            return Some(find_open_port_exhausted(req, &mut self.rng, BindDraw::Below, self.cfg.so_reuseaddr));
        }
        let (scan, offset, _) = self.connect_scan(req);
        Some(Selection::exhausted(scan.connect_exhausted(offset)))
    }
}

impl<R: Rng + Send> Linux<R> {
    /// A `connect()`'s scan, its starting offset and its table index; draws the scan step when
    /// `step_width` is set.
    fn connect_scan(&mut self, req: &Request<'_>) -> (Scan, u32, usize) {
        // IP_LOCAL_PORT_RANGE (6.8+): step 1, one pass, no parity split.
        let step = if req.per_socket_range { 1 } else { 2 };
        let mut scan = Scan::new(u32::from(req.range.lo()), u32::from(req.range.hi()) + 1, step);
        let port_offset = self.secret.hash(req.flow, self.rekey.window(req.now));
        let index = (port_offset as u32 & (self.cfg.table_length - 1)) as usize;
        let mut offset = self.table[index].wrapping_add((port_offset >> 32) as u32) % scan.remaining;
        if step == 2 {
            offset &= !1;
        }
        // Drawn once per connect(), after the offset, for both parity passes.
        if self.cfg.step_width != 0 && scan.remaining > 1 {
            scan.scan_step =
                random_scan_step(&mut self.rng, scan.remaining / step, self.cfg.step_width) * step;
        }
        (scan, offset, index)
    }

    /// The selection, generic over the check: the engine's calls are monomorphised, so no
    /// candidate pays a dynamic call (issue 16).
    pub(crate) fn select_generic<C: PortCheck + ?Sized>(&mut self, req: &Request<'_>, check: &C) -> Selection {
        if is_bind(req) {
            return find_open_port(req, check, &mut self.rng, BindDraw::Below, self.cfg.so_reuseaddr);
        }
        let (scan, offset, index) = self.connect_scan(req);
        let step = scan.step;
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

    #[test]
    fn step_width_draws_a_step_then_moves_it_to_the_next_coprime() {
        let step = |positions, width, draw| random_scan_step(&mut ScriptedRng::new([draw]), positions, width);
        // 5 positions, width 3: below(3) of 0x8000_0000 is 1, so 2, coprime with 5.
        assert_eq!(step(5, 3, 0x8000_0000), 2);
        // 6 positions: below(6) of 0x3000_0000 is 1 -> 2; gcd 2: 3 (odd, no skip); gcd 3: 4,
        // even with 6 even: 5; coprime.
        assert_eq!(step(6, 6, 0x3000_0000), 5);
        // below(6) of 0x6000_0000 is 2 -> 3; gcd 3: 4, skipped to 5.
        assert_eq!(step(6, 6, 0x6000_0000), 5);
        // below(6) of 0xE000_0000 is 5 -> 6; gcd 6: 7 > 6, back to 1.
        assert_eq!(step(6, 6, 0xE000_0000), 1);
        // A width above the positions is bounded by them: below(5) of 0xF000_0000 is 4 -> 5;
        // gcd 5: 6 (5 odd: no skip) > 5, back to 1.
        assert_eq!(step(5, 1000, 0xF000_0000), 1);
        // Linux's default range, 14116 positions = 4 x 3529: 2 -> 3.
        assert_eq!(step(14116, 10, 0x2000_0000), 3);
        // Width 1 always steps by one position (one draw, below(1) = 0).
        assert_eq!(step(14116, 1, 0xFFFF_FFFF), 1);
    }

    #[test]
    fn a_coprime_scan_step_visits_each_port_once_per_parity() {
        let mut scan = Scan::new(100, 110, 2);
        scan.scan_step = 4;
        let rec = Recorder(Default::default());
        let mut c = 0;
        assert!(scan.connect(0, &rec, &mut c).is_none());
        assert_eq!(rec.0.into_inner(), [100, 104, 108, 102, 106, 101, 105, 109, 103, 107]);
        assert_eq!(c, 10);
    }

    #[test]
    fn linux_with_step_width_scans_by_the_step_it_draws_on_each_connect() {
        use crate::stack::{Flow, PortRange};
        use crate::strategy::{BusyPorts, keyed_hash::KeyedHash};
        // [1000, 1010): remaining 10, 5 positions a parity. One-entry table = 100, no re-keying:
        // script = k0 = 1, k1 = 2, table[0], then per connect() the step draw and, after a
        // success, get_random_u32_below(8).
        let cfg =
            LinuxConfig { table_length: 1, rekey_period: None, step_width: 3, ..LinuxConfig::default() };
        let rng = ScriptedRng::new([1, 0, 2, 0, 100, 0x8000_0000, 0, 0xF000_0000, 0, 0x2000_0000]);
        let mut s = Linux::new(cfg, rng);
        let f = Flow::new([10, 0, 0, 1].into(), [192, 0, 2, 1].into(), 443);
        let hi = (KeyedHash { k0: 1, k1: 2, function: HashFn::Siphash24 }.hash(&f, 0) >> 32) as u32;
        let e = (100u32.wrapping_add(hi) % 10) & !1;
        let port = |k: u32| 1000 + ((e + k) % 10) as u16;
        let req = Request::connect(&f, 0, PortRange::new(1000, 1009).unwrap());
        // 1: step 2 positions (below(3) = 1), so 4 ports: port(0), port(4) busy, port(8) free at
        //    i = 4. r = 0: table += max(4, 0) + 2 -> 106.
        let mut busy = BusyPorts::new([port(0), port(4)]);
        assert_eq!(s.select(&req, &busy), Selection::found(port(8), 3));
        assert_eq!(s.table(), &[106]);
        // 2: offset e + 6; step 3 positions (below(3) = 2), 6 ports. Every even port busy: e + 6,
        //    e + 2, e + 8, e + 4, e; the odd pass starts at e + 7, free at i = 0. += 0 + 2 -> 108.
        busy.0.extend((1000..1010).step_by(2));
        assert_eq!(s.select(&req, &busy), Selection::found(port(7), 6));
        assert_eq!(s.table(), &[108]);
        // 3: everything busy: a step is drawn (below(3) = 0: step 1), every port is tried once.
        busy.0.extend(1000..1010);
        assert_eq!(s.select(&req, &busy), Selection::exhausted(10));
        assert_eq!(s.table(), &[108]);
    }
}
