//! Cloud NAT gateways that draw any free port of their addresses for each new connection: AWS
//! NAT gateway and Azure NAT gateway. Both reuse one external port toward different
//! destinations (a per-connection-tuple mapping); neither publishes its search, only that
//! selection is random (Azure: "the port is chosen at random"; see docs/nat.md for each number
//! and its page). portsim's reading, stated as such: the address is drawn at random (or fixed
//! per inside host with `paired` pooling), the port search starts at a random port of the range
//! and steps by one, over at most `max_tries` ports of each address; an address that already
//! holds `per_destination_limit` connections to this destination is skipped (AWS: 55,000 per
//! unique destination). Nothing free: `ErrorPortAllocation`, the SYN is dropped.

use super::{Allocation, NatAllocator, NatRequest, TupleCheck};
use crate::stack::PortRange;
use rand::{Rng, RngExt};

/// RFC 4787 §4.1 address pooling: `paired` keeps an inside host on one external address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pooling {
    Paired,
    Arbitrary,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CloudPoolConfig {
    /// The ports of each external address.
    #[serde(serialize_with = "crate::nat::alloc::cloud::ser_range")]
    pub range: PortRange,
    pub per_destination_limit: Option<u32>,
    /// Ports examined per address before moving on (default: the whole range).
    pub max_tries: u32,
    pub pooling: Pooling,
}

pub(crate) fn ser_range<S: serde::Serializer>(r: &PortRange, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&r.to_string())
}

pub struct CloudPool {
    cfg: CloudPoolConfig,
    addrs: u16,
    rng: rand::rngs::ChaCha8Rng,
}

impl CloudPool {
    pub fn new(cfg: CloudPoolConfig, addrs: u16, rng: rand::rngs::ChaCha8Rng) -> CloudPool {
        CloudPool { cfg, addrs: addrs.max(1), rng }
    }
}

impl NatAllocator for CloudPool {
    fn allocate(&mut self, req: &NatRequest, check: &dyn TupleCheck) -> Allocation {
        let n = self.addrs;
        let (first, count) = match self.cfg.pooling {
            Pooling::Paired => ((req.host % u32::from(n)) as u16, 1),
            Pooling::Arbitrary => (self.rng.random_range(0..n), n),
        };
        let (lo, size) = (u32::from(self.cfg.range.lo()), self.cfg.range.len());
        let tries = self.cfg.max_tries.min(size);
        let mut candidates = 0u32;
        for k in 0..count {
            let ip = (first + k) % n;
            if self.cfg.per_destination_limit.is_some_and(|l| check.toward_destination(ip) >= l) {
                continue;
            }
            let start = self.rng.next_u32() % size;
            for i in 0..tries {
                let port = (lo + (start + i) % size) as u16;
                candidates += 1;
                if !check.used(ip, port) {
                    return Allocation { ext: Some((ip, port)), candidates };
                }
            }
        }
        Allocation { ext: None, candidates }
    }

    fn quota(&self, _host: u32) -> Option<u32> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::{UsedSet, test_request as req};
    use super::*;

    #[test]
    fn the_per_destination_limit_moves_on_then_refuses() {
        let cfg = CloudPoolConfig {
            range: PortRange::new(1024, 1031).unwrap(),
            per_destination_limit: Some(3),
            max_tries: u32::MAX,
            pooling: Pooling::Arbitrary,
        };
        let mut a = CloudPool::new(cfg, 2, crate::strategy::registry::strategy_rng(1, "c"));
        let full = UsedSet { toward: 3, ..UsedSet::default() };
        assert_eq!(a.allocate(&req(0), &full), Allocation { ext: None, candidates: 0 });
        let free = UsedSet::default();
        let got = a.allocate(&req(0), &free);
        assert_eq!(got.candidates, 1);
        let (_, p) = got.ext.unwrap();
        assert!((1024..=1031).contains(&p));
    }

    #[test]
    fn every_port_taken_is_a_refusal_after_the_whole_pool() {
        let cfg = CloudPoolConfig {
            range: PortRange::new(1024, 1031).unwrap(),
            per_destination_limit: None,
            max_tries: u32::MAX,
            pooling: Pooling::Arbitrary,
        };
        let mut a = CloudPool::new(cfg, 2, crate::strategy::registry::strategy_rng(1, "c"));
        let all = UsedSet::new((0..2).flat_map(|ip| (1024..=1031).map(move |p| (ip, p))));
        assert_eq!(a.allocate(&req(0), &all), Allocation { ext: None, candidates: 16 });
        // Paired pooling: host 3 is on address 1 only.
        let mut p = CloudPool::new(
            CloudPoolConfig { pooling: Pooling::Paired, ..a.cfg.clone() },
            2,
            crate::strategy::registry::strategy_rng(1, "c"),
        );
        let got = p.allocate(&req(3), &UsedSet::default());
        assert_eq!(got.ext.unwrap().0, 1);
        assert_eq!(p.allocate(&req(3), &all).candidates, 8);
    }
}
