//! Port blocks per inside host: deterministic NAT (RFC 7422: each inside address owns a fixed
//! block of ports of one external address, so the log needs no per-connection record), and the
//! clouds that preallocate ports per VM: Azure Load Balancer's default outbound SNAT (a block
//! whose size depends on the backend pool's size) and GCP Cloud NAT (`min_ports_per_vm`, or
//! dynamic allocation doubling from `min` up to `max`). Within its ports a host takes the next
//! port after the last one it got (`sequential`) or starts at a random one (`random`), stepping
//! by one; a host with no free port gets `ErrorPortAllocation`.
//!
//! Block `b` is on external address `b / blocks_per_ip`, ports `lo + (b % blocks_per_ip) *
//! block_size` onward. Static: host `h` owns block `h`. Dynamic (GCP "dynamic port
//! allocation"): blocks of `block_size` (= the minimum) are handed out lowest first; a host that
//! finds no free port in its blocks doubles its blocks while it holds fewer than `max_ports`
//! ports and blocks remain. Not modelled: GCP giving ports back when usage falls.

use super::{Allocation, NatAllocator, NatRequest, TupleCheck};
use crate::stack::PortRange;
use rand::Rng;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PortBlockPick {
    Sequential,
    Random,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PortBlockConfig {
    #[serde(serialize_with = "super::cloud::ser_range")]
    pub range: PortRange,
    /// Ports per block (static: per host).
    pub block_size: u32,
    /// Dynamic allocation: the most ports a host may grow to.
    pub max_ports: Option<u32>,
    pub pick: PortBlockPick,
}

impl PortBlockConfig {
    pub fn blocks_per_ip(&self) -> u32 {
        self.range.len() / self.block_size
    }
}

pub struct PortBlock {
    cfg: PortBlockConfig,
    total_blocks: u32,
    /// Per host: its blocks (dynamic; static hosts own block `h`).
    owned: Vec<Vec<u32>>,
    next_free_block: u32,
    /// Per host: where `sequential` resumes (an index into its ports).
    cursor: Vec<u32>,
    rng: rand::rngs::ChaCha8Rng,
}

impl PortBlock {
    pub fn new(cfg: PortBlockConfig, addrs: u16, hosts: u32, rng: rand::rngs::ChaCha8Rng) -> PortBlock {
        let total_blocks = cfg.blocks_per_ip() * u32::from(addrs.max(1));
        let dynamic = cfg.max_ports.is_some();
        let owned = (0..hosts).map(|h| if dynamic { Vec::new() } else { vec![h] }).collect();
        PortBlock { cfg, total_blocks, owned, next_free_block: 0, cursor: vec![0; hosts as usize], rng }
    }

    /// The `i`-th port a host owns: (address index, port).
    fn port_of(&self, blocks: &[u32], i: u32) -> (u16, u16) {
        let b = blocks[(i / self.cfg.block_size) as usize];
        let bpi = self.cfg.blocks_per_ip();
        let ip = (b / bpi) as u16;
        let port = u32::from(self.cfg.range.lo()) + (b % bpi) * self.cfg.block_size + i % self.cfg.block_size;
        (ip, port as u16)
    }

    /// Doubles host `h`'s blocks (the first one if it has none), if allowed and available.
    fn grow(&mut self, h: usize) -> bool {
        let Some(max) = self.cfg.max_ports else { return false };
        let have = self.owned[h].len() as u32;
        let want = if have == 0 { 1 } else { have };
        if (have + want) * self.cfg.block_size > max.max(self.cfg.block_size)
            || self.next_free_block + want > self.total_blocks
        {
            return false;
        }
        for _ in 0..want {
            self.owned[h].push(self.next_free_block);
            self.next_free_block += 1;
        }
        true
    }

    fn search(&mut self, h: usize, check: &dyn TupleCheck, candidates: &mut u32) -> Option<(u16, u16)> {
        let blocks = self.owned[h].clone();
        let n = blocks.len() as u32 * self.cfg.block_size;
        if n == 0 {
            return None;
        }
        let start = match self.cfg.pick {
            PortBlockPick::Sequential => self.cursor[h] % n,
            PortBlockPick::Random => self.rng.next_u32() % n,
        };
        for k in 0..n {
            let i = (start + k) % n;
            let (ip, port) = self.port_of(&blocks, i);
            *candidates += 1;
            if !check.used(ip, port) {
                self.cursor[h] = i + 1;
                return Some((ip, port));
            }
        }
        None
    }
}

impl NatAllocator for PortBlock {
    fn allocate(&mut self, req: &NatRequest, check: &dyn TupleCheck) -> Allocation {
        let h = req.host as usize;
        let mut candidates = 0;
        if h >= self.owned.len() || self.owned[h].iter().any(|&b| b >= self.total_blocks) {
            return Allocation { ext: None, candidates };
        }
        loop {
            if let Some(ext) = self.search(h, check, &mut candidates) {
                return Allocation { ext: Some(ext), candidates };
            }
            if !self.grow(h) {
                return Allocation { ext: None, candidates };
            }
        }
    }

    fn quota(&self, host: u32) -> Option<u32> {
        Some(self.cfg.max_ports.unwrap_or(self.cfg.block_size).min(self.total_blocks * self.cfg.block_size))
            .filter(|_| (host as usize) < self.owned.len())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{UsedSet, test_request as req};
    use super::*;

    fn cfg(block: u32, max: Option<u32>) -> PortBlockConfig {
        PortBlockConfig {
            range: PortRange::new(1024, 1024 + 255).unwrap(),
            block_size: block,
            max_ports: max,
            pick: PortBlockPick::Sequential,
        }
    }

    #[test]
    fn static_blocks_are_deterministic_per_host_and_address() {
        // 256 ports, blocks of 64: 4 per address; host 5 owns block 5 = address 1, ports 1088..
        let mut a = PortBlock::new(cfg(64, None), 2, 8, crate::strategy::registry::strategy_rng(1, "b"));
        let free = UsedSet::default();
        assert_eq!(a.allocate(&req(5), &free), Allocation { ext: Some((1, 1088)), candidates: 1 });
        // Sequential: the next connection tries the next port first.
        let used = UsedSet::new([(1, 1088)]);
        assert_eq!(a.allocate(&req(5), &used), Allocation { ext: Some((1, 1089)), candidates: 1 });
        // A full block is a refusal after its 64 ports.
        let full = UsedSet::new((1088..1152).map(|p| (1, p)));
        assert_eq!(a.allocate(&req(5), &full), Allocation { ext: None, candidates: 64 });
        assert_eq!(a.quota(5), Some(64));
    }

    #[test]
    fn dynamic_blocks_double_up_to_the_maximum() {
        let mut a = PortBlock::new(cfg(32, Some(128)), 1, 2, crate::strategy::registry::strategy_rng(1, "b"));
        let free = UsedSet::default();
        // Host 1 asks first: it gets block 0 (ports 1024..1055).
        assert_eq!(a.allocate(&req(1), &free).ext, Some((0, 1024)));
        // Its block full: it doubles to 2 blocks (block 1 added), and finds 1056.
        let full0 = UsedSet::new((1024..1056).map(|p| (0, p)));
        assert_eq!(a.allocate(&req(1), &full0).ext, Some((0, 1056)));
        assert_eq!(a.owned[1], [0, 1]);
        // Full again: 4 blocks (= 128 ports, the maximum); then no more growth.
        let full01 = UsedSet::new((1024..1088).map(|p| (0, p)));
        assert_eq!(a.allocate(&req(1), &full01).ext, Some((0, 1088)));
        assert_eq!(a.owned[1], [0, 1, 2, 3]);
        let all = UsedSet::new((1024..1280).map(|p| (0, p)));
        assert_eq!(a.allocate(&req(1), &all).ext, None);
        // Host 0 gets the lowest free block: block 4 (host 1 holds 0 to 3).
        assert_eq!(a.allocate(&req(0), &free).ext, Some((0, 1024 + 4 * 32)));
    }
}
