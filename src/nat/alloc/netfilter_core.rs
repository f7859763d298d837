//! What Linux's two NAT eras share: `get_unique_tuple()` (the source-mapping reuse, the address
//! choice, port preservation) and the port classes of `nf_nat_l4proto_unique_tuple()`, from
//! net/netfilter/nf_nat_core.c (torvalds/linux, read at commit 002c6ca75289; the same steps as
//! the 4.x file at 04421fe2671c). Only the last step, the port search, differs between the eras:
//! it lives in `netfilter.rs` and `netfilter_legacy.rs`.
//!
//! The gateway is a MASQUERADE or SNAT rule in POSTROUTING (`NF_NAT_MANIP_SRC`) with
//! `NF_NAT_RANGE_MAP_IPS` over the external addresses; `range` set is
//! `NF_NAT_RANGE_PROTO_SPECIFIED` (`--to-source a.b.c.d:1024-65535`, `--to-ports`). Inside
//! addresses are never in the external range, so step 1 is always `find_appropriate_src()`.

use super::{Counting, NatRequest, TupleCheck};
use crate::stack::PortRange;

/// The rule's flags (`include/uapi/linux/netfilter/nf_nat.h`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct NfFlags {
    /// `NF_NAT_RANGE_PROTO_RANDOM` (`--random`).
    pub random: bool,
    /// `NF_NAT_RANGE_PROTO_RANDOM_FULLY` (`--random-fully`).
    pub random_fully: bool,
    /// `NF_NAT_RANGE_PERSISTENT` (`--persistent`): the address depends on the inside address
    /// alone, RFC 4787's "paired" pooling.
    pub persistent: bool,
}

impl NfFlags {
    /// `NF_NAT_RANGE_PROTO_RANDOM_ALL`.
    pub fn random_all(self) -> bool {
        self.random || self.random_fully
    }
}

/// The range `nf_nat_l4proto_unique_tuple()` searches when the rule names no ports: it keeps the
/// original port's class, "loose convention: >> 512 is credential passing": below 512 into
/// 1-511, 512-1023 into 600-1023, the rest into 1024-65535. Returns `(min, range_size)`.
pub fn port_class(original: u16) -> (u32, u32) {
    if original < 1024 {
        if original < 512 { (1, 511) } else { (600, 1023 - 600 + 1) }
    } else {
        (1024, 65535 - 1024 + 1)
    }
}

/// `(min, range_size)` of the search: the rule's ports, else the original port's class.
pub(super) fn search_range(range: Option<PortRange>, original: u16) -> (u32, u32) {
    match range {
        Some(r) => (u32::from(r.lo()), r.len()),
        None => port_class(original),
    }
}

/// Bob Jenkins' lookup3 as include/linux/jhash.h has it (`jhash2()` over `k`).
pub fn jhash2(k: &[u32], initval: u32) -> u32 {
    let (mut a, mut b, mut c);
    a = 0xdead_beef_u32.wrapping_add((k.len() as u32) << 2).wrapping_add(initval);
    b = a;
    c = a;
    let mut k = k;
    while k.len() > 3 {
        a = a.wrapping_add(k[0]);
        b = b.wrapping_add(k[1]);
        c = c.wrapping_add(k[2]);
        // __jhash_mix
        a = a.wrapping_sub(c);
        a ^= c.rotate_left(4);
        c = c.wrapping_add(b);
        b = b.wrapping_sub(a);
        b ^= a.rotate_left(6);
        a = a.wrapping_add(c);
        c = c.wrapping_sub(b);
        c ^= b.rotate_left(8);
        b = b.wrapping_add(a);
        a = a.wrapping_sub(c);
        a ^= c.rotate_left(16);
        c = c.wrapping_add(b);
        b = b.wrapping_sub(a);
        b ^= a.rotate_left(19);
        a = a.wrapping_add(c);
        c = c.wrapping_sub(b);
        c ^= b.rotate_left(4);
        b = b.wrapping_add(a);
        k = &k[3..];
    }
    if k.is_empty() {
        return c;
    }
    if k.len() == 3 {
        c = c.wrapping_add(k[2]);
    }
    if k.len() >= 2 {
        b = b.wrapping_add(k[1]);
    }
    a = a.wrapping_add(k[0]);
    // __jhash_final
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(14));
    a ^= c;
    a = a.wrapping_sub(c.rotate_left(11));
    b ^= a;
    b = b.wrapping_sub(a.rotate_left(25));
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(16));
    a ^= c;
    a = a.wrapping_sub(c.rotate_left(4));
    b ^= a;
    b = b.wrapping_sub(a.rotate_left(14));
    c ^= b;
    c.wrapping_sub(b.rotate_left(24))
}

/// An IPv4 address as the kernel's `(__force u32)` of the `__be32` reads it on a little-endian
/// machine (x86, arm64): the address's bytes in memory order.
fn raw_be32(addr: u32) -> u32 {
    u32::from_le_bytes(addr.to_be_bytes())
}

