//! `netfilter-legacy`, `random`, `random-fully`: Linux 4.x source NAT, as
//! net/netfilter/nf_nat_proto_common.c has it (torvalds/linux, read at 04421fe2671c), with the
//! same `get_unique_tuple()` steps as today (see `netfilter_core`). Its
//! `nf_nat_l4proto_unique_tuple()` starts the search at:
//!
//! - `--random` (`NF_NAT_RANGE_PROTO_RANDOM`): `secure_port()`, i.e. net/core/secure_seq.c
//!   `secure_ipv4_port_ephemeral(saddr, daddr, dport)`, SipHash-2-4 of the tuple's (new) source
//!   address, the destination address and port under a boot-time secret: the same start for every
//!   connection from one external address to one destination;
//! - `--random-fully` (`NF_NAT_RANGE_PROTO_RANDOM_FULLY`): `prandom_u32()`;
//! - otherwise `*rover`: the protocol's one `static u16` (`tcp_port_rover`, `udp_port_rover` in
//!   nf_nat_proto_tcp.c / _udp.c), shared by every connection, set to the offset of the port found
//!   by each search that is not random.
//!
//! Then it steps by one through the whole range (no attempt bound): at the `range_size`-th try it
//! stops and keeps that port, free or not. Every offset is a `u16` that wraps. This is the
//! allocator of the 2018 SNAT race reports (XING; maxlaverse/snat-race-conn-test): two
//! connections searched before either is confirmed start from the same rover and take the same
//! port.

use super::netfilter_core::{NfFlags, get_unique_tuple, search_range};
use super::{Allocation, NatAllocator, NatRequest, TupleCheck};
use crate::stack::PortRange;
use rand::Rng;
use std::hash::Hasher;

pub struct NetfilterLegacy {
    flags: NfFlags,
    range: Option<PortRange>,
    addrs: Vec<u32>,
    rng: rand::rngs::ChaCha8Rng,
    /// `net_secret`.
    secret: (u64, u64),
    /// `tcp_port_rover`, `udp_port_rover`.
    rovers: [u16; 2],
}

impl NetfilterLegacy {
    pub fn new(
        flags: NfFlags,
        range: Option<PortRange>,
        addrs: Vec<u32>,
        mut rng: rand::rngs::ChaCha8Rng,
    ) -> NetfilterLegacy {
        let secret = (rng.next_u64(), rng.next_u64());
        NetfilterLegacy { flags, range, addrs, rng, secret, rovers: [0; 2] }
    }

    /// The rovers (TCP, UDP), for tests.
    pub fn rovers(&self) -> [u16; 2] {
        self.rovers
    }
}

/// `secure_ipv4_port_ephemeral()`: `siphash_3u32(saddr, daddr, dport, &net_secret)`, the
/// addresses and port as the `__be` words the kernel passes (memory order), truncated to `u32`.
pub fn secure_port(secret: (u64, u64), saddr: u32, daddr: u32, dport: u16) -> u32 {
    let mut h = siphasher::sip::SipHasher24::new_with_keys(secret.0, secret.1);
    h.write(&saddr.to_be_bytes());
    h.write(&daddr.to_be_bytes());
    // (__force u16)dport widened to u32: the port's two bytes in network order, then two zeros.
    let p = dport.to_be_bytes();
    h.write(&[p[0], p[1], 0, 0]);
    h.finish() as u32
}

/// The 4.x search: from `off`, one step at a time, stopping at the `range_size`-th port.
/// Returns the port and the offset it was found at.
pub(super) fn linear_search(
    min: u32,
    range_size: u32,
    mut off: u16,
    mut used: impl FnMut(u16) -> bool,
) -> (u16, u16) {
    let mut i = 0u32;
    loop {
        let port = (min + u32::from(off) % range_size) as u16;
        i += 1;
        if i != range_size && used(port) {
            off = off.wrapping_add(1);
            continue;
        }
        return (port, off);
    }
}

impl NatAllocator for NetfilterLegacy {
    fn allocate(&mut self, req: &NatRequest, check: &dyn TupleCheck) -> Allocation {
        let (min, size) = search_range(self.range, req.inside_port);
        let flags = self.flags;
        let proto = usize::from(req.udp);
        let (secret, addrs) = (self.secret, &self.addrs);
        let (rng, rovers) = (&mut self.rng, &mut self.rovers);
        let (ext, candidates) =
            get_unique_tuple(req, check, flags, self.range, addrs.len() as u32, |c, ip| {
                let off = if flags.random {
                    secure_port(secret, addrs[usize::from(ip)], req.dest_addr, req.dest_port) as u16
                } else if flags.random_fully {
                    rng.next_u32() as u16
                } else {
                    rovers[proto]
                };
                let (port, off) = linear_search(min, size, off, |p| c.used(ip, p));
                if !flags.random_all() {
                    rovers[proto] = off;
                }
                port
            });
        Allocation { ext: Some(ext), candidates }
    }

