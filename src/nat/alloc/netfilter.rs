//! `netfilter`: Linux's source NAT since the rover went (5.x, 6.x), as net/netfilter/nf_nat_core.c
//! has it (torvalds/linux, read at 002c6ca75289): `get_unique_tuple()` (see `netfilter_core`),
//! then `nf_nat_l4proto_unique_tuple()`:
//!
//! - the search range is the rule's ports, else the original port's class;
//! - the offset is random (`get_random_u16()`, a `u16` that wraps), stepped by one;
//! - at most `NF_NAT_MAX_ATTEMPTS` = 128 tries from it; if none is free and the range is larger
//!   than the window, a new random offset and half the window, while the window is at least 16:
//!   128 + 64 + 32 + 16 + 8 = 248 tries in all ("we are in softirq; doing a search of the entire
//!   range risks soft lockup");
//! - then it gives up and leaves the last tuple tried, used: the packet is dropped when the entry
//!   fails to insert (`insert_failed`).
//!
//! With `--random` or `--random-fully` (`NF_NAT_RANGE_PROTO_RANDOM_ALL`) steps 1 and 3 are
//! skipped, so no port is preserved; the search itself is the same for both flags in this era.
//! Not modelled: `nf_nat_used_tuple_harder()` (nf-next, June 2023), which for a TCP SYN, on
//! every try with at most 32 attempts left in its round (120 of the 248), may evict a colliding
//! TIME_WAIT/CLOSE entry whose sequence numbers are behind the new SYN's: that test needs the
//! inside hosts' ISNs, which portsim does not model (docs/nat.md); and
//! `NF_NAT_RANGE_PROTO_OFFSET` (port-shifting maps). 5.10's file has the same search with
//! `prandom_u32()` for the offset (a `u16` all the same).

use super::netfilter_core::{NfFlags, get_unique_tuple, search_range};
use super::{Allocation, NatAllocator, NatRequest, TupleCheck};
use crate::stack::PortRange;
use rand::Rng;

/// `NF_NAT_MAX_ATTEMPTS`.
pub const MAX_ATTEMPTS: u32 = 128;

pub struct Netfilter {
    flags: NfFlags,
    range: Option<PortRange>,
    addrs: u32,
    rng: rand::rngs::ChaCha8Rng,
}

impl Netfilter {
    pub fn new(
        flags: NfFlags,
        range: Option<PortRange>,
        addrs: Vec<u32>,
        rng: rand::rngs::ChaCha8Rng,
    ) -> Netfilter {
        Netfilter { flags, range, addrs: addrs.len() as u32, rng }
    }
}

/// `get_random_u16()`.
fn random_u16(rng: &mut impl Rng) -> u16 {
    rng.next_u32() as u16
}

/// `nf_nat_l4proto_unique_tuple()`'s search over `(min, range_size)`, drawing offsets with
/// `next_off`: returns the port left in the tuple (free, or the last one tried).
pub(super) fn search(
    min: u32,
    range_size: u32,
    mut next_off: impl FnMut() -> u16,
    mut used: impl FnMut(u16) -> bool,
) -> u16 {
    let mut off = next_off();
    let mut attempts = range_size.min(MAX_ATTEMPTS);
    let mut port;
    loop {
        port = 0;
        for _ in 0..attempts {
            port = (min + u32::from(off) % range_size) as u16;
            off = off.wrapping_add(1);
            if !used(port) {
                return port;
            }
        }
        if attempts >= range_size || attempts < 16 {
            return port;
        }
        attempts /= 2;
        off = next_off();
    }
}

