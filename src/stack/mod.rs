//! What a host's TCP stack knows when it picks a local port: the range, the reserved ports, the
//! 4-tuples that are live or in TIME_WAIT, which ports an explicit `bind()` holds, the uniqueness
//! scope and the TIME_WAIT reuse rule. [`Stack::is_suitable`] is RFC 6056's
//! `check_suitable_port()`, answered in O(1): one load of the port's counters and, when the port
//! is held, one lookup of the 4-tuple.
//!
//! The 4-tuples live in one of two layouts, chosen from the stack's shape (issue 16, item 2):
//! with at most [`MAX_DENSE_POOLS`] pools (local addresses x destinations) a 65,536-slot array
//! per pool (24 bytes a slot: 1.5 MiB a pool), indexed by port with no hash; with more, a hash
//! table of the 4-tuples seen (about 40 bytes each, bounded by forgetting). Both give the same
//! answers and bytes (`layout_props.rs`, and the engine's test over the shipped scenarios).
//! Besides, memory grows with the local addresses (one 65,536-entry counter table each), never
//! with destinations x range.
//!
//! A stack of one pool (one local address, one destination) runs open and release on a fast
//! path of its own until the first `bind()` (see `Stack::one_taken`), its 4-tuples in 8-byte
//! slots (`TupleTable::One`) until the first `close()` or expiry. Without tw_reuse it also
//! checks a port by one bit of a held-or-reserved bitmap, as the only 4-tuple that can hold it
//! is the flow's own (`layout_props.rs` compares both with the general path).

mod flow;
mod free_ports;
#[cfg(test)]
mod layout_props;
mod ports;
mod table;
pub mod timer_wheel;

pub use flow::{Flow, TupleKey};
pub use ports::{PortRange, ReservedPorts};
pub use table::{Entry, MAX_DENSE_POOLS, TupleState};
pub use timer_wheel::{TimeWaitTimer, TimerWheel};

use crate::time::Nanos;
use free_ports::TakenPorts;
use table::{FastSlot, TupleTable};

/// What must be unique for a connection to be allowed a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// The whole 4-tuple (Linux and FreeBSD `connect()`): one local port serves many destinations.
    FourTuple,
    /// The local (address, port) pair (OpenBSD, NetBSD's hash and doublehash): a port is
    /// unusable on an address while anything holds it there.
    LocalPort,
    /// The local port on every address (macOS, FreeBSD 12, NetBSD's bsd and random
    /// algorithms, FreeBSD with `tcp_require_unique_port`): these kernels pick the port while the
    /// socket's local address is still the wildcard, so a port held on any address is unusable
    /// on all of them.
    HostWide,
}

impl Scope {
    pub fn parse(text: &str) -> Result<Scope, String> {
        match text {
            "four-tuple" => Ok(Scope::FourTuple),
            "local-port" => Ok(Scope::LocalPort),
            "host-wide" => Ok(Scope::HostWide),
            _ => Err(format!("`{text}` is not a scope: use \"four-tuple\", \"local-port\" or \"host-wide\"")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Scope::FourTuple => "four-tuple",
            Scope::LocalPort => "local-port",
            Scope::HostWide => "host-wide",
        }
    }
}

/// Linux's `net.ipv4.tcp_tw_reuse`: may a new `connect()` take over a 4-tuple still in TIME_WAIT?
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TwReuse {
    /// 0: never.
    Off,
    /// 1: always, once `tw_reuse_delay` has passed since the 4-tuple entered TIME_WAIT.
    On,
    /// 2 (Linux's default): only when either end is a loopback address.
    Loopback,
}

impl TwReuse {
    pub fn parse(text: &str) -> Result<TwReuse, String> {
        match text {
            "off" | "0" => Ok(TwReuse::Off),
            "on" | "1" => Ok(TwReuse::On),
            "loopback" | "2" => Ok(TwReuse::Loopback),
            _ => Err(format!(
                "`{text}` is not a tw_reuse setting: use \"off\", \"on\" or \"loopback\" (or 0, 1, 2, as net.ipv4.tcp_tw_reuse writes them)"
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TwReuse::Off => "off",
            TwReuse::On => "on",
            TwReuse::Loopback => "loopback",
        }
    }
}

/// How far a port taken by an explicit `bind()` keeps `connect()` away from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BindConflict {
    /// Linux: bind buckets are per port (`inet_bind_bucket`, net/ipv4/inet_hashtables.c). A
    /// bucket a `bind()` created or joined has `fastreuse >= 0`, and `__inet_hash_connect()`
    /// skips such a port on every local address; the bucket lives until the last socket on the
    /// port, on any address and TIME_WAIT included, is gone.
    Port,
    /// The bound (address, port) only, while the bound socket holds it: portsim's model before
    /// the kernel profiles said otherwise, kept for the RFC strategies.
    AddressPort,
    /// FreeBSD 13+: `in_pcb_lport_dest()` looks the candidate up in the connection hash without
    /// wildcards, so a connected bind-then-connect socket blocks only its own 4-tuple.
    FourTuple,
}

impl BindConflict {
    pub const NAMES: &'static [&'static str] = &["port", "address-port", "four-tuple"];