    fn quota(&self, _host: u32) -> Option<u32> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::{NatRequest, UsedSet};
    use super::*;

    fn req(port: u16, dest_addr: u32) -> NatRequest {
        NatRequest {
            host: 0,
            inside_addr: u32::from(std::net::Ipv4Addr::new(100, 64, 0, 2)),
            inside_port: port,
            dest: 0,
            dest_addr,
            dest_port: 443,
            udp: false,
        }
    }

    #[test]
    fn the_rover_keeps_the_offset_found_so_the_next_search_retries_that_port_first() {
        let rng = crate::strategy::registry::strategy_rng(1, "legacy");
        let mut nf = NetfilterLegacy::new(NfFlags::default(), None, vec![1], rng);
        // Port 40000 taken: the rover is 0, so 1024 + 0 is tried and free; rover = 0.
        let mut used = UsedSet::new([(0, 40000)]);
        let a = nf.allocate(&req(40000, 7), &used);
        assert_eq!(a, Allocation { ext: Some((0, 1024)), candidates: 2 });
        assert_eq!(nf.rovers(), [0, 0]);
        // 1024 confirmed: the next search tries 1024 again, then 1025; rover = 1.
        used.used.insert((0, 1024));
        let a = nf.allocate(&req(40000, 7), &used);
        assert_eq!(a, Allocation { ext: Some((0, 1025)), candidates: 3 });
        assert_eq!(nf.rovers(), [1, 0]);
        // Before 1025 is confirmed a third connection lands on it too: the race.
        let a = nf.allocate(&req(40000, 7), &used);
        assert_eq!(a.ext, Some((0, 1025)));
    }

    #[test]
    fn random_fully_skips_preservation_and_leaves_the_rover_and_udp_has_its_own_rover() {
        let rng = crate::strategy::registry::strategy_rng(1, "legacy");
        let flags = NfFlags { random_fully: true, ..NfFlags::default() };
        let mut nf = NetfilterLegacy::new(flags, None, vec![1], rng);
        // A free inside port is not kept, an existing source mapping not reused, the rover untouched.
        let c = UsedSet { source: Some((0, 5555)), ..UsedSet::default() };
        let a = nf.allocate(&req(40000, 7), &c);
        assert_eq!(a.candidates, 1);
        assert!(a.ext.is_some_and(|(_, p)| p != 40000 && p != 5555 && p >= 1024));
        assert_eq!(nf.rovers(), [0, 0]);
        // Without the flags, a UDP search moves only udp_port_rover: 1024, 1025 taken -> 1026.
        let rng = crate::strategy::registry::strategy_rng(1, "legacy");
        let mut nf = NetfilterLegacy::new(NfFlags::default(), None, vec![1], rng);
        let used = UsedSet::new([(0, 40000), (0, 1024), (0, 1025)]);
        let udp = NatRequest { udp: true, ..req(40000, 7) };
        let a = nf.allocate(&udp, &used);
        assert_eq!(a, Allocation { ext: Some((0, 1026)), candidates: 4 });
        assert_eq!(nf.rovers(), [0, 2]);
    }

    #[test]
    fn a_full_range_stops_at_the_last_port_without_checking_it() {
        let (port, off) = linear_search(600, 424, 10, |_| true);
        // 423 checks; the 424th port (offset 10 + 423 = 433, 433 % 424 = 9) is kept unchecked.
        assert_eq!((port, off), (609, 433));
    }

    #[test]
    fn random_starts_at_the_keyed_hash_of_the_destination_and_leaves_the_rover() {
        let rng = crate::strategy::registry::strategy_rng(1, "legacy");
        let flags = NfFlags { random: true, ..NfFlags::default() };
        let mut nf = NetfilterLegacy::new(flags, None, vec![1], rng);
        let free = UsedSet::default();
        let a = nf.allocate(&req(40000, 7), &free);
        let b = nf.allocate(&req(40001, 7), &free);
        // Both start at the same hash: the same port for the same destination.
        assert_eq!(a.ext, b.ext);
        let expected = 1024 + u32::from(secure_port(nf.secret, 1, 7, 443) as u16) % 64512;
        assert_eq!(a.ext, Some((0, expected as u16)));
        assert_eq!(nf.rovers(), [0, 0]);
    }
}