impl NatAllocator for Netfilter {
    fn allocate(&mut self, req: &NatRequest, check: &dyn TupleCheck) -> Allocation {
        let (min, size) = search_range(self.range, req.inside_port);
        let rng = &mut self.rng;
        let (ext, candidates) = get_unique_tuple(req, check, self.flags, self.range, self.addrs, |c, ip| {
            search(min, size, || random_u16(rng), |p| c.used(ip, p))
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

    fn req(port: u16) -> NatRequest {
        NatRequest {
            host: 0,
            inside_addr: u32::from(std::net::Ipv4Addr::new(100, 64, 0, 2)),
            inside_port: port,
            dest: 0,
            dest_addr: u32::from(std::net::Ipv4Addr::new(192, 0, 2, 10)),
            dest_port: 443,
            udp: false,
        }
    }

    /// [`search`] with every port used and the offsets drawn from `offs` in turn: the port it
    /// ends on, every port it tried, and how many offsets it drew.
    fn search_all_used(min: u32, size: u32, offs: &[u16]) -> (u16, Vec<u16>, usize) {
        let (mut drawn, mut tried) = (0, Vec::new());
        let port = search(
            min,
            size,
            || {
                drawn += 1;
                offs[drawn - 1]
            },
            |p| {
                tried.push(p);
                true
            },
        );
        (port, tried, drawn)
    }

    #[test]
    fn every_port_used_means_exactly_248_tries_then_the_last_one() {
        // Offsets 100, then 5000, 9000, 13000, 17000 for the four halved rounds.
        let (port, tried, k) = search_all_used(1024, 64512, &[100, 5000, 9000, 13000, 17000]);
        assert_eq!(tried.len(), 128 + 64 + 32 + 16 + 8);
        assert_eq!(k, 5);
        // Round 1: 1024 + 100 .. +127; round 2 from 1024 + 5000; the last round ends at 17000 + 7.
        assert_eq!(tried[0], 1124);
        assert_eq!(tried[127], 1124 + 127);
        assert_eq!(tried[128], 6024);
        assert_eq!(tried[128 + 64 + 32 + 16], 1024 + 17000);
        assert_eq!(port, 1024 + 17007);
    }

    #[test]
    fn a_range_no_larger_than_the_window_is_searched_once_whole() {
        // 100 ports: attempts = 100 >= range_size, one round only.
        let mut n = 0;
        let port = search(
            2000,
            100,
            || 250,
            |_| {
                n += 1;
                true
            },
        );
        assert_eq!(n, 100);
        // 250 % 100 = 50: it starts at 2050, wraps at 2099 -> 2000, and ends on 2049.
        assert_eq!(port, 2049);
    }

    #[test]
    fn a_range_just_over_the_window_is_searched_248_times_with_repeats() {
        // range_size 129 > 128: the halving goes on (attempts < range_size), so a full range
        // of 129 ports costs 128 + 64 + 32 + 16 + 8 = 248 tries, more than its size; the rounds
        // wrap: round 2 from offset 120 tries 2120..=2128, then 2000.. (u16 off % 129).
        let (port, tried, _) = search_all_used(2000, 129, &[0, 120, 0, 0, 0]);
        assert_eq!(tried.len(), 248);
        assert_eq!(&tried[..2], &[2000, 2001]);
        assert_eq!(tried[127], 2127);
        assert_eq!(&tried[128..138], &[2120, 2121, 2122, 2123, 2124, 2125, 2126, 2127, 2128, 2000]);
        assert_eq!(tried[128 + 63], 2000 + (120 + 63) % 129);
        assert_eq!(port, 2007);
        // Exactly the window (128 ports): one round only, attempts >= range_size.
        let mut n = 0;
        search(
            2000,
            128,
            || 5,
            |_| {
                n += 1;
                true
            },
        );
        assert_eq!(n, 128);
    }

    #[test]
    fn the_halving_stops_after_the_round_of_8_and_a_free_port_ends_any_round() {
        // Rounds of 128, 64, 32, 16 fail; the round of 8 finds its 3rd port free.
        let offs = [0u16, 1000, 2000, 3000, 4000];
        let mut k = 0;
        let mut n = 0u32;
        let port = search(
            1024,
            64512,
            || {
                k += 1;
                offs[k - 1]
            },
            |_| {
                n += 1;
                n != 128 + 64 + 32 + 16 + 3
            },
        );
        assert_eq!((port, k, n), (1024 + 4002, 5, 243));
    }

    #[test]
    fn the_u16_offset_wraps_as_the_kernels() {
        // off = 65535: the first try is 1024 + 65535 % 64512 = 2047, the next off is 0: 1024.
        let mut tried = Vec::new();
        search(
            1024,
            64512,
            || 65535,
            |p| {
                tried.push(p);
                tried.len() < 2
            },
        );
        assert_eq!(tried, [2047, 1024]);
    }

    #[test]
    fn the_original_port_is_preserved_when_free_and_not_with_random_fully() {
        let rng = crate::strategy::registry::strategy_rng(1, "nf");
        let mut nf = Netfilter::new(
            NfFlags::default(),
            None,
            vec![1],
            crate::strategy::registry::strategy_rng(1, "nf"),
        );
        let free = UsedSet::default();
        let a = nf.allocate(&req(40000), &free);
        assert_eq!(a, Allocation { ext: Some((0, 40000)), candidates: 1 });
        let mut nf = Netfilter::new(NfFlags { random_fully: true, ..NfFlags::default() }, None, vec![1], rng);
        let a = nf.allocate(&req(40000), &free);
        assert_eq!(a.candidates, 1);
        assert_ne!(a.ext, Some((0, 40000)));
    }

    #[test]
    fn a_taken_original_port_searches_its_class() {
        let rng = crate::strategy::registry::strategy_rng(1, "nf");
        let mut nf = Netfilter::new(NfFlags::default(), None, vec![1], rng);
        for (inside, lo, hi) in [(80u16, 1u16, 511u16), (700, 600, 1023), (40000, 1024, 65535)] {
            let used = UsedSet::new([(0, inside)]);
            let a = nf.allocate(&req(inside), &used);
            let (_, p) = a.ext.unwrap();
            assert!((lo..=hi).contains(&p), "{inside} -> {p}");
            assert_eq!(a.candidates, 2);
        }
    }

    /// What Linux 6.18 did in a namespace (docs/nat.md, "Checked on the kernel"): a second
    /// client on the same inside port gets a port of that port's class; with --random-fully no
    /// port is kept but the classes still hold.
    #[test]
    fn the_kernel_check_in_a_namespace() {
        let flags = [NfFlags::default(), NfFlags { random_fully: true, ..NfFlags::default() }];
        for (k, f) in flags.into_iter().enumerate() {
            let mut nf =
                Netfilter::new(f, None, vec![1], crate::strategy::registry::strategy_rng(k as u64, "nf"));
            for (inside, lo, hi) in [(40000u16, 1024u16, 65535u16), (700, 600, 1023), (100, 1, 511)] {
                let first = nf.allocate(&req(inside), &UsedSet::default()).ext.unwrap();
                let taken = UsedSet::new([first]);
                let second = nf.allocate(&req(inside), &taken).ext.unwrap();
                if f.random_fully {
                    assert!((lo..=hi).contains(&first.1), "{inside} -> {first:?}");
                } else {
                    assert_eq!(first, (0, inside));
                }
                assert!((lo..=hi).contains(&second.1) && second != first, "{inside} -> {second:?}");
            }
        }
    }

    #[test]
    fn an_existing_mapping_of_the_same_source_is_reused() {
        let rng = crate::strategy::registry::strategy_rng(1, "nf");
        let mut nf = Netfilter::new(NfFlags::default(), None, vec![1], rng);
        let c = UsedSet { source: Some((0, 5555)), ..UsedSet::default() };
        assert_eq!(nf.allocate(&req(40000), &c), Allocation { ext: Some((0, 5555)), candidates: 1 });
    }
}