/// `find_best_ips_proto()`: the external address, as an index into the range of `n` addresses.
/// One address: that one. Otherwise `jhash2()` of the inside address, keyed by the destination
/// address (zone 0) unless `persistent`, scaled into the range by `reciprocal_scale()`.
pub fn best_ip(inside_addr: u32, dest_addr: u32, n: u32, persistent: bool) -> u16 {
    if n <= 1 {
        return 0;
    }
    let initval = if persistent { 0 } else { raw_be32(dest_addr) };
    let j = jhash2(&[raw_be32(inside_addr), 0, 0, 0], initval);
    ((u64::from(j) * u64::from(n)) >> 32) as u16
}

/// `get_unique_tuple()` for a source NAT: steps 1 to 3, then `unique_tuple` (the era's
/// `nf_nat_l4proto_unique_tuple()`) with the address chosen. Returns the tuple and the
/// candidates checked.
pub(super) fn get_unique_tuple(
    req: &NatRequest,
    check: &dyn TupleCheck,
    flags: NfFlags,
    range: Option<PortRange>,
    n_addrs: u32,
    unique_tuple: impl FnOnce(&mut Counting<'_>, u16) -> u16,
) -> ((u16, u16), u32) {
    let mut c = Counting { inner: check, calls: 0 };
    let in_range = |port: u16| range.is_none_or(|r| r.contains(port));
    if !flags.random_all() {
        // 1) This source (address, port, protocol) already mapped: the same mapping, if unique.
        if let Some((ip, port)) = check.source_mapping()
            && in_range(port)
            && !c.used(ip, port)
        {
            return ((ip, port), c.calls);
        }
    }
    // 2) The address.
    let ip = best_ip(req.inside_addr, req.dest_addr, n_addrs, flags.persistent);
    // 3) The original port, if in range and unique (a one-port range is taken as it is).
    if !flags.random_all() {
        let keep = match range {
            Some(r) => r.contains(req.inside_port) && (r.len() == 1 || !c.used(ip, req.inside_port)),
            None => !c.used(ip, req.inside_port),
        };
        if keep {
            return ((ip, req.inside_port), c.calls);
        }
    }
    let port = unique_tuple(&mut c, ip);
    ((ip, port), c.calls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_classes_are_the_kernels() {
        assert_eq!(port_class(1), (1, 511));
        assert_eq!(port_class(511), (1, 511));
        assert_eq!(port_class(512), (600, 424));
        assert_eq!(port_class(1023), (600, 424));
        assert_eq!(port_class(1024), (1024, 64512));
        assert_eq!(port_class(40000), (1024, 64512));
    }

    #[test]
    fn jhash2_matches_the_kernels_macros() {
        // Values from include/linux/jhash.h's jhash2() compiled with gcc: [1, 0, 0, 0] seed 0;
        // 100.64.0.7 keyed by 192.0.2.10 as find_best_ips_proto() passes them (raw __be32
        // words read on x86); three words, seed 7.
        assert_eq!(jhash2(&[1, 0, 0, 0], 0), 2_993_763_464);
        assert_eq!(jhash2(&[0x0700_4064, 0, 0, 0], 0x0a02_00c0), 2_107_483_583);
        assert_eq!(jhash2(&[1, 2, 3], 7), 4_225_110_701);
        assert_eq!(raw_be32(u32::from(std::net::Ipv4Addr::new(100, 64, 0, 7))), 0x0700_4064);
    }

    #[test]
    fn jhash2_matches_lookup3() {
        // Zero-length input returns the initial value: 0xdeadbeef + 0 + initval.
        assert_eq!(jhash2(&[], 0), 0xdead_beef);
        assert_eq!(jhash2(&[], 1), 0xdead_bef0);
        // Deterministic, and sensitive to every word and to the initval.
        let a = jhash2(&[1, 0, 0, 0], 0);
        assert_ne!(a, jhash2(&[2, 0, 0, 0], 0));
        assert_ne!(a, jhash2(&[1, 0, 0, 0], 1));
        assert_eq!(a, jhash2(&[1, 0, 0, 0], 0));
    }

    #[test]
    fn persistent_ignores_the_destination() {
        let inside = u32::from(std::net::Ipv4Addr::new(100, 64, 0, 7));
        let d1 = u32::from(std::net::Ipv4Addr::new(192, 0, 2, 1));
        let d2 = u32::from(std::net::Ipv4Addr::new(192, 0, 2, 2));
        assert_eq!(best_ip(inside, d1, 4, true), best_ip(inside, d2, 4, true));
        assert_eq!(best_ip(inside, d1, 1, false), 0);
        // Without it the destination moves the choice: over many destinations, every address.
        let seen: std::collections::BTreeSet<u16> =
            (0..64).map(|k| best_ip(inside, d1 + k, 4, false)).collect();
        assert_eq!(seen.len(), 4);
    }
}
