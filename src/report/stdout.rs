//! Printing to stdout that a closed pipe ends quietly. `portsim run a.toml b.toml | head -1`
//! must still write every output file: `print!` would panic on the first write after `head`
//! exits (Rust ignores SIGPIPE, so the write fails with `EPIPE`). As ripgrep does, a broken
//! pipe stops the printing and nothing else; the run goes on and exits as it would have.

use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicBool, Ordering};

static CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes `text` to stdout, unless stdout was found closed before. A write that fails for
/// another reason (a full disk behind a redirect) is said once on stderr, then printing stops.
pub fn print(text: &str) {
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != ErrorKind::BrokenPipe {
            eprintln!(
                "warning: cannot write to stdout ({e}): printing stops, output files are still written"
            );
        }
    }
}

/// Whether stdout was found closed (a reader that went away).
pub fn closed() -> bool {
    CLOSED.load(Ordering::Relaxed)
}
