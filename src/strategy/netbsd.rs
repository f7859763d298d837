//! NetBSD's `sys/netinet/portalgo.c` (Vlad Balan, 2011, BSD licence; described here from
//! portalgo.c 1.9 and `operating-systems.md` §5): RFC 6056 made selectable with the
//! `net.inet.ip.anonportalgo.selected` sysctl. Uniqueness is local (address, port) whatever the
//! algorithm.
//!
//! Three algorithms are exactly the RFC strategies and reuse them: `bsd` is [`Bsd`] counting
//! down from `anonportmax`, `random_start` is [`RandomStart`], `random_pick` is [`RandomPick`].
//! The other three keep NetBSD's 16-bit state, which the RFC strategies do not:
//!
//! - `hash`: `port = min + (next + Fhash()) % n`, `next++` per candidate, `next` a `uint16_t`
//!   that wraps at 65,536 (so a long scan can jump by 65536 mod n).
//! - `doublehash`: `offset = Fhash()`, `idx = Fhash() % 8`, `port = min + (offset + table[idx]) % n`,
//!   `table[idx]++` per candidate; `table` is eight `uint16_t` drawn (`& 0xffff`) on the first call
//!   and again whenever `table[0]` is 0.
//! - `randinc`: `next` (`uint16_t`, drawn when 0) `+= random() % 500 + 1` before each candidate,
//!   `port = min + next % n`.
//!
//! `Fhash()` is MD5 over (laddr, faddr, fport, secret) folded to 16 bits by XOR. Here it is the
//! strategy's SipHash folded the same way. NetBSD's `Fhash()` draws a fresh secret on every call
//! (`cprng_fast(secret_f)`), so its `hash` and `doublehash` have no stable per-destination
//! offset; `per_call_secret = true`, the default, reproduces that; `false` keeps one secret per
//! boot as RFC 6056 intends (and then `doublehash`'s two `Fhash()` calls agree:
//! `idx = offset % 8`).
//!
//! On exhaustion every algorithm but `bsd` hands out `lastport - 1` (see [`NetBsd`]'s
//! `select`), and TIME_WAIT is 2 x MSL with the MSL of the destination's class
//! (`tcp_established()`, sys/netinet/tcp_subr.c; the simulator applies it).

use super::bsd::{Bsd, BsdConfig, Direction, Start};
use super::keyed_hash::{HashFn, KeyedHash};
use super::random_pick::RandomPick;
use super::random_start::RandomStart;
use super::registry::{
    ConfiguredStrategy, OsDefaults, ParamInfo, StrategyConfig, StrategyInfo, flag, serialized,
};
use super::{PortCheck, PortSelector, Request, Selection, SkipDraws, StrategyRng, TapeRng, random32};
use crate::stack::Flow;
use rand::Rng;
use serde::Serialize;

/// `net.inet.ip.anonportalgo.selected`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum NetBsdAlgorithm {
    /// `bsd`: the traditional counter, counting down.
    #[serde(rename = "bsd")]
    Bsd,
    /// `random_start`: Algorithm 1.
    #[serde(rename = "random_start")]
    RandomStart,
    /// `random_pick`: Algorithm 2.
    #[serde(rename = "random_pick")]
    RandomPick,
    /// `hash`: Algorithm 3 with a 16-bit counter.
    #[serde(rename = "hash")]
    Hash,
    /// `doublehash`: Algorithm 4 with 16-bit counters.
    #[serde(rename = "doublehash")]
    DoubleHash,
    /// `randinc`: Algorithm 5 with a 16-bit counter.
    #[serde(rename = "randinc")]
    RandInc,
}

impl NetBsdAlgorithm {
    /// The names `anonportalgo.available` lists, in its order.
    pub const NAMES: &'static [&'static str] =
        &["bsd", "random_start", "random_pick", "hash", "doublehash", "randinc"];

    /// The algorithm `anonportalgo.selected` names, if any.
    pub fn parse(name: &str) -> Option<NetBsdAlgorithm> {
        use NetBsdAlgorithm::*;
        [Bsd, RandomStart, RandomPick, Hash, DoubleHash, RandInc]
            .into_iter()
            .zip(Self::NAMES)
            .find(|(_, n)| **n == name)
            .map(|(a, _)| a)
    }
}

