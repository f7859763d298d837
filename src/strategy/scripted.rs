//! An RNG that replays a fixed list of draws, so a strategy's choices can be derived by hand
//! from its pseudo-code: the tests use it to pin exact port sequences.

use rand::TryRng;
use std::collections::VecDeque;
use std::convert::Infallible;

/// Replays `u32` draws in order. A `u64` is two draws, low half first. Running out is a bug in
/// the test that scripted it, and panics with a message saying so.
#[derive(Clone, Debug, Default)]
pub struct ScriptedRng {
    draws: VecDeque<u32>,
}

impl ScriptedRng {
    /// Returns `draws` in order, then panics.
    pub fn new(draws: impl IntoIterator<Item = u32>) -> ScriptedRng {
        ScriptedRng { draws: draws.into_iter().collect() }
    }

    /// Appends more draws.
    pub fn push(&mut self, draws: impl IntoIterator<Item = u32>) {
        self.draws.extend(draws);
    }

    /// Draws not consumed yet.
    pub fn remaining(&self) -> usize {
        self.draws.len()
    }
}

impl TryRng for ScriptedRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.draws.pop_front().expect("ScriptedRng ran out of scripted draws"))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let lo = self.try_next_u32()?;
        let hi = self.try_next_u32()?;
        Ok(u64::from(lo) | (u64::from(hi) << 32))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(4) {
            let v = self.try_next_u32()?.to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Ok(())
    }
}
