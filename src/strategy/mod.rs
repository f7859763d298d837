//! Port-selection strategies: RFC 6056's algorithms and the operating systems' own behind one
//! trait, chosen by name from a [registry].
//!
//! One file per strategy, holding everything about it (its [`registry::StrategyInfo`]
//! descriptor, its config and [`registry::ConfiguredStrategy`] impl, its selector): the RFC
//! algorithms `bsd`, `random_start`, `random_pick`, `hash`, `double_hash`, `random_increments`,
//! and the OS profiles `linux`, `linux_5_12`, `linux_legacy`, `freebsd`, `freebsd_12`,
//! `openbsd`, `netbsd`, `macos`, `windows`. Kernel code several profiles share lives with
//! them: Linux's scan in `linux`, the BSD `in_pcb` loop in `in_pcb`.
//!
//! A strategy sees the connection to complete, the time, the range and a read-only
//! [`PortCheck`] (RFC 6056's `check_suitable_port`), and keeps its own state and RNG. It never
//! mutates the stack: the simulator opens the connection on the port it returns.

/// A built-in selector's three [`PortSelector`] entry points, each calling its own
/// `select_generic<C: PortCheck + ?Sized>`: the engine's calls (`select_stack`, `select_bind`)
/// get a copy of the loop specialised to the stack's check, inlined per candidate, while
/// `select` keeps serving any `&dyn PortCheck` (issue 16, item 4).
macro_rules! select_via_generic {
    () => {
        fn select(
            &mut self,
            req: &$crate::strategy::Request<'_>,
            check: &dyn $crate::strategy::PortCheck,
        ) -> $crate::strategy::Selection {
            self.select_generic(req, check)
        }

        fn select_stack(
            &mut self,
            req: &$crate::strategy::Request<'_>,
            check: &$crate::strategy::StackCheck<'_>,
        ) -> $crate::strategy::Selection {
            self.select_generic(req, check)
        }

        fn select_bind(
            &mut self,
            req: &$crate::strategy::Request<'_>,
            check: &$crate::strategy::BindCheck<'_>,
        ) -> $crate::strategy::Selection {
            self.select_generic(req, check)
        }
    };
}

pub mod exhaustion;
mod in_pcb;
pub mod keyed_hash;
pub mod registry;
mod scripted;
mod tape;
pub mod vectors;

/// Declares each strategy's module and lists its descriptor, so that adding a strategy is its
/// file plus one line in the invocation below.
macro_rules! strategies {
    ($($module:ident),* $(,)?) => {
        $(mod $module;)*
        /// Every built-in strategy's descriptor, in the order `portsim strategies` lists them.
        pub(crate) static BUILTIN: &[&registry::StrategyInfo] = &[$(&$module::INFO),*];
    };
}

strategies! {
    bsd,
    random_start,
    random_pick,
    hash,
    double_hash,
    random_increments,
    linux,
    linux_5_12,
    linux_legacy,
    freebsd,
    freebsd_12,
    openbsd,
    netbsd,
    macos,
    windows,
}

pub use bsd::{Bsd, BsdConfig, Direction, Start};
pub use double_hash::{DoubleHash, DoubleHashConfig, EntryWidth, Increment, IndexSource};
pub use exhaustion::{SkipDraws, select_on_stack};
pub use freebsd::FreeBsdConfig;
pub use freebsd_12::FreeBsd12Config;
pub use hash::{HashBased, HashConfig};
pub use in_pcb::{PcbScan, RateFallback, StartDraw};
pub use keyed_hash::{HashFn, KeyedHash, MemoHash, Rekey};
pub use linux::{Linux, LinuxConfig};
pub use linux_5_12::{Linux512, Linux512Config};
pub use linux_legacy::{LegacyEra, LinuxLegacy, LinuxLegacyConfig};
pub use macos::MacOsConfig;
pub use netbsd::{NetBsd, NetBsdAlgorithm, NetBsdConfig};
pub use openbsd::OpenBsdConfig;
pub use random_increments::{RandomIncrements, RandomIncrementsConfig, Termination};
pub use random_pick::{RandomPick, RandomPickConfig};
pub use random_start::{RandomStart, RandomStartConfig};
pub use registry::{
    ConfiguredStrategy, OsDefaults, ParamInfo, Registry, StrategyConfig, StrategyInfo, StrategySpec,
};
pub use scripted::ScriptedRng;
pub use tape::{Tape, TapeRng};
pub use windows::{WINDOWS_ASSUMPTION, WindowsConfig};