/// `netbsd`'s parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct NetBsdConfig {
    /// `net.inet.ip.anonportalgo.selected`.
    pub algorithm: NetBsdAlgorithm,
    /// A fresh secret on every `Fhash()` call, as NetBSD's code does.
    pub per_call_secret: bool,
    /// `randinc`'s N (a `static const` 500 in the kernel).
    pub n: u16,
    /// `doublehash`'s table length (`dhtable[8]`).
    pub table_length: u8,
    /// `net.inet.tcp.mslt.enable` (`tcp_msl_enable`, 1): MSL by destination class.
    pub msl_enable: bool,
    /// `tcp_msl_loop` (`PR_SLOWHZ` ticks: 1 s), from 127.0.0.1.
    pub msl_loopback: crate::time::Nanos,
    /// `tcp_msl_local` (5 s), toward an `in_localaddr()` destination.
    pub msl_local: crate::time::Nanos,
    /// `tcp_msl_remote` (`TCPTV_MSL`: 30 s), otherwise.
    pub msl_remote: crate::time::Nanos,
}

impl Default for NetBsdConfig {
    fn default() -> Self {
        let s = crate::time::NANOS_PER_SEC;
        NetBsdConfig {
            algorithm: NetBsdAlgorithm::Bsd,
            per_call_secret: true,
            n: 500,
            table_length: 8,
            msl_enable: true,
            msl_loopback: s,
            msl_local: 5 * s,
            msl_remote: 30 * s,
        }
    }
}

/// An MSL parameter: a positive duration, `default_s` seconds when unset.
fn msl(
    p: &mut crate::params::Params,
    key: &str,
    default_s: u64,
) -> Result<crate::time::Nanos, crate::params::ParamError> {
    match p.duration(key)? {
        None => Ok(default_s * crate::time::NANOS_PER_SEC),
        Some(0) => Err(p.error(key, "must be longer than 0")),
        Some(d) => Ok(d),
    }
}

/// The uniqueness scope of each algorithm. `in_pcbconnect()` binds through `in_pcbbind()`
/// before it sets the local address; the RFC 6056 algorithms then ask `check_suitable_port()`,
/// which looks the port up with `in_pcblookup_port(table, inp_laddr, port, 1)`. `inp_laddr` is
/// still the wildcard, and a wildcard lookup matches the port on every address: host-wide.
/// `hash` and `doublehash` need the complete tuple (`iscompletetuple()`), so their port is
/// picked later, at connect time, with the real source address: per address.
pub fn scope_of(algorithm: NetBsdAlgorithm) -> crate::stack::Scope {
    match algorithm {
        NetBsdAlgorithm::Hash | NetBsdAlgorithm::DoubleHash => crate::stack::Scope::LocalPort,
        _ => crate::stack::Scope::HostWide,
    }
}

