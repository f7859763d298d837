//! Port-selection strategies: RFC 6056's algorithms (and, later, the kernels' variants) behind
//! one trait, chosen by name from a [registry].
//!
//! A strategy sees the connection to complete, the time, the range and a read-only
//! [`PortCheck`] (RFC 6056's `check_suitable_port`), and keeps its own state and RNG. It never
//! mutates the stack: the simulator opens the connection on the port it returns.

mod bsd;
mod double_hash;
mod hash;
pub mod keyed_hash;
mod random_increments;
mod random_pick;
mod random_start;
pub mod registry;
mod scripted;

pub use bsd::{Bsd, BsdConfig, Direction, Start};
pub use double_hash::{DoubleHash, DoubleHashConfig, EntryWidth, Increment, IndexSource};
pub use hash::{HashBased, HashConfig};
pub use keyed_hash::{HashFn, KeyedHash, Rekey};
pub use random_increments::{RandomIncrements, RandomIncrementsConfig, Termination};
pub use random_pick::RandomPick;
pub use random_start::RandomStart;
pub use registry::{ParamInfo, StrategyConfig, StrategyInfo, StrategySpec};
pub use scripted::ScriptedRng;

use crate::stack::{Flow, PortRange, Stack};
use crate::time::Nanos;
use std::collections::HashSet;

/// The RNG every strategy draws from by default: ChaCha8, seeded per (run seed, strategy).
pub type StrategyRng = rand::rngs::ChaCha8Rng;

/// RFC 6056's `check_suitable_port()`, bound to one connection and one instant.
pub trait PortCheck {
    fn is_suitable(&self, port: u16) -> bool;
}

/// The stack's answer for one `connect()`.
pub struct StackCheck<'a> {
    pub stack: &'a Stack,
    pub flow: &'a Flow,
    pub now: Nanos,
}

impl PortCheck for StackCheck<'_> {
    #[inline]
    fn is_suitable(&self, port: u16) -> bool {
        self.stack.is_suitable(self.flow, port, self.now)
    }
}

/// A hand-built occupancy: every port in the set is unsuitable, every other port is suitable.
#[derive(Clone, Debug, Default)]
pub struct BusyPorts(pub HashSet<u16>);

impl BusyPorts {
    pub fn new(ports: impl IntoIterator<Item = u16>) -> BusyPorts {
        BusyPorts(ports.into_iter().collect())
    }
}

impl PortCheck for BusyPorts {
    fn is_suitable(&self, port: u16) -> bool {
        !self.0.contains(&port)
    }
}

/// What a strategy is asked: complete `flow` at `now` with a port from `range`.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub flow: &'a Flow,
    pub now: Nanos,
    pub range: PortRange,
}

/// What a strategy answers: a port, or exhaustion (`None`, `EADDRNOTAVAIL`), and in both cases
/// how many candidates it examined (calls to `check_suitable_port`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Selection {
    pub port: Option<u16>,
    pub candidates: u32,
}

impl Selection {
    pub fn found(port: u16, candidates: u32) -> Selection {
        Selection {
            port: Some(port),
            candidates,
        }
    }

    pub fn exhausted(candidates: u32) -> Selection {
        Selection {
            port: None,
            candidates,
        }
    }
}

/// A port-selection algorithm with its state.
pub trait PortSelector: Send {
    fn select(&mut self, req: &Request<'_>, check: &dyn PortCheck) -> Selection;
}

/// RFC 6056's `random()`: "a 32-bit pseudo-random unsigned integer".
#[inline]
pub(crate) fn random32<R: rand::Rng>(rng: &mut R) -> u32 {
    rng.next_u32()
}