use crate::stack::{Flow, PortRange, Stack};
use crate::time::Nanos;
use std::collections::HashSet;

/// The RNG every strategy draws from by default: ChaCha8, seeded per (run seed, strategy).
pub type StrategyRng = rand::rngs::ChaCha8Rng;

/// RFC 6056's `check_suitable_port()`, bound to one connection and one instant.
pub trait PortCheck {
    /// Whether `port` may be used now (RFC 6056's `check_suitable_port(port)`).
    fn is_suitable(&self, port: u16) -> bool;
}

/// The stack's answer for one `connect()`.
pub struct StackCheck<'a> {
    /// The stack's state.
    pub stack: &'a Stack,
    /// The connection to complete.
    pub flow: &'a Flow,
    /// The simulated time of the `connect()`.
    pub now: Nanos,
}

impl PortCheck for StackCheck<'_> {
    /// Always inlined into the strategies' loops: left to the compiler it stayed a call, about
    /// 9 instructions per candidate of prologue and epilogue. Callgrind, speed scenario: linux
    /// (about 3,000 candidates per connection, 1-minute copy) 14 % fewer instructions in all;
    /// bsd and random-pick (1 and 2.9 candidates) 0.2 % and 0.4 % more than plain `#[inline]`.
    #[inline(always)]
    fn is_suitable(&self, port: u16) -> bool {
        self.stack.is_suitable(self.flow, port, self.now)
    }
}

/// The stack's answer for `bind(port)` before `connect()`: the port must be entirely free on the
/// local address (no `SO_REUSEADDR`), whatever the destination.
pub struct BindCheck<'a> {
    /// The stack's state.
    pub stack: &'a Stack,
    /// The local address the socket binds, as an index into the scenario's addresses.
    pub local_index: u16,
}

impl PortCheck for BindCheck<'_> {
    #[inline(always)]
    fn is_suitable(&self, port: u16) -> bool {
        self.stack.is_free_for_bind(self.local_index, port)
    }
}

/// A hand-built occupancy: every port in the set is unsuitable, every other port is suitable.
#[derive(Clone, Debug, Default)]
pub struct BusyPorts(pub HashSet<u16>);

impl BusyPorts {
    /// Busy exactly on `ports`.
    pub fn new(ports: impl IntoIterator<Item = u16>) -> BusyPorts {
        BusyPorts(ports.into_iter().collect())
    }
}

impl PortCheck for BusyPorts {
    fn is_suitable(&self, port: u16) -> bool {
        !self.0.contains(&port)
    }
}

/// How the application asks for its port (operating-systems.md §1.5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SocketMode {
    /// `connect()` on an unbound socket: the port is picked knowing the destination.
    #[default]
    Connect,
    /// `bind(port 0)` first: the port is picked without the destination and held exclusively
    /// (Linux prefers the parity opposite to connect()'s).
    BindThenConnect,
    /// `bind()` with `IP_BIND_ADDRESS_NO_PORT`: the address is fixed, the port is picked at
    /// `connect()` time as for `Connect`.
    BindNoPort,
}