/// `netbsd`.
pub static INFO: StrategyInfo = StrategyInfo {
    name: "netbsd",
    aliases: &[],
    summary: "NetBSD portalgo.c: the six selectable RFC 6056 algorithms with NetBSD's 16-bit state (default bsd, counting down from the top); host-wide scope (hash, doublehash: local-port); the non-bsd ones hand out lastport - 1 when they give up; TIME_WAIT 2 x MSL by destination class",
    params: &[
        ParamInfo {
            name: "algorithm",
            default: "bsd",
            help: "bsd, random_start, random_pick, hash, doublehash or randinc (net.inet.ip.anonportalgo.selected)",
        },
        ParamInfo {
            name: "per_call_secret",
            default: "true",
            help: "Fhash() draws a fresh secret on every call, as NetBSD's code does (hash and doublehash lose their per-destination offset); false is RFC 6056's intent",
        },
        ParamInfo {
            name: "n",
            default: "500",
            help: "randinc's N: increments are uniform in 1..N (1 to 65535)",
        },
        ParamInfo { name: "table_length", default: "8", help: "doublehash's dhtable[] entries (1 to 255)" },
        ParamInfo {
            name: "msl_enable",
            default: "true",
            help: "net.inet.tcp.mslt.enable: TIME_WAIT = 2 x the MSL of the destination's class; false: 2 x msl_remote",
        },
        ParamInfo {
            name: "msl_loopback",
            default: "1s",
            help: "net.inet.tcp.mslt.loopback: the MSL from 127.0.0.1",
        },
        ParamInfo {
            name: "msl_local",
            default: "5s",
            help: "net.inet.tcp.mslt.local: the MSL toward a destination on one of the host's subnets (give [host] addrs a prefix)",
        },
        ParamInfo { name: "msl_remote", default: "30s", help: "net.inet.tcp.mslt.remote: the MSL otherwise" },
    ],
    parse: |p| {
        let algorithm = NetBsdAlgorithm::parse(p.choice("algorithm", NetBsdAlgorithm::NAMES)?)
            .expect("choice() returns one of NAMES");
        Ok(StrategyConfig::new(NetBsdConfig {
            algorithm,
            per_call_secret: flag(p, "per_call_secret", true)?,
            n: p.u64_in("n", 500, 1, 65535)? as u16,
            table_length: p.u64_in("table_length", 8, 1, 255)? as u8,
            msl_enable: flag(p, "msl_enable", true)?,
            msl_loopback: msl(p, "msl_loopback", 1)?,
            msl_local: msl(p, "msl_local", 5)?,
            msl_remote: msl(p, "msl_remote", 30)?,
        }))
    },
};

impl ConfiguredStrategy for NetBsdConfig {
    fn name(&self) -> &'static str {
        INFO.name
    }
    /// anonportmin/max 49152-65535, 2 x MSL 30 s.
    fn os_defaults(&self) -> OsDefaults {
        use crate::stack::TwReuse;
        let (loopback, local) = if self.msl_enable {
            (self.msl_loopback, self.msl_local)
        } else {
            (self.msl_remote, self.msl_remote)
        };
        OsDefaults {
            time_wait: Some(2 * self.msl_remote),
            time_wait_classes: Some((2 * local, 2 * loopback)),
            ..OsDefaults::profile(49152, 65535, scope_of(self.algorithm), 60, TwReuse::Off)
        }
    }
    fn settings(&self) -> serde_json::Value {
        let mut v = serialized(self);
        for (key, d) in [
            ("msl_loopback", self.msl_loopback),
            ("msl_local", self.msl_local),
            ("msl_remote", self.msl_remote),
        ] {
            v[key] = crate::time::format_duration(d).into();
        }
        v
    }
    fn build(&self, rng: StrategyRng) -> Box<dyn PortSelector> {
        Box::new(NetBsd::new(*self, rng))
    }
    fn build_taped(&self, rng: TapeRng) -> Option<Box<dyn PortSelector>> {
        Some(Box::new(NetBsd::new(*self, rng)))
    }
}

/// The keyed `Fhash()`: the 64-bit SipHash folded to 16 bits by XOR, with either one secret or
/// a fresh one per call.
#[derive(Debug)]
struct Fhash {
    fixed: Option<KeyedHash>,
}

impl Fhash {
    fn hash<R: Rng>(&self, flow: &Flow, rng: &mut R) -> u16 {
        let key = match self.fixed {
            Some(k) => k,
            None => KeyedHash::from_rng(rng, HashFn::Siphash24),
        };
        let h = key.hash(flow, 0);
        (h ^ (h >> 16) ^ (h >> 32) ^ (h >> 48)) as u16
    }
}

#[derive(Debug)]
enum Inner<R> {
    Bsd(Bsd<R>),
    RandomStart(RandomStart<R>),
    RandomPick(RandomPick<R>),
    Own(Own<R>),
}

/// The state of `hash`, `doublehash` and `randinc`: `portalgo_next_ephemeral[...]` (zero at
/// boot) and `dhtable`.
#[derive(Debug)]
struct Own<R> {
    cfg: NetBsdConfig,
    fhash: Fhash,
    next: u16,
    table: Vec<u16>,
    rng: R,
}

