//! The gateway's port allocators: how a translator picks the external (address, port) of a new
//! connection. One file per allocator, each following its source (a kernel file or a provider's
//! published behaviour), cited there.
//!
//! An allocator sees the connection to translate ([`NatRequest`]) and a read-only view of the
//! gateway's table ([`TupleCheck`], netfilter's `nf_nat_used_tuple()`): it never changes the
//! table. The gateway inserts what it returns, and finds out itself whether the tuple was free
//! (an exhausted search hands back a used tuple, as the kernel does).

mod cloud;
mod netfilter;
mod netfilter_core;
mod netfilter_legacy;
mod port_block;

pub use cloud::{CloudPool, CloudPoolConfig, Pooling};
pub use netfilter::Netfilter;
pub use netfilter_core::{NfFlags, jhash2, port_class};
pub use netfilter_legacy::NetfilterLegacy;
pub use port_block::{PortBlock, PortBlockConfig, PortBlockPick};

use crate::stack::PortRange;

/// The connection the gateway translates: the inside source, the destination, the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NatRequest {
    /// The inside host's index (dense, 0-based).
    pub host: u32,
    pub inside_addr: u32,
    pub inside_port: u16,
    /// The destination's index and endpoint.
    pub dest: u32,
    pub dest_addr: u32,
    pub dest_port: u16,
    pub udp: bool,
}

/// What the allocator may ask the gateway's table about the request it is serving.
pub trait TupleCheck {
    /// Whether the reply tuple (external address `ip`, `port`) -> this destination is held by a
    /// confirmed entry (`nf_nat_used_tuple()`); under an endpoint-independent mapping, whether
    /// (`ip`, `port`) is bound to another inside endpoint.
    fn used(&self, ip: u16, port: u16) -> bool;
    /// The external (address, port) an existing entry of the same inside source (address, port,
    /// protocol) maps to, toward any destination (`find_appropriate_src()`'s bysource hash).
    fn source_mapping(&self) -> Option<(u16, u16)>;
    /// Entries toward this destination through external address `ip` (AWS's per-destination
    /// limit).
    fn toward_destination(&self, ip: u16) -> u32;
}

/// What an allocator answers: the external tuple and how many candidates it checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Allocation {
    /// `None`: the allocator itself refuses (a provider's `ErrorPortAllocation`). netfilter
    /// always returns a tuple, used or not.
    pub ext: Option<(u16, u16)>,
    /// Calls to [`TupleCheck::used`].
    pub candidates: u32,
}

/// A port allocator with its state (rovers, block assignments, RNG).
pub trait NatAllocator: Send {
    fn allocate(&mut self, req: &NatRequest, check: &dyn TupleCheck) -> Allocation;
    /// The external ports host `host` may hold at most (its block or quota), if it has one.
    fn quota(&self, host: u32) -> Option<u32>;
}

/// A [`TupleCheck`] over a set of used (address, port) pairs: for tests and examples.
#[derive(Clone, Debug, Default)]
pub struct UsedSet {
    pub used: std::collections::HashSet<(u16, u16)>,
    pub source: Option<(u16, u16)>,
    pub toward: u32,
}

impl UsedSet {
    pub fn new(used: impl IntoIterator<Item = (u16, u16)>) -> UsedSet {
        UsedSet { used: used.into_iter().collect(), source: None, toward: 0 }
    }
}

impl TupleCheck for UsedSet {
    fn used(&self, ip: u16, port: u16) -> bool {
        self.used.contains(&(ip, port))
    }
    fn source_mapping(&self) -> Option<(u16, u16)> {
        self.source
    }
    fn toward_destination(&self, _ip: u16) -> u32 {
        self.toward
    }
}

/// Host `host`'s TCP connection from inside address 1, port 40000, to 2:443: the request the
/// allocators' unit tests make.
#[cfg(test)]
pub(super) fn test_request(host: u32) -> NatRequest {
    NatRequest { host, inside_addr: 1, inside_port: 40000, dest: 0, dest_addr: 2, dest_port: 443, udp: false }
}

/// Counts the calls an allocator makes to the check.
pub(crate) struct Counting<'a> {
    pub inner: &'a dyn TupleCheck,
    pub calls: u32,
}

impl Counting<'_> {
    pub fn used(&mut self, ip: u16, port: u16) -> bool {
        self.calls = self.calls.saturating_add(1);
        self.inner.used(ip, port)
    }
}

/// Which allocator a gateway runs, with every parameter.
#[derive(Clone, Debug, PartialEq)]
pub enum AllocatorConfig {
    /// Linux >= 5.x/6.x `nf_nat_core.c`.
    Netfilter { flags: NfFlags, range: Option<PortRange> },
    /// Linux 4.x `nf_nat_proto_common.c`, with the shared rover.
    NetfilterLegacy { flags: NfFlags, range: Option<PortRange> },
    /// A cloud NAT gateway drawing from its addresses' ports (AWS, Azure NAT gateway).
    Cloud(CloudPoolConfig),
    /// Per-host port blocks (RFC 7422; Azure LB's default SNAT; GCP Cloud NAT).
    PortBlock(PortBlockConfig),
}

impl AllocatorConfig {
    /// A fresh allocator for a gateway of `addrs` external addresses (`addr_values`, host
    /// order) and `hosts` inside hosts, drawing from `rng`.
    pub fn build(
        &self,
        addr_values: &[u32],
        hosts: u32,
        rng: rand::rngs::ChaCha8Rng,
    ) -> Box<dyn NatAllocator> {
        match self {
            AllocatorConfig::Netfilter { flags, range } => {
                Box::new(Netfilter::new(*flags, *range, addr_values.to_vec(), rng))
            }
            AllocatorConfig::NetfilterLegacy { flags, range } => {
                Box::new(NetfilterLegacy::new(*flags, *range, addr_values.to_vec(), rng))
            }
            AllocatorConfig::Cloud(c) => Box::new(CloudPool::new(c.clone(), addr_values.len() as u16, rng)),
            AllocatorConfig::PortBlock(c) => {
                Box::new(PortBlock::new(c.clone(), addr_values.len() as u16, hosts, rng))
            }
        }
    }
}