    pub fn parse(text: &str) -> Result<BindConflict, String> {
        match text {
            "port" => Ok(BindConflict::Port),
            "address-port" => Ok(BindConflict::AddressPort),
            "four-tuple" => Ok(BindConflict::FourTuple),
            _ => Err(format!(
                "`{text}` is not a bind conflict rule: use \"port\", \"address-port\" or \"four-tuple\""
            )),
        }
    }

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// The settings a stack is built from.
#[derive(Clone, Debug)]
pub struct StackConfig {
    pub range: PortRange,
    pub reserved: ReservedPorts,
    pub scope: Scope,
    pub tw_reuse: TwReuse,
    pub tw_reuse_delay: Nanos,
    /// Compare tw_reuse's delay on Linux's millisecond clock (`tcp_clock_ms()` against
    /// `tw_entry_stamp + tcp_tw_reuse_delay`, net/ipv4/tcp_ipv4.c `tcp_twsk_unique()`) instead
    /// of exactly.
    pub tw_reuse_ms_clock: bool,
    /// The peer sent TCP timestamps: `tcp_twsk_unique()` recycles a TIME_WAIT only when
    /// `tw_ts_recent_stamp` is set, so without them tw_reuse never applies.
    pub timestamps: bool,
    pub bind_conflict: BindConflict,
    /// How many local addresses the host has (indices `0..local_addrs`).
    pub local_addrs: usize,
    /// How many destinations connections go to (indices `0..destinations`).
    pub destinations: usize,
}

impl StackConfig {
    /// One local address, one destination, four-tuple scope, no reserved ports, no tw_reuse.
    pub fn simple(range: PortRange) -> StackConfig {
        StackConfig {
            range,
            reserved: ReservedPorts::new(),
            scope: Scope::FourTuple,
            tw_reuse: TwReuse::Off,
            tw_reuse_delay: 0,
            tw_reuse_ms_clock: false,
            timestamps: true,
            bind_conflict: BindConflict::AddressPort,
            local_addrs: 1,
            destinations: 1,
        }
    }
}

/// Per local (address, port): how many 4-tuples hold it (live or TIME_WAIT), and how many of
/// those took it by an explicit `bind()`.
///
/// `bucket_bound` mirrors the port's [`PortBucket::bound`] on every address, so Linux's rule
/// costs no second memory access per candidate (it changes only when a bucket gains its first
/// bound socket or empties: O(addresses) then).
///
/// `flags` carries what the port is for the whole run ([`RESERVED`], [`COUNTED`]), so the check
/// per candidate and the counts at open and release read the one 8-byte word they load anyway
/// instead of the reserved bitmap and the range.
#[derive(Clone, Copy, Default)]
struct PortUse {
    holders: u32,
    exclusive: u16,
    bucket_bound: bool,
    flags: u8,
}

/// `PortUse::flags`: the port is reserved.
const RESERVED: u8 = 1;
/// `PortUse::flags`: the port is one a scan of the range could find suitable (in the range, not
/// reserved): only those count as taken.
const COUNTED: u8 = 2;
/// `PortUse::flags`: the stack's bind rule keeps `connect()` off the port on this address (a
/// `bind()` in its bucket under Linux's rule, or an exclusive holder under the address-port
/// rule), kept by [`PortUse::refresh`] whenever `exclusive` or `bucket_bound` changes. It
/// implies "unsuitable" under every [`Rule`] (where the flag can be set, the port is held on
/// this address, or its bucket is bound, or under host-wide scope held on the host), so it joins
/// the reserved bit in the first test per candidate.
const BIND_BLOCKS: u8 = 4;

impl PortUse {
    #[inline]
    fn refresh(&mut self, bind_port: bool, bind_addr: bool) {
        let blocks = (bind_port & self.bucket_bound) | (bind_addr & (self.exclusive > 0));
        self.flags = (self.flags & !BIND_BLOCKS) | if blocks { BIND_BLOCKS } else { 0 };
    }
}

/// Per port, over every local address: Linux's bind bucket. `bound` is set when a `bind()`
/// joins the bucket and cleared only when the bucket empties.
#[derive(Clone, Copy, Default)]
struct PortBucket {
    holders: u32,
    bound: bool,
}

/// What opening a connection found on its 4-tuple.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Opened {
    /// When the previous connection on this 4-tuple closed, if there was one.
    pub previous_close: Option<Nanos>,
    /// The server still held the 4-tuple in TIME_WAIT: RFC 6056 §2.3's collision.
    pub remote_collision: bool,
    /// A local TIME_WAIT was taken over under tw_reuse.
    pub recycled_time_wait: bool,
    /// The allocator handed out a port it had found busy (NetBSD's `portalgo_randport()` falls
    /// back to `lastport - 1`): set by the simulator, not by the stack.
    pub forced_reuse: bool,
}

/// Which side closes a connection first, and so holds TIME_WAIT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closer {
    Client,
    Server,
}

/// A TIME_WAIT that will end at a known time, unless tw_reuse recycles it first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeWaitTicket {
    pub key: TupleKey,
    pub generation: u32,
}

/// Pools (local address x destination) up to which each one's occupancy is tracked.
pub const MAX_POOLS: usize = 1 << 16;

/// The host's TCP stack. The simulator mutates it (open, close, expire); strategies only read it.
#[derive(Clone)]
pub struct Stack {
    cfg: StackConfig,
    rule: Rule,
    /// `rule == Rule::Free`, as a field of its own: tested first, it stays one compare and
    /// branch (a test of `rule` itself merges into a jump table).
    free_only: bool,
    /// Under `Rule::Tuple`: a bound port blocks connect() through its bucket (Linux) or on its
    /// address (the RFC strategies' rule).
    bind_port: bool,
    bind_addr: bool,
    table: TupleTable,
    /// Per local address, per port: a 65,536-entry array indexed by a `u16` needs no bounds
    /// check, which cost about 15 instructions per open and per release.
    ports: Vec<PortTable>,
    /// Per-port buckets over every address: kept only with several addresses under Linux's
    /// bind rule or host-wide scope (with one address the address's counters are the
    /// bucket's). Another 512 KiB touched on every open and close is not free: it pushes the
    /// 4-tuple table out of the cache.
    buckets: Vec<PortBucket>,
    held_per_dest: Vec<u32>,
    /// `dests_holding[v]`: destinations toward which exactly `v` 4-tuples are held, so the
    /// largest such `v` ([`Stack::max_held`]) follows every open and release in O(1). Not kept
    /// with one destination, whose count is the largest.
    dests_holding: Vec<u32>,
    max_held: u32,
    /// The largest `max_held` since [`Stack::take_peak_held`] last read it.
    peak_held: u32,
    /// Held 4-tuples and taken ports per pool (local address x destination,
    /// `local * destinations + dest`, when there are at most [`MAX_POOLS`] pools), per address
    /// and on the host, for [`Stack::held_in_pool`] and [`Stack::no_free_port`].
    taken: TakenPorts,
    /// Ports of the range that are not reserved: what a pool has when nothing is taken.
    usable: u32,
    live: u64,
    time_wait: u64,
    /// The single-pool fast path (one local address, one destination, dense 4-tuples, and no
    /// `bind()` yet in the run): open and release touch the 4-tuple's slot, the port's bits in
    /// `fast_bits` and `fast_blocked` and three counts of the stack's own
    /// ([`Stack::max_held`], `one_taken`, `live`) and nothing else. The per-pool, per-address
    /// and per-destination counts and the ports' holder counts are then not kept: every reader
    /// derives them from those while the path holds, and the first `bind()` writes them out
    /// ([`Stack::leave_fast`]) for the general path to carry on. The slots are a [`TupleTable::One`] of 8-byte
    /// [`table::FastSlot`]s while the run has only `connect()`s and unseen releases (the
    /// one-event path's runs, throughout); the first `close()` or expiry turns them into a
    /// one-pool `Dense` of full entries, and the fast path carries on with those.
    /// Callgrind on the speed scenario (bsd, 20-minute copy): `open` went from 109 to 36
    /// instructions per connection, the unseen release from 97 to 19.
    /// On the fast path: the 4-tuples held on counted ports (the pool's and the address's
    /// taken count).
    one_taken: u32,
    /// The table is a [`TupleTable::One`], as a flag of its own: a test of the enum's tag
    /// (a niche value in another field) is twice the instructions, on every reader's path.
    fast: bool,
    /// On the fast path, under a rule that counts every held port as unsuitable (no TIME_WAIT
    /// may be recycled): `no_free_port` is decided by `one_taken` alone, and a candidate by
    /// its bit in `fast_blocked`.
    exhaust_by_count: bool,
    /// On the fast path, per 64 ports: which are held, and which reserved. Held stands in
    /// for the port's holder count (0 or 1 with one pool), which the fast path does not keep
    /// in `ports`; [`Stack::leave_fast`] writes it out.
    fast_bits: Box<[PortBits; 1024]>,
    /// On the fast path, per 64 ports: held or reserved. Under `exhaust_by_count` (a held
    /// port is unsuitable) a candidate is checked in one word of it: the range's part stays
    /// in L1 (28,232 ports: 3.5 KiB), where the 8-byte counters (226 KiB) do not, and a
    /// strategy picking at random missed them once a candidate (about three a connection at
    /// the speed scenario's 64 % load).
    fast_blocked: Box<[u64; 1024]>,
}