/// NetBSD's selectable allocator.
#[derive(Debug)]
pub struct NetBsd<R = StrategyRng> {
    inner: Inner<R>,
    /// `inpcbtable.inpt_lastport`: `anonportmax` at boot (`in_pcbinit()`), then every port
    /// `in_pcbsetport()` hands out.
    lastport: Option<u16>,
}

impl<R: Rng + Send> NetBsd<R> {
    /// `bsd`, `random_start`, `random_pick`: draws as the RFC strategy does. `hash` and
    /// `doublehash` without `per_call_secret`: draws the secret (k0, k1) first. `doublehash`'s
    /// table and `randinc`'s counter are drawn lazily at the first selection, as in the kernel.
    pub fn new(cfg: NetBsdConfig, mut rng: R) -> Self {
        let inner = match cfg.algorithm {
            NetBsdAlgorithm::Bsd => {
                Inner::Bsd(Bsd::new(BsdConfig { start: Start::First, direction: Direction::Down }, rng))
            }
            NetBsdAlgorithm::RandomStart => Inner::RandomStart(RandomStart::new(rng)),
            NetBsdAlgorithm::RandomPick => Inner::RandomPick(RandomPick::new(rng)),
            NetBsdAlgorithm::Hash | NetBsdAlgorithm::DoubleHash | NetBsdAlgorithm::RandInc => {
                let keyed = matches!(cfg.algorithm, NetBsdAlgorithm::Hash | NetBsdAlgorithm::DoubleHash);
                let fixed =
                    (keyed && !cfg.per_call_secret).then(|| KeyedHash::from_rng(&mut rng, HashFn::Siphash24));
                let table = vec![0; usize::from(cfg.table_length)];
                Inner::Own(Own { cfg, fhash: Fhash { fixed }, next: 0, table, rng })
            }
        };
        NetBsd { inner, lastport: None }
    }

    /// `dhtable`, for tests.
    pub fn table(&self) -> &[u16] {
        match &self.inner {
            Inner::Own(o) => &o.table,
            _ => &[],
        }
    }

    /// `portalgo_next_ephemeral` of `hash` and `randinc`, for tests.
    pub fn next_ephemeral(&self) -> Option<u16> {
        match &self.inner {
            Inner::Own(o) => Some(o.next),
            _ => None,
        }
    }
}

/// On exhaustion `algo_bsd()` returns `EAGAIN` and the connect fails; every other algorithm
/// returns `EINVAL`, and `portalgo_randport()` answers any error but `EAGAIN` with
/// `*port = lastport - 1` and success: a port nobody checked, usually busy (and, `lastport`
/// being a `uint16_t`, outside the range when the last port was its lower end).
impl<R: SkipDraws + Send> PortSelector for NetBsd<R> {
    select_via_generic!();

    /// The algorithm's own exhaustion (the RFC strategies' shortcuts for `bsd`, `random_start`
    /// and `random_pick`; for NetBSD's 16-bit `hash` and `doublehash` the `Fhash()` calls, with
    /// their per-call secrets, are made and the counter moves `n` as one step per candidate
    /// would; `randinc` draws its increments), then `lastport - 1` handed out as the scan hands
    /// it out.
    fn select_exhausted(&mut self, req: &Request<'_>) -> Option<Selection> {
        let sel = match &mut self.inner {
            Inner::Bsd(s) => return s.select_exhausted(req),
            Inner::RandomStart(s) => s.select_exhausted(req)?,
            Inner::RandomPick(s) => s.select_exhausted(req)?,
            Inner::Own(o) => o.select_exhausted(req),
        };
        Some(self.after_scan(req, sel))
    }
}

impl<R: SkipDraws + Send> NetBsd<R> {
    /// The selection, generic over the check: the engine's calls are monomorphised, so no
    /// candidate pays a dynamic call (issue 16).
    pub(crate) fn select_generic<C: PortCheck + ?Sized>(&mut self, req: &Request<'_>, check: &C) -> Selection {
        let sel = match &mut self.inner {
            Inner::Bsd(s) => return s.select_generic(req, check),
            Inner::RandomStart(s) => s.select_generic(req, check),
            Inner::RandomPick(s) => s.select_generic(req, check),
            Inner::Own(o) => o.select_generic(req, check),
        };
        self.after_scan(req, sel)
    }

