//! The ephemeral port range and the reserved-port list (`ip_local_reserved_ports`, NetBSD's
//! `anonportalgo.reserve`, RFC 6056 §3.2's "local list of port numbers that should not be
//! allocated").

use std::fmt;

/// An inclusive range `[lo, hi]` of port numbers, `1 <= lo <= hi <= 65535`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortRange {
    lo: u16,
    hi: u16,
}

impl PortRange {
    /// Linux's default `ip_local_port_range`.
    pub const LINUX: PortRange = PortRange { lo: 32768, hi: 60999 };
    /// The IANA dynamic range, used by macOS, Windows and NetBSD.
    pub const IANA: PortRange = PortRange { lo: 49152, hi: 65535 };

    pub fn new(lo: u16, hi: u16) -> Result<PortRange, String> {
        if lo == 0 {
            return Err("port 0 is not a port: ranges start at 1".into());
        }
        if lo > hi {
            return Err(format!("the range is empty: min {lo} > max {hi}"));
        }
        Ok(PortRange { lo, hi })
    }

    /// Parses `"32768-60999"`, the form `sysctl net.ipv4.ip_local_port_range` prints
    /// (`"32768 60999"`, space or tab), or a single port `"40000"`.
    pub fn parse(text: &str) -> Result<PortRange, String> {
        let text = text.trim();
        let mut words = text.split_whitespace();
        let (a, b) = match text.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => match (words.next(), words.next(), words.next()) {
                (Some(a), Some(b), None) => (a, b),
                _ => (text, text),
            },
        };
        let lo = parse_port(a)?;
        let hi = parse_port(b)?;
        PortRange::new(lo, hi)
    }

    pub fn lo(self) -> u16 {
        self.lo
    }

    pub fn hi(self) -> u16 {
        self.hi
    }

    /// The number of ports in the range: RFC 6056's `num_ephemeral`.
    pub fn len(self) -> u32 {
        u32::from(self.hi) - u32::from(self.lo) + 1
    }

    /// Never true: a range holds at least one port. Present for API symmetry with `len`.
    pub fn is_empty(self) -> bool {
        false
    }

    pub fn contains(self, port: u16) -> bool {
        (self.lo..=self.hi).contains(&port)
    }

    pub fn iter(self) -> impl Iterator<Item = u16> {
        self.lo..=self.hi
    }

    /// The range a socket with `IP_LOCAL_PORT_RANGE = own` searches on a system whose range is
    /// `self`: Linux's `inet_sk_get_local_port_range()` (net/ipv4/inet_connection_sock.c, 6.3+)
    /// takes each of the socket's bounds only if it lies inside the system range (the upper
    /// bound checked against the lower one already taken), and keeps the system's otherwise.
    pub fn clamp_socket_range(self, own: PortRange) -> PortRange {
        let lo = if (self.lo..=self.hi).contains(&own.lo) { own.lo } else { self.lo };
        let hi = if (lo..=self.hi).contains(&own.hi) { own.hi } else { self.hi };
        PortRange { lo, hi }
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.lo, self.hi)
    }
}

fn parse_port(text: &str) -> Result<u16, String> {
    // Digits only: Rust's integer parse takes a leading `+`, which no kernel or tool writes.
    let v: u64 = Some(text)
        .filter(|t| t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| format!("`{text}` is not a port number (1-65535)"))?;
    match v {
        0 => Err("port 0 is not a port (ports are 1-65535)".into()),
        1..=65535 => Ok(v as u16),
        _ => Err(format!("port {v} is out of range (ports are 1-65535)")),
    }
}

/// A set of ports no strategy may hand out. A 65,536-bit bitmap: membership is one load and
/// one mask, which is what keeps `check_suitable_port` O(1).
#[derive(Clone, PartialEq, Eq)]
pub struct ReservedPorts {
    bits: Box<[u64; 1024]>,
    count: u32,
}

