//! `portsim capacity` (being built: see the issue on charts and sweeps).

use crate::cli::CapacityArgs;
use crate::commands::Status;
use anyhow::{Result, bail};

pub fn execute(_args: CapacityArgs) -> Result<Status> {
    bail!("`portsim capacity` is not built yet")
}
