//! RFC 6056's F() and G(): keyed hashes of (local IP, remote IP, remote port). SipHash, as
//! Linux's `secure_ipv4_port_ephemeral()` uses; the RFC names MD5 only as an example ("stronger
//! than MD5 should not be necessary").

use crate::stack::Flow;
use crate::time::Nanos;
use rand::Rng;
use serde::Serialize;
use siphasher::sip::{SipHasher13, SipHasher24};
use std::hash::Hasher;

/// Which SipHash variant keys F() and G().
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HashFn {
    /// SipHash-2-4, Linux's choice.
    Siphash24,
    /// SipHash-1-3: fewer rounds, a little faster.
    Siphash13,
}

impl HashFn {
    /// The names a scenario uses, in declaration order.
    pub const NAMES: &'static [&'static str] = &["siphash24", "siphash13"];

    /// The function named `name` (one of [`HashFn::NAMES`]).
    pub fn parse(name: &str) -> HashFn {
        match name {
            "siphash13" => HashFn::Siphash13,
            _ => HashFn::Siphash24,
        }
    }
}

/// A 128-bit secret (RFC 6056 §3.4: "Key lengths of 128 bits should be adequate") and the
/// function it keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyedHash {
    /// First half of the 128-bit key.
    pub k0: u64,
    /// Second half of the 128-bit key.
    pub k1: u64,
    /// Which SipHash.
    pub function: HashFn,
}

impl KeyedHash {
    /// Draws the key from the strategy's RNG: `k0` first, then `k1`.
    pub fn from_rng<R: Rng>(rng: &mut R, function: HashFn) -> KeyedHash {
        let k0 = rng.next_u64();
        let k1 = rng.next_u64();
        KeyedHash { k0, k1, function }
    }

    /// The 64-bit hash of (local IP, remote IP, remote port, time window). The bytes hashed are
    /// the two addresses and the port in network order, then the window little-endian: 18 bytes.
    #[inline]
    pub fn hash(&self, flow: &Flow, window: u64) -> u64 {
        let mut buf = [0u8; 18];
        buf[0..4].copy_from_slice(&flow.local_addr.to_be_bytes());
        buf[4..8].copy_from_slice(&flow.remote_addr.to_be_bytes());
        buf[8..10].copy_from_slice(&flow.remote_port.to_be_bytes());
        buf[10..18].copy_from_slice(&window.to_le_bytes());
        match self.function {
            HashFn::Siphash24 => {
                let mut h = SipHasher24::new_with_keys(self.k0, self.k1);
                write_fixed(&mut h, &buf);
                h.finish()
            }
            HashFn::Siphash13 => {
                let mut h = SipHasher13::new_with_keys(self.k0, self.k1);
                write_fixed(&mut h, &buf);
                h.finish()
            }
        }
    }
}

/// A [`KeyedHash`] that remembers its last input and answer. Consecutive connections toward
/// one destination from one address hash the same (local IP, remote IP, remote port, key
/// window), and a SipHash of it cost about 176 instructions per connection on the speed
/// scenario (callgrind, `double-hash`, which hashes twice): the repeat is a comparison. The
/// answer is the hash's, whatever the order of the inputs (it is a pure function of them).
#[derive(Clone, Copy, Debug)]
pub struct MemoHash {
    hash: KeyedHash,
    /// The last input and its hash: always a true pair (the first one is computed at
    /// construction), so a lookup tests no "is anything remembered" flag.
    input: HashInput,
    answer: u64,
}

/// What [`KeyedHash::hash`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct HashInput {
    addrs: u64,
    remote_port: u16,
    window: u64,
}

impl HashInput {
    #[inline]
    fn of(flow: &Flow, window: u64) -> HashInput {
        HashInput {
            addrs: (u64::from(flow.local_addr) << 32) | u64::from(flow.remote_addr),
            remote_port: flow.remote_port,
            window,
        }
    }
}

impl MemoHash {
    /// `hash`, remembering its answer for the all-zero input to begin with.
    pub fn new(hash: KeyedHash) -> MemoHash {
        let zero = Flow { local_index: 0, local_addr: 0, dest_index: 0, remote_addr: 0, remote_port: 0 };
        MemoHash { hash, input: HashInput::of(&zero, 0), answer: hash.hash(&zero, 0) }
    }

    /// [`KeyedHash::hash`] of `flow` and `window`.
    #[inline]
    pub fn hash(&mut self, flow: &Flow, window: u64) -> u64 {
        let input = HashInput::of(flow, window);
        if input != self.input {
            self.answer = self.hash.hash(flow, window);
            self.input = input;
        }
        self.answer
    }
}

/// Feeds the 18 bytes as three fixed-size writes: the same byte stream as `write(&buf)`, so the
/// same hash, without the generic variable-length path.
#[inline]
fn write_fixed<H: Hasher>(h: &mut H, buf: &[u8; 18]) {
    // siphasher writes integers little-endian on every platform, so this is the same stream.
    let word = |b: &[u8]| u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
    h.write_u64(word(&buf[0..8]));
    h.write_u16(u16::from_le_bytes([buf[8], buf[9]]));
    h.write_u64(word(&buf[10..18]));
}