/// 64 ports' bits on the single-pool fast path (`Stack::fast_bits`).
#[derive(Clone, Copy, Default)]
struct PortBits {
    held: u64,
    reserved: u64,
}

impl PortBits {
    #[inline(always)]
    fn is(word: u64, port: u16) -> bool {
        word >> (port & 63) & 1 == 1
    }
}

/// One local address's ports.
type PortTable = Box<[PortUse; 1 << 16]>;

/// A 65,536-entry array of `value`, built on the heap.
pub(super) fn full_table<T: Clone>(value: T) -> Box<[T; 1 << 16]> {
    vec![value; 1 << 16].into_boxed_slice().try_into().unwrap_or_else(|_| unreachable!("65,536 entries"))
}

/// Scope and bind rule folded into the one test `is_suitable` makes per candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Rule {
    /// Nothing may hold the port on this address. Also host-wide scope with one address, and
    /// any bind rule where a bound port already counts as held.
    Free,
    /// As `Free`, and no `bind()` in the port's bucket on any address (local-port scope under
    /// Linux's rule).
    FreeOfBucket,
    /// Nothing may hold the port on any address.
    FreeOnHost,
    /// The 4-tuple must be free, under the stack's bind rule.
    Tuple,
}

impl Stack {
    /// A stack whose 4-tuples are kept densely when it has at most [`MAX_DENSE_POOLS`] pools
    /// (local addresses x destinations), in the hash table otherwise.
    pub fn new(cfg: StackConfig) -> Stack {
        let local_addrs = cfg.local_addrs.max(1);
        let pools = local_addrs * cfg.destinations.max(1);
        let may_recycle = cfg.tw_reuse != TwReuse::Off && cfg.timestamps;
        let rule = match (cfg.scope, cfg.bind_conflict) {
            // One pool: the only 4-tuple that can hold a port is the flow's own, so a held port
            // is unsuitable unless its TIME_WAIT may be recycled; no lookup of the 4-tuple.
            (Scope::FourTuple, _) if pools == 1 && !may_recycle => Rule::Free,
            (Scope::FourTuple, _) => Rule::Tuple,
            (Scope::LocalPort, BindConflict::Port) if local_addrs > 1 => Rule::FreeOfBucket,
            (Scope::HostWide, _) if local_addrs > 1 => Rule::FreeOnHost,
            _ => Rule::Free,
        };
        Stack {
            rule,
            free_only: rule == Rule::Free,
            bind_port: cfg.bind_conflict == BindConflict::Port,
            bind_addr: cfg.bind_conflict == BindConflict::AddressPort,
            table: TupleTable::new(pools, pools <= MAX_DENSE_POOLS),
            ports: {
                let mut one = full_table(PortUse::default());
                for (port, u) in (0..=u16::MAX).zip(one.iter_mut()) {
                    if cfg.reserved.contains(port) {
                        u.flags |= RESERVED;
                    } else if cfg.range.contains(port) {
                        u.flags |= COUNTED;
                    }
                }
                vec![one; local_addrs]
            },
            buckets: if rule == Rule::FreeOnHost
                || (local_addrs > 1 && cfg.bind_conflict == BindConflict::Port)
            {
                vec![PortBucket::default(); 1 << 16]
            } else {
                Vec::new()
            },
            held_per_dest: vec![0; cfg.destinations.max(1)],
            dests_holding: vec![cfg.destinations.max(1) as u32],
            max_held: 0,
            peak_held: 0,
            taken: TakenPorts::new(if pools <= MAX_POOLS { pools } else { 0 }, local_addrs),
            usable: cfg.range.len() - cfg.reserved.count_in(cfg.range),
            live: 0,
            time_wait: 0,
            one_taken: 0,
            fast: false,
            exhaust_by_count: false,
            fast_bits: {
                let mut bits = Box::new([PortBits::default(); 1024]);
                for port in 0..=u16::MAX {
                    bits[usize::from(port >> 6)].reserved |=
                        u64::from(cfg.reserved.contains(port)) << (port & 63);
                }
                bits
            },
            fast_blocked: Box::new([0; 1024]),
            cfg,
        }
        .with_fast_path()
    }

    /// Sets `exhaust_by_count` from the 4-tuples' layout, before the first open.
    fn with_fast_path(mut self) -> Stack {
        self.fast = matches!(self.table, TupleTable::One { .. });
        self.exhaust_by_count = self.fast && self.rule == Rule::Free;
        for (blocked, bits) in self.fast_blocked.iter_mut().zip(self.fast_bits.iter()) {
            *blocked = bits.reserved;
        }
        self
    }

    /// The same empty stack with its 4-tuples' layout forced (`Some(true)`: dense, whatever the
    /// memory; `Some(false)`: hashed; `None`: as [`Stack::new`] chose): tests show both layouts
    /// give the same answers and bytes.
    pub(crate) fn with_tuple_layout(mut self, dense: Option<bool>) -> Stack {
        assert_eq!(self.table.len(), 0, "the layout is chosen before the first open");
        if let Some(dense) = dense.filter(|&d| d != self.table.is_dense()) {
            let pools = self.cfg.local_addrs.max(1) * self.held_per_dest.len();
            self.table = TupleTable::new(pools, dense);
        }
        self.with_fast_path()
    }

    pub fn config(&self) -> &StackConfig {
        &self.cfg
    }

    pub fn range(&self) -> PortRange {
        self.cfg.range
    }

