//! How many ports of the stack's range are taken, per pool, so that "no port is free" is known
//! in O(1) (issue 16, item 5: exhaustion without scanning).
//!
//! Only ports that a scan of the stack's range could ever find suitable count: inside the range
//! and not reserved (a port a NetBSD allocator forces outside the range, or onto a reserved
//! port, is never counted). Three counts cover the stack's checks:
//!
//! - per pool (local address x destination): the 4-tuples held, live or in TIME_WAIT. Under
//!   four-tuple scope these are exactly the ports `check_suitable_port()` rejects for the pool,
//!   as long as no `bind()` blocks ports of its own and no TIME_WAIT may be recycled (the
//!   stack's [`no_free_port`](super::Stack::no_free_port) asks only then);
//! - per local address: the ports held by anything (local-port scope, and `bind()`);
//! - on the host: the ports held on any address (host-wide scope with several addresses,
//!   where the stack keeps per-port buckets).
//!
//! Each count changes only when a port's holder count goes from 0 to 1 or back (or a pool
//! gains or loses a 4-tuple), at the stack's `open` and `release`.

/// One pool's counts, side by side: open and release touch both.
#[derive(Clone, Copy, Debug, Default)]
struct PoolCount {
    /// 4-tuples held (live or TIME_WAIT), on any port.
    held: u32,
    /// Those on counted ports.
    taken: u32,
}

/// The taken-port counts.
#[derive(Clone, Debug, Default)]
pub(super) struct TakenPorts {
    /// Per pool (empty when the stack tracks no pools): one array for what were two (the
    /// metrics' held count and the exhaustion test's taken count), so an open or a release
    /// touches one cache line for both.
    per_pool: Vec<PoolCount>,
    /// Counted ports with a holder, per local address.
    per_addr: Vec<u32>,
    /// Counted ports with a holder on any address (maintained only with per-port buckets).
    host: u32,
    /// A `bind()` has taken a port exclusively in this run: under four-tuple scope a bound port
    /// can block ports the pool does not hold, so the per-pool count no longer decides alone.
    pub(super) bound_seen: bool,
}

impl TakenPorts {
    pub(super) fn new(pools: usize, local_addrs: usize) -> TakenPorts {
        TakenPorts {
            per_pool: vec![PoolCount::default(); pools],
            per_addr: vec![0; local_addrs],
            host: 0,
            bound_seen: false,
        }
    }

    /// A 4-tuple of `pool` now holds its port; `counted`: the port is a counted one;
    /// `first_on_addr` / `first_on_host`: nothing held it on its address / on the host before.
    #[inline]
    pub(super) fn take(
        &mut self,
        pool: usize,
        local: u16,
        counted: bool,
        first_on_addr: bool,
        first_on_host: bool,
    ) {
        if let Some(p) = self.per_pool.get_mut(pool) {
            p.held += 1;
            p.taken += u32::from(counted);
        }
        if counted {
            self.per_addr[usize::from(local)] += u32::from(first_on_addr);
            self.host += u32::from(first_on_host);
        }
    }

    /// The reverse of [`take`](TakenPorts::take): `emptied_on_addr` / `emptied_on_host`: the
    /// port has no holder left on its address / on the host.
    #[inline]
    pub(super) fn release(
        &mut self,
        pool: usize,
        local: u16,
        counted: bool,
        emptied_on_addr: bool,
        emptied_on_host: bool,
    ) {
        if let Some(p) = self.per_pool.get_mut(pool) {
            p.held -= 1;
            p.taken -= u32::from(counted);
        }
        if counted {
            self.per_addr[usize::from(local)] -= u32::from(emptied_on_addr);
            self.host -= u32::from(emptied_on_host);
        }
    }

    /// Sets the counts of `pool` (4-tuples held, on counted ports) and of local address
    /// `local` (`taken` too: with one pool, each counted port has at most one holder), as
    /// the stack's single-pool fast path leaves them to the general path.
    pub(super) fn set(&mut self, pool: usize, local: u16, held: u32, taken: u32) {
        if let Some(p) = self.per_pool.get_mut(pool) {
            *p = PoolCount { held, taken };
        }
        self.per_addr[usize::from(local)] = taken;
    }

    /// Held 4-tuples of `pool` on counted ports, if pools are tracked.
    #[inline]
    pub(super) fn in_pool(&self, pool: usize) -> Option<u32> {
        self.per_pool.get(pool).map(|p| p.taken)
    }

    /// Held 4-tuples of `pool` on any port, if pools are tracked.
    #[inline]
    pub(super) fn held_in_pool(&self, pool: usize) -> Option<u32> {
        self.per_pool.get(pool).map(|p| p.held)
    }

    /// Counted ports held on local address `local`.
    #[inline]
    pub(super) fn on_addr(&self, local: u16) -> u32 {
        self.per_addr[usize::from(local)]
    }

    /// Counted ports held on any address (only with per-port buckets).
    #[inline]
    pub(super) fn on_host(&self) -> u32 {
        self.host
    }
}