impl Default for ReservedPorts {
    fn default() -> Self {
        ReservedPorts { bits: Box::new([0; 1024]), count: 0 }
    }
}

impl fmt::Debug for ReservedPorts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReservedPorts({:?})", self.ranges())
    }
}

impl ReservedPorts {
    pub fn new() -> ReservedPorts {
        ReservedPorts::default()
    }

    /// Parses the kernel's `ip_local_reserved_ports` list form: comma-separated ports and
    /// ranges, `"40000-40010,40020"` (what `sysctl` prints and accepts).
    pub fn parse_list(text: &str) -> Result<Vec<PortRange>, String> {
        text.split(',').filter(|p| !p.trim().is_empty()).map(PortRange::parse).collect()
    }

    pub fn insert_range(&mut self, range: PortRange) {
        for p in range.iter() {
            self.insert(p);
        }
    }

    pub fn insert(&mut self, port: u16) {
        let (w, b) = (usize::from(port >> 6), port & 63);
        if self.bits[w] & (1 << b) == 0 {
            self.bits[w] |= 1 << b;
            self.count += 1;
        }
    }

    #[inline]
    pub fn contains(&self, port: u16) -> bool {
        self.bits[usize::from(port >> 6)] & (1 << (port & 63)) != 0
    }

    /// How many ports are reserved in all.
    pub fn len(&self) -> u32 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// How many reserved ports fall inside `range`.
    pub fn count_in(&self, range: PortRange) -> u32 {
        range.iter().filter(|&p| self.contains(p)).count() as u32
    }

    /// The reserved ports as maximal runs, for reports (`["40000-40049"]`).
    pub fn ranges(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut p: u32 = 0;
        while p <= 65535 {
            if self.contains(p as u16) {
                let start = p;
                while p < 65535 && self.contains(p as u16 + 1) {
                    p += 1;
                }
                out.push(if start == p { start.to_string() } else { format!("{start}-{p}") });
            }
            p += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ranges_and_rejects_bad_ones() {
        let r = PortRange::parse("32768-60999").unwrap();
        assert_eq!((r.lo(), r.hi(), r.len()), (32768, 60999, 28232));
        assert_eq!(PortRange::parse("40000").unwrap().len(), 1);
        assert_eq!(PortRange::parse("61000-32768").unwrap_err(), "the range is empty: min 61000 > max 32768");
        assert!(PortRange::parse("0-10").unwrap_err().contains("port 0"));
        assert!(PortRange::parse("1-70000").unwrap_err().contains("70000 is out of range"));
        assert!(PortRange::parse("a-b").unwrap_err().contains("not a port number"));
    }

    #[test]
    fn a_socket_range_is_clamped_bound_by_bound() {
        let sys = PortRange::new(32768, 60999).unwrap();
        let clamp = |lo, hi| sys.clamp_socket_range(PortRange::new(lo, hi).unwrap()).to_string();
        assert_eq!(clamp(40000, 40099), "40000-40099");
        assert_eq!(clamp(1024, 40099), "32768-40099", "a lower bound below the system's is ignored");
        assert_eq!(clamp(40000, 65000), "40000-60999", "an upper bound above the system's is ignored");
        assert_eq!(clamp(1024, 65000), "32768-60999");
        assert_eq!(clamp(61000, 62000), "32768-60999", "both outside: the system range");
        assert_eq!(clamp(20000, 30000), "32768-60999", "the upper bound below the system's lower");
    }

    #[test]
    fn reserved_set_counts_and_lists_runs() {
        let mut r = ReservedPorts::new();
        r.insert_range(PortRange::parse("40000-40049").unwrap());
        r.insert(40010);
        r.insert(65535);
        assert_eq!(r.len(), 51);
        assert!(r.contains(40000) && r.contains(40049) && !r.contains(40050));
        assert_eq!(r.ranges(), vec!["40000-40049".to_string(), "65535".to_string()]);
        assert_eq!(r.count_in(PortRange::parse("40040-40100").unwrap()), 10);
    }
}