    /// RFC 6056's `check_suitable_port()` for a `connect()`: may `flow` use `port` at `now`?
    ///
    /// Inlined into the strategies' scans up to the holder test (the local-port profiles', and
    /// any single pool's without tw_reuse): out of line, the call and the registers the
    /// 4-tuple lookup needs made it 18 instructions a candidate (bsd, speed scenario).
    #[inline(always)]
    pub fn is_suitable(&self, flow: &Flow, port: u16, now: Nanos) -> bool {
        // The fast path's local-port test: held or reserved is unsuitable.
        if self.exhaust_by_count {
            return !PortBits::is(self.fast_blocked[usize::from(port >> 6)], port);
        }
        // Here on the fast path only under `Rule::Tuple` (one pool, tw_reuse): the flags are
        // right (reserved is fixed, and no bind() has set `BIND_BLOCKS`), the holder count is
        // not kept and `is_suitable_by_rule` reads the bit.
        let use_ = self.port_use(flow.local_index, port);
        // Reserved, or kept off by the bind rule: one test of the word just loaded.
        if use_.flags & (RESERVED | BIND_BLOCKS) != 0 {
            return false;
        }
        // The local-port profiles' test first and alone: a multi-way match here compiles to an
        // indirect jump per candidate, which cost their exhaustion scans 15 %. (Off the fast
        // path: on it, `exhaust_by_count` answered above.)
        if self.free_only {
            return use_.holders == 0;
        }
        self.is_suitable_by_rule(flow, port, now, use_)
    }

    /// [`Stack::is_suitable`] past the reserved, bind and `Rule::Free` tests.
    #[inline(never)]
    fn is_suitable_by_rule(&self, flow: &Flow, port: u16, now: Nanos, mut use_: PortUse) -> bool {
        if self.fast() {
            use_.holders = self.holders(flow.local_index, port);
        }
        if self.rule == Rule::Tuple {
            if use_.holders == 0 {
                return true;
            }
            let pool = self.pool_index(flow.local_index, flow.dest_index);
            return match self.table.get(pool, flow.key(port)) {
                None => true,
                Some(e) => match e.state {
                    TupleState::Closed => true,
                    TupleState::Live => false,
                    TupleState::TimeWait => self.may_recycle(flow, &e, now),
                },
            };
        }
        if self.rule == Rule::FreeOnHost {
            return self.buckets[usize::from(port)].holders == 0;
        }
        // Rule::FreeOfBucket
        use_.holders == 0 && !use_.bucket_bound
    }

    /// May `bind(port)` take `port` on this local address? Nothing may hold it at all (no
    /// `SO_REUSEADDR`), and it must not be reserved.
    #[inline]
    pub fn is_free_for_bind(&self, local_index: u16, port: u16) -> bool {
        if self.port_use(local_index, port).flags & RESERVED != 0 {
            return false;
        }
        match self.cfg.scope {
            Scope::HostWide => self.holders_on_host(port) == 0,
            _ => self.holders(local_index, port) == 0,
        }
    }

    /// Linux `tcp_twsk_unique()`: a TIME_WAIT may be taken over under tw_reuse once more than
    /// `tw_reuse_delay` has passed since it was entered, and only if the peer sent timestamps.
    /// On the millisecond clock both instants are whole milliseconds (`tcp_clock_ms()`), so a
    /// 1 s delay lets a TIME_WAIT entered at 10.0004 s go at 11.001 s, not at 11.0004 s.
    fn may_recycle(&self, flow: &Flow, e: &Entry, now: Nanos) -> bool {
        let allowed = match self.cfg.tw_reuse {
            TwReuse::Off => false,
            TwReuse::On => true,
            TwReuse::Loopback => flow.is_loopback(),
        };
        if !allowed || !self.cfg.timestamps {
            return false;
        }
        if self.cfg.tw_reuse_ms_clock {
            const MS: Nanos = 1_000_000;
            now / MS > (e.closed_at / MS).saturating_add(self.cfg.tw_reuse_delay / MS)
        } else {
            now > e.closed_at.saturating_add(self.cfg.tw_reuse_delay)
        }
    }

    #[inline]
    fn port_use(&self, local_index: u16, port: u16) -> PortUse {
        self.ports[usize::from(local_index)][usize::from(port)]
    }

    /// Records a new connection of `flow` on `port` (which the caller found suitable).
    /// `exclusive` marks a port taken by an explicit `bind()`.
    #[inline(always)]
    pub fn open(&mut self, flow: &Flow, port: u16, now: Nanos, exclusive: bool) -> Opened {
        if exclusive || !self.fast {
            return self.open_general(flow, port, now, exclusive);
        }
        let mut opened = Opened::default();
        let was_held = if let TupleTable::One { slots, known, span } = &mut self.table {
            // Live or closed, never in TIME_WAIT (see `FastSlot`): the port is free.
            let slot = &mut slots[usize::from(port)];
            opened.previous_close = match *slot {
                FastSlot::NEVER => {
                    *known += 1;
                    *span = (span.0.min(port), span.1.max(port));
                    None
                }
                FastSlot::LIVE => {
                    debug_assert!(false, "opened a live 4-tuple on port {port}");
                    return opened;
                }
                closed => closed.closed_at(),
            };
            *slot = FastSlot::LIVE;
            false
        } else {
            // After a close() or an expiry the one pool's 4-tuples are full entries (a
            // TIME_WAIT, the server's, a recycled one); the counts stay the fast path's.
            match self.table.get_or_insert(0, flow.key(port), Entry::opened(false)) {
                (e, true) if e.state == TupleState::Live => {
                    debug_assert!(false, "opened a live 4-tuple on port {port}");
                    return opened;
                }
                (e, true) => {
                    let (was_held, _) = e.reopen(now, false, &mut opened);
                    self.time_wait -= u64::from(was_held);
                    was_held
                }
                (_, false) => false,
            }
        };
        if !was_held {
            let bits = &mut self.fast_bits[usize::from(port >> 6)];
            debug_assert!(!PortBits::is(bits.held, port), "one pool: only this 4-tuple holds the port");
            bits.held |= 1 << (port & 63);
            let reserved = bits.reserved;
            self.fast_blocked[usize::from(port >> 6)] |= 1 << (port & 63);
            self.one_taken += u32::from(self.counted(reserved, port));
            self.max_held += 1;
            self.peak_held = self.peak_held.max(self.max_held);
        }
        self.live += 1;
        opened
    }

    /// On the fast path: does `port` (its 64-port word of reserved bits `reserved`) count as
    /// taken when held (in the range and not reserved, as `COUNTED` says off the fast path)?
    #[inline(always)]
    fn counted(&self, reserved: u64, port: u16) -> bool {
        reserved >> (port & 63) & 1 == 0 && self.cfg.range.contains(port)
    }

    /// On the single-pool fast path (see `one_taken`).
    #[inline(always)]
    fn fast(&self) -> bool {
        debug_assert!(!self.fast || self.table.is_dense());
        self.fast
    }

