//! [`TapeRng`]: the RNG behind `portsim vectors`. It hands a strategy 32-bit words, from a
//! seeded ChaCha8 stream when vectors are made or from a vector's recorded words when they are
//! replayed, and logs every word it hands out, so a vector can list exactly the draws each
//! `connect()` consumed and a replay can check it consumed exactly those.

use rand::SeedableRng;
use rand::TryRng;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

#[derive(Debug)]
enum Source {
    ChaCha(Box<rand::rngs::ChaCha8Rng>),
    Script(VecDeque<u32>),
}

/// An RNG whose every 32-bit word is logged to a [`Tape`]. A `u64` is two words, the low one
/// first; bytes are filled four at a time from words, little-endian.
#[derive(Debug)]
pub struct TapeRng {
    source: Source,
    log: Tape,
}

/// The words a [`TapeRng`] has handed out so far, readable while the strategy owns the RNG.
#[derive(Clone, Debug, Default)]
pub struct Tape(Arc<Mutex<Vec<u32>>>);

impl Tape {
    /// How many words have been drawn.
    pub fn len(&self) -> usize {
        self.0.lock().expect("tape lock").len()
    }

    /// Whether nothing has been drawn.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The words drawn from position `from` on.
    pub fn since(&self, from: usize) -> Vec<u32> {
        self.0.lock().expect("tape lock")[from..].to_vec()
    }
}

impl TapeRng {
    /// Words from `ChaCha8Rng::seed_from_u64(seed)`.
    pub fn seeded(seed: u64) -> (TapeRng, Tape) {
        let tape = Tape::default();
        let source = Source::ChaCha(Box::new(rand::rngs::ChaCha8Rng::seed_from_u64(seed)));
        (TapeRng { source, log: tape.clone() }, tape)
    }

    /// Exactly `words`, in order; drawing past the end panics (a replay that needs more draws
    /// than its vector recorded has drifted).
    pub fn scripted(words: impl IntoIterator<Item = u32>) -> (TapeRng, Tape) {
        let tape = Tape::default();
        (TapeRng { source: Source::Script(words.into_iter().collect()), log: tape.clone() }, tape)
    }
}

impl TryRng for TapeRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let word = match &mut self.source {
            Source::ChaCha(rng) => rand::Rng::next_u32(rng.as_mut()),
            Source::Script(words) => words.pop_front().expect("the vector's recorded draws ran out"),
        };
        self.log.0.lock().expect("tape lock").push(word);
        Ok(word)
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