    /// `portalgo_randport()` after a non-`bsd` algorithm: an error becomes `lastport - 1`.
    fn after_scan(&mut self, req: &Request<'_>, sel: Selection) -> Selection {
        let sel = match sel.port {
            Some(_) => sel,
            None => {
                let last = self.lastport.unwrap_or(req.range.hi());
                Selection::forced(last.wrapping_sub(1), sel.candidates)
            }
        };
        self.lastport = sel.port;
        sel
    }
}

impl<R: SkipDraws + Send> Own<R> {
    /// [`Own::select_generic`] with every candidate busy: the same draws, the counters moved
    /// as `n` candidates move them (`uint16_t` arithmetic wraps the same whether it adds one
    /// `n` times or `n` once).
    fn select_exhausted(&mut self, req: &Request<'_>) -> Selection {
        let n = req.range.len();
        match self.cfg.algorithm {
            NetBsdAlgorithm::Hash => {
                self.fhash.hash(req.flow, &mut self.rng);
                self.next = self.next.wrapping_add(n as u16);
            }
            NetBsdAlgorithm::DoubleHash => {
                if self.table.first() == Some(&0) {
                    for e in &mut self.table {
                        *e = random32(&mut self.rng) as u16;
                    }
                }
                self.fhash.hash(req.flow, &mut self.rng);
                let idx = usize::from(self.fhash.hash(req.flow, &mut self.rng)) % self.table.len();
                self.table[idx] = self.table[idx].wrapping_add(n as u16);
            }
            _ => {
                if self.next == 0 {
                    self.next = random32(&mut self.rng) as u16;
                }
                let inc_mod = super::exhaustion::FastMod::new(u32::from(self.cfg.n));
                // A sum of the increments wraps at 2^16 as adding each one to the uint16_t does.
                self.next = self.next.wrapping_add(super::exhaustion::sum_increments(&mut self.rng, n, inc_mod) as u16);
            }
        }
        Selection::exhausted(n)
    }

    fn select_generic<C: PortCheck + ?Sized>(&mut self, req: &Request<'_>, check: &C) -> Selection {
        let min = u32::from(req.range.lo());
        let n = req.range.len();
        let mut examined = 0;
        match self.cfg.algorithm {
            NetBsdAlgorithm::Hash => {
                let offset = u32::from(self.fhash.hash(req.flow, &mut self.rng));
                while examined < n {
                    let port = min + (u32::from(self.next) + offset) % n;
                    self.next = self.next.wrapping_add(1);
                    examined += 1;
                    if check.is_suitable(port as u16) {
                        return Selection::found(port as u16, examined);
                    }
                }
            }
            NetBsdAlgorithm::DoubleHash => {
                if self.table.first() == Some(&0) {
                    for e in &mut self.table {
                        *e = random32(&mut self.rng) as u16;
                    }
                }
                let offset = u32::from(self.fhash.hash(req.flow, &mut self.rng));
                let idx = usize::from(self.fhash.hash(req.flow, &mut self.rng)) % self.table.len();
                while examined < n {
                    let port = min + (offset + u32::from(self.table[idx])) % n;
                    self.table[idx] = self.table[idx].wrapping_add(1);
                    examined += 1;
                    if check.is_suitable(port as u16) {
                        return Selection::found(port as u16, examined);
                    }
                }
            }
            _ => {
                if self.next == 0 {
                    self.next = random32(&mut self.rng) as u16;
                }
                while examined < n {
                    let inc = random32(&mut self.rng) % u32::from(self.cfg.n) + 1;
                    self.next = self.next.wrapping_add(inc as u16);
                    let port = min + u32::from(self.next) % n;
                    examined += 1;
                    if check.is_suitable(port as u16) {
                        return Selection::found(port as u16, examined);
                    }
                }
            }
        }
        Selection::exhausted(examined)
    }
}