    /// Leaves the single-pool fast path for good (a `bind()`): writes out the entries and the
    /// counts it did not keep.
    #[cold]
    fn leave_fast(&mut self) {
        self.table = std::mem::replace(&mut self.table, TupleTable::Hashed(Default::default())).general();
        for (port, u) in (0..=u16::MAX).zip(self.ports[0].iter_mut()) {
            u.holders = u32::from(PortBits::is(self.fast_bits[usize::from(port >> 6)].held, port));
        }
        self.fast = false;
        self.exhaust_by_count = false;
        self.held_per_dest[0] = self.max_held;
        self.taken.set(0, 0, self.max_held, self.one_taken);
    }

    /// [`Stack::open`] off the single-pool fast path.
    #[inline(never)]
    fn open_general(&mut self, flow: &Flow, port: u16, now: Nanos, exclusive: bool) -> Opened {
        if self.fast() {
            self.leave_fast();
        }
        let key = flow.key(port);
        let pool = self.pool_index(flow.local_index, flow.dest_index);
        let mut opened = Opened::default();
        // Only a recycled TIME_WAIT can still hold the port (and be exclusive): a closed entry
        // has released both.
        let (was_held, was_exclusive) = match self.table.get_or_insert(pool, key, Entry::opened(exclusive)) {
            (e, true) if e.state == TupleState::Live => {
                debug_assert!(false, "opened a live 4-tuple {key:?}");
                return opened;
            }
            (e, true) => {
                let before = e.reopen(now, exclusive, &mut opened);
                self.time_wait -= u64::from(before.0);
                before
            }
            (_, false) => (false, false),
        };
        let u = &mut self.ports[usize::from(flow.local_index)][usize::from(port)];
        match (was_exclusive, exclusive) {
            (true, false) => u.exclusive -= 1,
            (false, true) => u.exclusive += 1,
            _ => {}
        }
        if !was_held {
            u.holders += 1;
            let first_on_addr = u.holders == 1;
            let counted = u.flags & COUNTED != 0;
            let first_on_host = match self.buckets.get_mut(usize::from(port)) {
                Some(b) => {
                    b.holders += 1;
                    b.holders == 1
                }
                None => false,
            };
            self.taken.take(pool, flow.local_index, counted, first_on_addr, first_on_host);
            self.hold(flow.dest_index);
        }
        if exclusive {
            self.taken.bound_seen = true;
            match self.buckets.get(usize::from(port)) {
                Some(b) if !b.bound => self.set_bucket_bound(port, true),
                Some(_) => {}
                None => self.ports[usize::from(flow.local_index)][usize::from(port)].bucket_bound = true,
            }
        }
        if exclusive | was_exclusive {
            let (bind_port, bind_addr) = (self.bind_port, self.bind_addr);
            self.ports[usize::from(flow.local_index)][usize::from(port)].refresh(bind_port, bind_addr);
        }
        self.live += 1;
        opened
    }

    /// Closes the live connection on `key`. When the client closes first it holds TIME_WAIT and
    /// the caller gets a ticket to expire it with; when the server closes first the port is free
    /// at once and the server's TIME_WAIT is remembered until `now + time_wait`.
    pub fn close(
        &mut self,
        key: TupleKey,
        now: Nanos,
        closer: Closer,
        time_wait: Nanos,
    ) -> Option<TimeWaitTicket> {
        let pool = self.key_pool(key);
        let e = self.table.get_mut(pool, key)?;
        if e.state != TupleState::Live {
            debug_assert!(false, "closed a 4-tuple that is not live: {key:?}");
            return None;
        }
        e.closed_at = now;
        self.live -= 1;
        if closer == Closer::Client && time_wait > 0 {
            e.state = TupleState::TimeWait;
            let ticket = TimeWaitTicket { key, generation: e.generation };
            self.time_wait += 1;
            Some(ticket)
        } else {
            if closer == Closer::Server {
                e.remote_tw_until = now.saturating_add(time_wait);
            }
            e.state = TupleState::Closed;
            let exclusive = std::mem::take(&mut e.exclusive);
            self.release(pool, key, exclusive);
            None
        }
    }

    /// Can a TIME_WAIT ever be taken over here (`tcp_twsk_unique()` needs tw_reuse and the
    /// peer's timestamps)? If not, an arrival cannot tell a live 4-tuple from one in TIME_WAIT.
    pub fn may_recycle_time_wait(&self) -> bool {
        self.cfg.tw_reuse != TwReuse::Off && self.cfg.timestamps
    }

    /// The client closed `key` at `closed_at` and its TIME_WAIT (if any) has now ended: the
    /// state [`Stack::close`] then [`Stack::expire_time_wait`] leave, in one lookup. For the
    /// one-event path, where the close itself was not evented; `live()` counts such a 4-tuple
    /// until this call.
    #[inline(always)]
    pub fn end_time_wait_unseen(&mut self, key: TupleKey, closed_at: Nanos) {
        if let TupleTable::One { slots, .. } = &mut self.table {
            let port = key.port();
            let slot = &mut slots[usize::from(port)];
            if *slot != FastSlot::LIVE {
                debug_assert!(false, "released a 4-tuple that is not live: {key:?}");
                return;
            }
            *slot = FastSlot::closed(closed_at);
            self.live -= 1;
            self.release_fast(port);
            return;
        }
        self.end_time_wait_unseen_general(key, closed_at);
    }

    /// [`Stack::end_time_wait_unseen`] off the single-pool fast path.
    #[inline(never)]
    fn end_time_wait_unseen_general(&mut self, key: TupleKey, closed_at: Nanos) {
        let pool = self.key_pool(key);
        let Some(e) = self.table.get_mut(pool, key) else {
            debug_assert!(false, "released an unknown 4-tuple {key:?}");
            return;
        };
        debug_assert!(e.state == TupleState::Live, "released a 4-tuple that is not live: {key:?}");
        e.closed_at = closed_at;
        e.state = TupleState::Closed;
        let exclusive = std::mem::take(&mut e.exclusive);
        self.live -= 1;
        self.release(pool, key, exclusive);
    }

    /// Ends a TIME_WAIT. A ticket whose TIME_WAIT was already recycled is ignored; returns
    /// whether this one ended.
    pub fn expire_time_wait(&mut self, ticket: TimeWaitTicket) -> bool {
        let pool = self.key_pool(ticket.key);
        match self.table.get_mut(pool, ticket.key) {
            Some(e) if e.state == TupleState::TimeWait && e.generation == ticket.generation => {
                e.state = TupleState::Closed;
                let exclusive = std::mem::take(&mut e.exclusive);
                self.time_wait -= 1;
                self.release(pool, ticket.key, exclusive);
                true
            }
            _ => false,
        }
    }