impl SocketMode {
    /// The modes' names as a scenario writes them, in declaration order.
    pub const NAMES: &'static [&'static str] = &["connect", "bind-then-connect", "bind-no-port"];

    /// The mode a scenario names, if any.
    pub fn parse(text: &str) -> Option<SocketMode> {
        match text {
            "connect" => Some(SocketMode::Connect),
            "bind-then-connect" => Some(SocketMode::BindThenConnect),
            "bind-no-port" => Some(SocketMode::BindNoPort),
            _ => None,
        }
    }

    /// The name a scenario uses.
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// What a strategy is asked: complete `flow` at `now` with a port from `range`.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The connection to complete (its source address, destination and port).
    pub flow: &'a Flow,
    /// The simulated time of the request.
    pub now: Nanos,
    /// The range to pick from: the stack's, or the socket's own when `per_socket_range`.
    pub range: PortRange,
    /// How the socket asks for its port.
    pub mode: SocketMode,
    /// The socket narrowed the range itself (Linux `IP_LOCAL_PORT_RANGE`, 6.3+; since 6.8 the
    /// connect() scan then steps by 1 with no parity split).
    pub per_socket_range: bool,
}

impl<'a> Request<'a> {
    /// A plain `connect()` over `range`.
    pub fn connect(flow: &'a Flow, now: Nanos, range: PortRange) -> Request<'a> {
        Request { flow, now, range, mode: SocketMode::Connect, per_socket_range: false }
    }
}

/// What a strategy answers: a port, or exhaustion (`None`, `EADDRNOTAVAIL`), and in both cases
/// how many candidates it examined (calls to `check_suitable_port`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Selection {
    /// The port picked, or `None` for `EADDRNOTAVAIL`.
    pub port: Option<u16>,
    /// Candidates examined: calls to `check_suitable_port`.
    pub candidates: u32,
    /// The port was not found suitable: the allocator hands it out anyway (NetBSD's
    /// `portalgo_randport()` after a non-`bsd` algorithm gave up).
    pub forced: bool,
}

impl Selection {
    /// A port found after examining `candidates` ports.
    pub fn found(port: u16, candidates: u32) -> Selection {
        Selection { port: Some(port), candidates, forced: false }
    }

    /// No port after examining `candidates` ports.
    pub fn exhausted(candidates: u32) -> Selection {
        Selection { port: None, candidates, forced: false }
    }

    /// `port` handed out although it is busy, after `candidates` were examined in vain.
    pub fn forced(port: u16, candidates: u32) -> Selection {
        Selection { port: Some(port), candidates, forced: true }
    }
}

/// A port-selection algorithm with its state.
pub trait PortSelector: Send {
    /// Picks a port for `req`, asking `check` about each candidate; updates its own state.
    fn select(&mut self, req: &Request<'_>, check: &dyn PortCheck) -> Selection;

    /// [`select`](PortSelector::select) against the stack itself, as the simulator asks for a
    /// `connect()`. The default goes through `select`; the built-in strategies override it with
    /// a copy of their loop specialised to [`StackCheck`], so no candidate pays a dynamic call.
    /// It must return what `select` would, and leave the same state.
    fn select_stack(&mut self, req: &Request<'_>, check: &StackCheck<'_>) -> Selection {
        self.select(req, check)
    }

    /// [`select`](PortSelector::select) for `bind(port 0)`, against [`BindCheck`]; as
    /// [`select_stack`](PortSelector::select_stack), the built-in strategies specialise it.
    fn select_bind(&mut self, req: &Request<'_>, check: &BindCheck<'_>) -> Selection {
        self.select(req, check)
    }

    /// [`select`](PortSelector::select) when no port of `req.range` is suitable: the stack
    /// knows it from its free-port counts ([`exhaustion`]), so the strategy may answer without
    /// asking about each candidate. It must return what `select` would return against a check
    /// that rejects every port of the range (the same port or exhaustion, the same candidate
    /// count) and leave the same state (counters moved as the scan moves them, the RNG where
    /// the scan leaves it). `None`, the default, means "no exact shortcut": the caller scans
    /// as usual.
    fn select_exhausted(&mut self, req: &Request<'_>) -> Option<Selection> {
        let _ = req;
        None
    }
}

/// RFC 6056's `random()`: "a 32-bit pseudo-random unsigned integer".
#[inline]
pub(crate) fn random32<R: rand::Rng>(rng: &mut R) -> u32 {
    rng.next_u32()
}
