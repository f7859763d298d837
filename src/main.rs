//! The `portsim` binary: parse the command line, run it, map the result to an exit code
//! (0 success, 1 an `[expect]` assertion failed, 2 bad input, 3 an output could not be
//! written, 130 a sweep stopped by Ctrl-C).

use clap::Parser;
use portsim::cli::Cli;
use portsim::commands::{Status, execute};
use std::process::ExitCode;

fn main() -> ExitCode {
    // SIGINT and SIGTERM remove any unpublished output before the process ends.
    portsim::report::install_signal_handler();
    portsim::term::preset_color(std::env::args_os());
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match execute(cli) {
        Ok(Status::Ok) => ExitCode::SUCCESS,
        Ok(Status::ExpectationFailed) => ExitCode::from(1),
        Ok(Status::Interrupted) => ExitCode::from(130),
        Ok(Status::Invalid) => ExitCode::from(2),
        Err(e) => {
            portsim::term::eprint_line(&format!("{} {e:#}", portsim::term::error_prefix()));
            ExitCode::from(if e.downcast_ref::<portsim::report::WriteError>().is_some() { 3 } else { 2 })
        }
    }
}