    /// Sets the bucket's `bound` flag and its mirror on every address.
    fn set_bucket_bound(&mut self, port: u16, bound: bool) {
        if let Some(b) = self.buckets.get_mut(usize::from(port)) {
            b.bound = bound;
        }
        for a in 0..self.cfg.local_addrs.max(1) {
            let u = &mut self.ports[a][usize::from(port)];
            u.bucket_bound = bound;
            u.refresh(self.bind_port, self.bind_addr);
        }
    }

    /// [`Stack::release`] on the fast path: the port's holder, the counted port and the one
    /// destination's 4-tuple go (no bind() in the run: nothing else to undo).
    #[inline]
    fn release_fast(&mut self, port: u16) {
        let bits = &mut self.fast_bits[usize::from(port >> 6)];
        debug_assert!(PortBits::is(bits.held, port), "released a port not held");
        bits.held &= !(1 << (port & 63));
        let (held, reserved) = (bits.held, bits.reserved);
        self.fast_blocked[usize::from(port >> 6)] = held | reserved;
        self.one_taken -= u32::from(self.counted(reserved, port));
        self.max_held -= 1;
    }

    /// The 4-tuple `key` of `pool` no longer holds its port (nor, if `exclusive`, owns it by
    /// bind()).
    #[inline]
    fn release(&mut self, pool: usize, key: TupleKey, exclusive: bool) {
        if self.fast() {
            debug_assert!(!exclusive, "no bind() on the fast path");
            self.release_fast(key.port());
            return;
        }
        let port = usize::from(key.port());
        let u = &mut self.ports[usize::from(key.local_index())][port];
        u.holders -= 1;
        u.exclusive -= u16::from(exclusive);
        let emptied = u.holders == 0;
        let counted = u.flags & COUNTED != 0;
        if self.buckets.is_empty() {
            // One address: the bucket empties with it.
            u.bucket_bound &= !emptied;
        }
        if exclusive | (u.flags & BIND_BLOCKS != 0) {
            u.refresh(self.bind_port, self.bind_addr);
        }
        let mut emptied_on_host = false;
        if let Some(b) = self.buckets.get_mut(port) {
            b.holders -= 1;
            emptied_on_host = b.holders == 0;
            if b.holders == 0 && b.bound {
                self.set_bucket_bound(key.port(), false);
            }
        }
        self.taken.release(pool, key.local_index(), counted, emptied, emptied_on_host);
        self.unhold(key.dest_index());
    }

    /// One more 4-tuple held toward `dest`.
    #[inline]
    fn hold(&mut self, dest: u32) {
        if let [c] = &mut self.held_per_dest[..] {
            // One destination: its count is the maximum, no histogram to keep.
            *c += 1;
            self.max_held = *c;
            self.peak_held = self.peak_held.max(*c);
            return;
        }
        let c = &mut self.held_per_dest[dest as usize];
        self.dests_holding[*c as usize] -= 1;
        *c += 1;
        let v = *c as usize;
        if v == self.dests_holding.len() {
            // Grows only when a new largest count appears.
            self.dests_holding.push(0);
        }
        self.dests_holding[v] += 1;
        if *c > self.max_held {
            self.max_held = *c;
            self.peak_held = self.peak_held.max(*c);
        }
    }

    /// One 4-tuple fewer held toward `dest`.
    #[inline]
    fn unhold(&mut self, dest: u32) {
        if let [c] = &mut self.held_per_dest[..] {
            *c -= 1;
            self.max_held = *c;
            return;
        }
        let c = &mut self.held_per_dest[dest as usize];
        self.dests_holding[*c as usize] -= 1;
        *c -= 1;
        self.dests_holding[*c as usize] += 1;
        if self.dests_holding[self.max_held as usize] == 0 {
            // The destination just released held the maximum alone: it now holds one less.
            self.max_held -= 1;
        }
    }

    #[inline]
    fn pool_index(&self, local: u16, dest: u32) -> usize {
        usize::from(local) * self.held_per_dest.len() + dest as usize
    }

    #[inline]
    fn key_pool(&self, key: TupleKey) -> usize {
        self.pool_index(key.local_index(), key.dest_index())
    }

    /// Known in O(1): no port of `range` is suitable for `flow` ([`Stack::is_suitable`] would
    /// reject every one), whatever the time. `false` means "not known", not "free": the counts
    /// decide only for the stack's own range, and not where a TIME_WAIT may be recycled (that
    /// depends on the clock) or, once a `bind()` has taken a port, where a bound port can block
    /// ports a pool does not hold (four-tuple scope, and local-port scope under Linux's bucket
    /// rule). Then the strategy scans, as the kernel does.
    #[inline(always)]
    pub fn no_free_port(&self, flow: &Flow, range: PortRange) -> bool {
        if self.exhaust_by_count {
            return range == self.cfg.range && self.one_taken == self.usable;
        }
        self.no_free_port_general(flow, range)
    }

    /// [`Stack::no_free_port`] where the single pool's count does not decide alone.
    #[inline(never)]
    fn no_free_port_general(&self, flow: &Flow, range: PortRange) -> bool {
        if range != self.cfg.range {
            return false;
        }
        let taken = match self.rule {
            Rule::Free => self.addr_taken(flow.local_index),
            Rule::FreeOnHost => self.taken.on_host(),
            Rule::FreeOfBucket if self.taken.bound_seen => return false,
            Rule::FreeOfBucket => self.addr_taken(flow.local_index),
            Rule::Tuple => {
                let recyclable = match self.cfg.tw_reuse {
                    TwReuse::Off => false,
                    TwReuse::On => true,
                    TwReuse::Loopback => flow.is_loopback(),
                } && self.cfg.timestamps;
                if recyclable || ((self.bind_port || self.bind_addr) && self.taken.bound_seen) {
                    return false;
                }
                match self.pool_taken(self.pool_index(flow.local_index, flow.dest_index)) {
                    Some(held) => held,
                    None => return false,
                }
            }
        };
        taken == self.usable
    }

    /// Counted ports held on local address `local`.
    #[inline]
    fn addr_taken(&self, local: u16) -> u32 {
        if self.fast() { self.one_taken } else { self.taken.on_addr(local) }
    }

    /// Held 4-tuples of `pool` on counted ports, if pools are tracked.
    #[inline]
    fn pool_taken(&self, pool: usize) -> Option<u32> {
        if self.fast() { Some(self.one_taken) } else { self.taken.in_pool(pool) }
    }

