//! The `linux-legacy` profile: Linux <= 5.11 `connect()`, RFC 6056 Algorithm 3 with one shared
//! `hint`; by default the 4.6-5.11 form ("tcp/dccp: better use of ephemeral ports in
//! connect()", 1580ab63fc9a, 2016: parity passes, step 2, `hint += i + 2`), optionally the 4.2-4.5
//! form ("tcp/dccp: try to not exhaust ip_local_port_range in connect()", 07f4c90062f8: an even
//! offset, one pass with step 1, `hint += (i + 2) & ~1`) or the form before it (one pass, step
//! 1, `hint += i`). The step-2 scan and `bind(0)` are those of [`super::linux`].

use super::keyed_hash::{HashFn, KeyedHash};
use super::linux::{BindDraw, HZ_PARAM, Scan, find_open_port, find_open_port_exhausted, is_bind};
use super::linux::{linux_defaults, parse_hz};
use super::registry::{
    ConfiguredStrategy, HASH_PARAM, OsDefaults, ParamInfo, StrategyConfig, StrategyInfo, serialized,
};
use super::{PortCheck, PortSelector, Request, Selection, StrategyRng, TapeRng, random32};
use rand::Rng;
use serde::Serialize;

/// `linux-legacy`.
pub static INFO: StrategyInfo = StrategyInfo {
    name: "linux-legacy",
    aliases: &[],
    summary: "Linux <= 5.11 connect(): Algorithm 3 with one shared hint; era 4.6 (to 5.11): parity passes, hint += i + 2; era 4.2: even offset, one pass, hint += (i + 2) & ~1; era <= 4.1: one pass, hint += i; before 4.6 the range is 32768-61000",
    params: &[
        ParamInfo {
            name: "era",
            default: "4.6",
            help: "4.6 (4.6-5.11, with the tw_reuse = 2 (loopback) default of 2018, 79e9fed46038), 4.2 (4.2-4.5) or <= 4.1 (\"3.x\" is the old name); before 4.6: range 32768-61000, tw_reuse off",
        },
        HASH_PARAM,
        HZ_PARAM,
    ],
    parse: |p| {
        let era = match p.choice("era", &["4.6", "4.2", "<= 4.1", "3.x"])? {
            "4.2" => LegacyEra::V4_2,
            "<= 4.1" | "3.x" => LegacyEra::V3,
            _ => LegacyEra::V4_6,
        };
        Ok(StrategyConfig::new(LinuxLegacyConfig {
            era,
            hash: HashFn::parse(p.choice("hash", HashFn::NAMES)?),
            hz: parse_hz(p)?,
        }))
    },
};

impl ConfiguredStrategy for LinuxLegacyConfig {
    fn name(&self) -> &'static str {
        INFO.name
    }
    fn os_defaults(&self) -> OsDefaults {
        use crate::stack::{PortRange, TwReuse};
        match self.era {
            // tcp_tw_reuse = 2 became the default in 2018 (79e9fed46038), within this era: the
            // defaults are those of its later kernels, up to 5.11.
            LegacyEra::V4_6 => linux_defaults(self.hz),
            // Before 4.6 the range was 32768-61000, and tcp_tw_reuse defaulted to 0.
            LegacyEra::V4_2 | LegacyEra::V3 => OsDefaults {
                range: Some(PortRange::new(32768, 61000).expect("a valid built-in range")),
                tw_reuse: Some(TwReuse::Off),
                ..linux_defaults(self.hz)
            },
        }
    }
    fn settings(&self) -> serde_json::Value {
        serialized(self)
    }
    fn build(&self, rng: StrategyRng) -> Box<dyn PortSelector> {
        Box::new(LinuxLegacy::new(*self, rng))
    }
    fn build_taped(&self, rng: TapeRng) -> Option<Box<dyn PortSelector>> {
        Some(Box::new(LinuxLegacy::new(*self, rng)))
    }
}

