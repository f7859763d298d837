//! `portsim sweep` (being built: see the issue on charts and sweeps).

use crate::cli::SweepArgs;
use crate::commands::Status;
use anyhow::{Result, bail};

pub fn execute(_args: SweepArgs) -> Result<Status> {
    bail!("`portsim sweep` is not built yet")
}