    /// Known in O(1): no port of `range` is free for `bind()` on `local_index`
    /// ([`Stack::is_free_for_bind`] would reject every one). As
    /// [`no_free_port`](Stack::no_free_port), only for the stack's own range.
    pub fn no_free_port_for_bind(&self, local_index: u16, range: PortRange) -> bool {
        if range != self.cfg.range {
            return false;
        }
        let taken = match self.cfg.scope {
            // Several addresses: host-wide scope keeps per-port buckets. One: the address is
            // the host.
            Scope::HostWide if !self.buckets.is_empty() => self.taken.on_host(),
            Scope::HostWide if self.cfg.local_addrs > 1 => return false,
            _ => self.addr_taken(local_index),
        };
        taken == self.usable
    }

    /// 4-tuples held in the pool (local address, destination), if pools are tracked.
    #[inline]
    pub fn held_in_pool(&self, local: u16, dest: u32) -> Option<u32> {
        if self.fast() {
            // One pool, one destination: its count is the largest.
            debug_assert_eq!((local, dest), (0, 0));
            return Some(self.max_held);
        }
        self.taken.held_in_pool(self.pool_index(local, dest))
    }

    /// The most 4-tuples held toward any one destination now.
    pub fn max_held(&self) -> u32 {
        self.max_held
    }

    /// The most 4-tuples held toward one destination at any moment since the last call (or
    /// since the stack was built): what a time-series row reports, busy or exhausted.
    pub fn take_peak_held(&mut self) -> u32 {
        std::mem::replace(&mut self.peak_held, self.max_held)
    }

    /// The state of a 4-tuple, if the stack has ever seen it.
    pub fn entry(&self, key: TupleKey) -> Option<Entry> {
        self.table.get(self.key_pool(key), key)
    }

    /// Live connections.
    pub fn live(&self) -> u64 {
        self.live
    }

    /// 4-tuples in TIME_WAIT at this host.
    pub fn time_wait(&self) -> u64 {
        self.time_wait
    }

    /// 4-tuples live or in TIME_WAIT toward destination `dest_index`.
    #[inline]
    pub fn held_toward(&self, dest_index: u32) -> u32 {
        if self.fast() {
            debug_assert_eq!(dest_index, 0);
            return self.max_held;
        }
        self.held_per_dest[dest_index as usize]
    }

    /// How many 4-tuples (live or TIME_WAIT) hold local `port` on local address `local_index`.
    pub fn holders(&self, local_index: u16, port: u16) -> u32 {
        if self.fast() {
            return u32::from(PortBits::is(self.fast_bits[usize::from(port >> 6)].held, port));
        }
        self.port_use(local_index, port).holders
    }

    /// How many 4-tuples (live or TIME_WAIT) hold local `port` on any local address.
    pub fn holders_on_host(&self, port: u16) -> u32 {
        match self.buckets.get(usize::from(port)) {
            Some(b) => b.holders,
            None => (0..self.cfg.local_addrs.max(1)).map(|a| self.holders(a as u16, port)).sum(),
        }
    }

    /// Is the 4-tuple of `flow` on `port` live or in TIME_WAIT? A port an allocator forces
    /// (NetBSD's `lastport - 1`) can only be opened when it is not.
    pub fn tuple_in_use(&self, flow: &Flow, port: u16) -> bool {
        let pool = self.pool_index(flow.local_index, flow.dest_index);
        self.table.get(pool, flow.key(port)).is_some_and(|e| e.state != TupleState::Closed)
    }

    /// Forgets the closed 4-tuples last closed before `cutoff` whose server-side TIME_WAIT is
    /// over at `now`; returns how many. Nothing the stack decides depends on them: they are
    /// only remembered so a later connection on the same 4-tuple counts as a reuse.
    pub fn forget_closed(&mut self, now: Nanos, cutoff: Nanos) -> u64 {
        let before = self.table.len();
        self.table
            .retain(|e| !(e.state == TupleState::Closed && e.closed_at < cutoff && e.remote_tw_until <= now));
        (before - self.table.len()) as u64
    }