/// Which pre-5.12 kernel [`LinuxLegacy`] reproduces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum LegacyEra {
    /// 4.6-5.11: parity passes with step 2, `hint += i + 2`; `bind(0)` takes odd ports.
    #[serde(rename = "4.6")]
    V4_6,
    /// 4.2-4.5: `offset = (hint + hash) & ~1`, one pass `low + (i + offset) % n` for i = 0..n,
    /// `hint += (i + 2) & ~1` (07f4c90062f8); `bind(0)` as before 4.2; default range
    /// 32768-61000, `tcp_tw_reuse` 0.
    #[serde(rename = "4.2")]
    V4_2,
    /// Before 4.2: one pass `low + (i + hint + hash) % n` for i = 1..n, `hint += i`; `bind(0)`
    /// is a random start and a +1 scan; default range 32768-61000, `tcp_tw_reuse` 0.
    #[serde(rename = "<= 4.1")]
    V3,
}

/// `linux-legacy`'s parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LinuxLegacyConfig {
    /// Which kernels it reproduces.
    pub era: LegacyEra,
    /// The keyed hash of `secure_ipv4_port_ephemeral()`.
    pub hash: HashFn,
    /// `CONFIG_HZ`: the TIME_WAIT grid.
    pub hz: u32,
}

impl Default for LinuxLegacyConfig {
    fn default() -> Self {
        LinuxLegacyConfig { era: LegacyEra::V4_6, hash: HashFn::Siphash24, hz: crate::scenario::DEFAULT_HZ }
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

    /// The shared `hint`; for tests.
    pub fn hint(&self) -> u32 {
        self.hint
    }
}

impl<R: Rng + Send> PortSelector for LinuxLegacy<R> {
    select_via_generic!();

    /// Every era moves `hint` only after a success. A failed 4.6 `connect()` scans both
    /// parities; the older ones scan all `n` ports once; `bind(0)` draws its offset (4.6: both
    /// parities; before: a rover over all `n`). Nothing else changes.
    fn select_exhausted(&mut self, req: &Request<'_>) -> Option<Selection> {
        let (lo, hi) = (u32::from(req.range.lo()), u32::from(req.range.hi()));
        let n = hi - lo + 1;
        Some(match (self.cfg.era, is_bind(req)) {
            (LegacyEra::V4_6, true) => find_open_port_exhausted(req, &mut self.rng, BindDraw::Modulo, false),
            (LegacyEra::V4_6, false) => {
                let scan = Scan::new(lo, hi + 1, 2);
                let port_offset = self.secret.hash(req.flow, 0) as u32;
                let offset = (self.hint.wrapping_add(port_offset) % scan.remaining) & !1;
                Selection::exhausted(scan.connect_exhausted(offset))
            }
            (LegacyEra::V3 | LegacyEra::V4_2, true) => {
                random32(&mut self.rng);
                Selection::exhausted(n)
            }
            (LegacyEra::V3 | LegacyEra::V4_2, false) => Selection::exhausted(n),
        })
    }
}

impl<R: Rng + Send> LinuxLegacy<R> {
    /// The selection, generic over the check: the engine's calls are monomorphised, so no
    /// candidate pays a dynamic call (issue 16).
    pub(crate) fn select_generic<C: PortCheck + ?Sized>(&mut self, req: &Request<'_>, check: &C) -> Selection {
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
            (LegacyEra::V4_2, false) => {
                // The even offset leaves about half the ports to bind(0); reserved ports are
                // `continue`d past, so they count in `i`.
                let n = hi - lo + 1;
                let offset = self.hint.wrapping_add(self.secret.hash(req.flow, 0) as u32) & !1;
                for i in 0..n {
                    let port = lo + i.wrapping_add(offset) % n;
                    if check.is_suitable(port as u16) {
                        self.hint = self.hint.wrapping_add((i + 2) & !1);
                        return Selection::found(port as u16, i + 1);
                    }
                }
                Selection::exhausted(n)
            }
            (LegacyEra::V3 | LegacyEra::V4_2, true) => {
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