/// Periodic re-keying, done the way Linux does it since 2022 (commit 4dfa9b438ee3 "tcp: resalt
/// the secret every 10 seconds"): the number of the current period is hashed with the flow, so
/// every destination's offset (and table index) is redrawn at each period boundary. The phase
/// is random per run, as boot time is for a real host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rekey {
    /// How often the key changes; `None` never.
    pub period: Option<Nanos>,
    /// Where in the period time 0 falls (a random boot phase).
    pub phase: Nanos,
}

impl Rekey {
    /// No re-keying.
    pub const NEVER: Rekey = Rekey { period: None, phase: 0 };

    /// A re-key schedule with a random phase in `[0, period)`; draws from `rng` only when there
    /// is a period.
    pub fn new<R: Rng>(period: Option<Nanos>, rng: &mut R) -> Rekey {
        let phase = match period {
            Some(p) => rng.next_u64() % p,
            None => 0,
        };
        Rekey { period, phase }
    }

    /// The key window `now` falls in (always 0 without re-keying).
    #[inline]
    pub fn window(&self, now: Nanos) -> u64 {
        match self.period {
            Some(p) => now.wrapping_add(self.phase) / p,
            None => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn siphash24_matches_the_reference_vector() {
        // The SipHash paper's test vector: key 00 01 .. 0f, message 00 01 .. 0e (15 bytes).
        let mut h = SipHasher24::new_with_keys(0x0706050403020100, 0x0f0e0d0c0b0a0908);
        h.write(&(0u8..15).collect::<Vec<_>>());
        assert_eq!(h.finish(), 0xa129ca6149be45e5);
    }

    #[test]
    fn hash_depends_on_every_input() {
        let k = KeyedHash { k0: 1, k1: 2, function: HashFn::Siphash24 };
        let f = Flow::new(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(192, 0, 2, 1), 443);
        let base = k.hash(&f, 0);
        let mut g = f;
        g.local_addr += 1;
        assert_ne!(k.hash(&g, 0), base);
        g = f;
        g.remote_addr += 1;
        assert_ne!(k.hash(&g, 0), base);
        g = f;
        g.remote_port += 1;
        assert_ne!(k.hash(&g, 0), base);
        assert_ne!(k.hash(&f, 1), base);
        assert_ne!(KeyedHash { k0: 3, ..k }.hash(&f, 0), base);
        assert_ne!(KeyedHash { function: HashFn::Siphash13, ..k }.hash(&f, 0), base);
    }

    #[test]
    fn the_memo_answers_what_the_hash_answers_in_any_order() {
        use rand::SeedableRng;
        let k = KeyedHash { k0: 0x0123_4567_89ab_cdef, k1: 42, function: HashFn::Siphash24 };
        let mut memo = MemoHash::new(k);
        let mut rng = crate::strategy::StrategyRng::seed_from_u64(5);
        // Few distinct inputs, so repeats and changes of every field both happen.
        for _ in 0..2_000 {
            let r = rng.next_u32();
            // Mostly zeros: the input remembered at construction comes up too.
            let f = Flow {
                local_index: 0,
                local_addr: r & 1,
                dest_index: 0,
                remote_addr: (r >> 1) & 1,
                remote_port: ((r >> 2) & 1) as u16,
            };
            let window = u64::from((r >> 3) & 1);
            assert_eq!(memo.hash(&f, window), k.hash(&f, window), "{f:?} {window}");
        }
    }

    #[test]
    fn fixed_size_writes_hash_the_same_bytes_as_one_write() {
        let k = KeyedHash { k0: 0x0123_4567_89ab_cdef, k1: 42, function: HashFn::Siphash24 };
        for (i, window) in [(1u32, 0u64), (0xdead_beef, 7), (u32::MAX, u64::MAX)] {
            let f =
                Flow { local_index: 0, local_addr: i, dest_index: 0, remote_addr: !i, remote_port: i as u16 };
            let mut buf = [0u8; 18];
            buf[0..4].copy_from_slice(&f.local_addr.to_be_bytes());
            buf[4..8].copy_from_slice(&f.remote_addr.to_be_bytes());
            buf[8..10].copy_from_slice(&f.remote_port.to_be_bytes());
            buf[10..18].copy_from_slice(&window.to_le_bytes());
            let mut h = SipHasher24::new_with_keys(k.k0, k.k1);
            h.write(&buf);
            assert_eq!(k.hash(&f, window), h.finish());
            let mut h = SipHasher13::new_with_keys(k.k0, k.k1);
            h.write(&buf);
            assert_eq!(KeyedHash { function: HashFn::Siphash13, ..k }.hash(&f, window), h.finish());
        }
    }

    #[test]
    fn rekey_windows_advance_every_period() {
        let r = Rekey { period: Some(10), phase: 3 };
        assert_eq!([r.window(0), r.window(6), r.window(7), r.window(16), r.window(17)], [0, 0, 1, 1, 2]);
        assert_eq!(Rekey::NEVER.window(u64::MAX), 0);
    }
}