    /// 4-tuples the stack remembers (live, TIME_WAIT and closed): its memory footprint.
    pub fn remembered(&self) -> usize {
        self.table.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const S: Nanos = crate::time::NANOS_PER_SEC;

    fn flow(dest: u32) -> Flow {
        Flow {
            local_index: 0,
            local_addr: u32::from(Ipv4Addr::new(10, 0, 0, 1)),
            dest_index: dest,
            remote_addr: u32::from(Ipv4Addr::new(192, 0, 2, dest as u8)),
            remote_port: 443,
        }
    }

    fn stack(scope: Scope, tw_reuse: TwReuse) -> Stack {
        let mut cfg = StackConfig::simple(PortRange::new(1000, 1009).unwrap());
        cfg.scope = scope;
        cfg.tw_reuse = tw_reuse;
        cfg.tw_reuse_delay = S;
        cfg.destinations = 3;
        cfg.reserved.insert(1005);
        Stack::new(cfg)
    }

    #[test]
    fn four_tuple_scope_shares_a_port_across_destinations() {
        let mut s = stack(Scope::FourTuple, TwReuse::Off);
        let (a, b) = (flow(0), flow(1));
        assert!(s.is_suitable(&a, 1000, 0));
        s.open(&a, 1000, 0, false);
        assert!(!s.is_suitable(&a, 1000, 0), "the 4-tuple is live");
        assert!(s.is_suitable(&b, 1000, 0), "another destination may share the port");
        assert!(!s.is_suitable(&a, 1005, 0), "reserved");
        assert_eq!((s.live(), s.held_toward(0), s.held_toward(1)), (1, 1, 0));
    }

    #[test]
    fn the_peak_held_toward_one_destination_follows_every_change() {
        let mut s = stack(Scope::FourTuple, TwReuse::Off);
        s.open(&flow(0), 1000, 0, false);
        s.open(&flow(0), 1001, 0, false);
        s.open(&flow(1), 1000, 0, false);
        assert_eq!((s.max_held(), s.take_peak_held()), (2, 2));
        // Held in TIME_WAIT, the count stays: the next row reports it although nothing opened.
        let t = s.close(flow(0).key(1000), S, Closer::Client, 60 * S).unwrap();
        assert_eq!(s.take_peak_held(), 2);
        assert!(s.expire_time_wait(t));
        assert_eq!(s.max_held(), 1, "destinations 0 and 1 hold one each");
        assert_eq!(s.take_peak_held(), 2, "the row saw 2 before the expiry");
        assert_eq!(s.take_peak_held(), 1);
        s.close(flow(0).key(1001), S, Closer::Server, 60 * S);
        s.close(flow(1).key(1000), S, Closer::Server, 60 * S);
        assert_eq!((s.max_held(), s.take_peak_held(), s.take_peak_held()), (0, 1, 0));
    }

    #[test]
    fn local_port_scope_blocks_the_port_for_everyone() {
        let mut s = stack(Scope::LocalPort, TwReuse::On);
        let (a, b) = (flow(0), flow(1));
        s.open(&a, 1000, 0, false);
        assert!(!s.is_suitable(&b, 1000, 0));
        let t = s.close(a.key(1000), S, Closer::Client, 60 * S).unwrap();
        assert!(!s.is_suitable(&b, 1000, 100 * S), "TIME_WAIT blocks it until it expires");
        assert!(s.expire_time_wait(t));
        assert!(s.is_suitable(&b, 1000, 100 * S));
    }

    #[test]
    fn time_wait_blocks_then_expires_and_reuse_is_recorded() {
        let mut s = stack(Scope::FourTuple, TwReuse::Off);
        let a = flow(0);
        s.open(&a, 1001, 0, false);
        let t = s.close(a.key(1001), 2 * S, Closer::Client, 60 * S).unwrap();
        assert_eq!((s.live(), s.time_wait()), (0, 1));
        assert!(!s.is_suitable(&a, 1001, 30 * S));
        assert!(s.expire_time_wait(t));
        assert!(!s.expire_time_wait(t), "a ticket ends its TIME_WAIT once");
        assert!(s.is_suitable(&a, 1001, 62 * S));
        let o = s.open(&a, 1001, 62 * S, false);
        assert_eq!(o.previous_close, Some(2 * S));
        assert!(!o.remote_collision && !o.recycled_time_wait);
    }

    #[test]
    fn tw_reuse_recycles_after_the_delay_and_stale_tickets_are_ignored() {
        let mut s = stack(Scope::FourTuple, TwReuse::On);
        let a = flow(0);
        s.open(&a, 1002, 0, false);
        let t = s.close(a.key(1002), 10 * S, Closer::Client, 60 * S).unwrap();
        assert!(!s.is_suitable(&a, 1002, 11 * S), "exactly the delay is not enough (Linux: >)");
        assert!(s.is_suitable(&a, 1002, 11 * S + 1));
        let o = s.open(&a, 1002, 11 * S + 1, false);
        assert!(o.recycled_time_wait);
        assert_eq!((s.live(), s.time_wait(), s.holders(0, 1002)), (1, 0, 1));
        assert!(!s.expire_time_wait(t), "the recycled TIME_WAIT's expiry must not free the live one");
        assert!(!s.is_suitable(&a, 1002, 100 * S));
    }

    #[test]
    fn on_the_millisecond_clock_tw_reuse_waits_for_the_next_whole_millisecond() {
        // tcp_twsk_unique(): tcp_clock_ms() > tw_entry_stamp + 1000, both in whole ms. Entered at
        // 10.0004 s (stamp 10,000 ms): 11.0004 s is 11,000 ms, not after; 11.001 s is.
        let mut s = stack(Scope::FourTuple, TwReuse::On);
        s.cfg.tw_reuse_ms_clock = true;
        let a = flow(0);
        s.open(&a, 1002, 0, false);
        s.close(a.key(1002), 10 * S + 400_000, Closer::Client, 60 * S);
        assert!(!s.is_suitable(&a, 1002, 11 * S + 400_001), "exact would allow it");
        assert!(!s.is_suitable(&a, 1002, 11 * S + 999_999));
        assert!(s.is_suitable(&a, 1002, 11 * S + 1_000_000));
        // Without timestamps from the peer, tw_ts_recent_stamp is 0: never.
        s.cfg.timestamps = false;
        assert!(!s.is_suitable(&a, 1002, 50 * S));
    }

    #[test]
    fn tw_reuse_loopback_only_recycles_loopback_flows() {
        let mut s = stack(Scope::FourTuple, TwReuse::Loopback);
        let a = flow(0);
        let mut lo = flow(1);
        lo.remote_addr = u32::from(Ipv4Addr::LOCALHOST);
        for f in [a, lo] {
            s.open(&f, 1003, 0, false);
            s.close(f.key(1003), 0, Closer::Client, 60 * S);
        }
        assert!(!s.is_suitable(&a, 1003, 5 * S));
        assert!(s.is_suitable(&lo, 1003, 5 * S));
    }

    #[test]
    fn server_close_frees_the_port_but_the_next_incarnation_collides_remotely() {
        let mut s = stack(Scope::FourTuple, TwReuse::Off);
        let a = flow(0);
        s.open(&a, 1004, 0, false);
        assert!(s.close(a.key(1004), S, Closer::Server, 60 * S).is_none());
        assert!(s.is_suitable(&a, 1004, S));
        assert!(s.open(&a, 1004, 30 * S, false).remote_collision);
        s.close(a.key(1004), 31 * S, Closer::Server, 60 * S);
        assert!(!s.open(&a, 1004, 91 * S, false).remote_collision, "the server's TIME_WAIT ended");
    }

    #[test]
    fn forgetting_keeps_everything_still_in_use_or_recent() {
        let mut s = stack(Scope::FourTuple, TwReuse::Off);
        let (a, b, c) = (flow(0), flow(1), flow(2));
        for f in [a, b, c] {
            s.open(&f, 1000, 0, false);
        }
        s.close(a.key(1000), S, Closer::Server, 60 * S);
        s.close(b.key(1000), S, Closer::Server, 0);
        s.close(c.key(1000), 10 * S, Closer::Server, 0);
        // At 20 s with a 5 s cutoff: a's server TIME_WAIT still runs, c closed after the cutoff,
        // b is forgotten.
        assert_eq!(s.forget_closed(20 * S, 5 * S), 1);
        assert_eq!(s.remembered(), 2);
        assert!(s.entry(b.key(1000)).is_none());
        assert_eq!(s.open(&b, 1000, 21 * S, false).previous_close, None, "a forgotten 4-tuple is new again");
        assert!(s.open(&a, 1000, 22 * S, false).remote_collision);
    }

    #[test]
    fn bound_ports_are_exclusive_until_their_time_wait_ends() {
        let mut s = stack(Scope::FourTuple, TwReuse::Off);
        let (a, b) = (flow(0), flow(1));
        assert!(s.is_free_for_bind(0, 1006));
        s.open(&a, 1006, 0, true);
        assert!(!s.is_suitable(&b, 1006, 0), "connect() never shares a bind()-owned port");
        assert!(!s.is_free_for_bind(0, 1006));
        let t = s.close(a.key(1006), S, Closer::Client, 60 * S).unwrap();
        assert!(!s.is_suitable(&b, 1006, 2 * S));
        s.expire_time_wait(t);
        assert!(s.is_suitable(&b, 1006, 61 * S));
        s.open(&b, 1006, 61 * S, false);
        assert!(s.is_suitable(&a, 1006, 61 * S), "now shared, connect()-owned");
        assert!(!s.is_free_for_bind(0, 1006));
    }
}
