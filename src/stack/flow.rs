//! The connection being completed: everything of its 4-tuple except the local port.

use std::net::Ipv4Addr;

/// Local address, remote address and remote port of a connection whose local port is still to
/// be chosen, plus the dense indices the simulator gave the local address and the destination
/// (indices, not addresses, key the stack's tables, so a key packs into one `u64`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Flow {
    pub local_index: u16,
    pub local_addr: u32,
    pub dest_index: u32,
    pub remote_addr: u32,
    pub remote_port: u16,
}

impl Flow {
    /// A flow from plain addresses, with both indices 0: handy in tests and examples.
    pub fn new(local: Ipv4Addr, remote: Ipv4Addr, remote_port: u16) -> Flow {
        Flow {
            local_index: 0,
            local_addr: u32::from(local),
            dest_index: 0,
            remote_addr: u32::from(remote),
            remote_port,
        }
    }

    /// Either end in 127/8: Linux's `tcp_tw_reuse = 2` only recycles such TIME_WAITs.
    pub fn is_loopback(&self) -> bool {
        self.local_addr >> 24 == 127 || self.remote_addr >> 24 == 127
    }

    /// The table key of this flow's 4-tuple on `port`.
    #[inline]
    pub fn key(&self, port: u16) -> TupleKey {
        TupleKey((u64::from(self.dest_index) << 32) | (u64::from(self.local_index) << 16) | u64::from(port))
    }
}

/// A 4-tuple packed as destination index (32 bits), local address index (16), local port (16).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TupleKey(pub u64);

impl TupleKey {
    pub fn port(self) -> u16 {
        self.0 as u16
    }

    pub fn local_index(self) -> u16 {
        (self.0 >> 16) as u16
    }

    pub fn dest_index(self) -> u32 {
        (self.0 >> 32) as u32
    }
}
