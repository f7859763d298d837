//! The terminal conventions every subcommand shares (as ripgrep and hyperfine have them):
//! `--quiet` and `--color`.
//!
//! Both are process-wide, set once by [`crate::commands::execute`] from the parsed command
//! line: the progress bars, tables and styled prefixes are drawn deep inside the subcommands,
//! and threading two flags through every one of them would touch every signature for no gain.
//! Colour goes through `anstream`, the crate clap itself prints with, so `--color` and
//! `NO_COLOR` decide clap's help and errors and portsim's own prefixes alike.

use anstyle::{AnsiColor, Style};
use std::ffi::OsString;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

static QUIET: AtomicBool = AtomicBool::new(false);

/// `--color`: when to colour. (The variants carry plain comments, not doc comments: clap would
/// print each doc comment as a paragraph of `--help`, where the flag's own text says it all.)
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorWhen {
    // On a terminal, unless `NO_COLOR` is set or `CLICOLOR=0`; `CLICOLOR_FORCE` forces it.
    #[default]
    Auto,
    // Always, even into a pipe or a file, and despite `NO_COLOR`.
    Always,
    Never,
}

/// Applies `--quiet` and `--color` for the rest of the process.
pub fn apply(quiet: bool, color: ColorWhen) {
    QUIET.store(quiet, Ordering::Relaxed);
    set_color(color);
}

fn set_color(color: ColorWhen) {
    anstream::ColorChoice::write_global(match color {
        ColorWhen::Auto => anstream::ColorChoice::Auto,
        ColorWhen::Always => anstream::ColorChoice::Always,
        ColorWhen::Never => anstream::ColorChoice::Never,
    });
}

/// Reads `--color WHEN` / `--color=WHEN` from the raw arguments, before clap parses them:
/// clap prints `--help` and usage errors while parsing, so the choice must already be made
/// by then. An unknown value is left for clap to reject; arguments after `--` are not flags.
pub fn preset_color(args: impl IntoIterator<Item = OsString>) {
    let args: Vec<OsString> = args.into_iter().collect();
    let mut choice = None;
    for (i, a) in args.iter().enumerate() {
        let Some(a) = a.to_str() else { continue };
        if a == "--" {
            break;
        }
        let value = match a.strip_prefix("--color") {
            Some("") => args.get(i + 1).and_then(|v| v.to_str()),
            Some(v) => v.strip_prefix('='),
            None => None,
        };
        if let Some(v) = value.and_then(|v| <ColorWhen as clap::ValueEnum>::from_str(v, false).ok()) {
            choice = Some(v);
        }
    }
    if let Some(c) = choice {
        set_color(c);
    }
}

/// Whether `--quiet` was given.
pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// Whether to draw progress on stderr: a terminal, and not `--quiet`.
pub fn progress() -> bool {
    !quiet() && std::io::stderr().is_terminal()
}

fn styled(text: &str, style: Style) -> String {
    format!("{style}{text}{style:#}")
}

/// `error:`, red and bold where colour is on (as clap's own errors).
pub fn error_prefix() -> String {
    styled("error:", Style::new().bold().fg_color(Some(AnsiColor::Red.into())))
}

/// `warning:`, yellow and bold where colour is on.
pub fn warning_prefix() -> String {
    styled("warning:", Style::new().bold().fg_color(Some(AnsiColor::Yellow.into())))
}

/// `PASS` in green or `FAIL` in red and bold, for an `[expect]` assertion.
pub fn verdict(passed: bool) -> String {
    if passed {
        styled("PASS", Style::new().fg_color(Some(AnsiColor::Green.into())))
    } else {
        styled("FAIL", Style::new().bold().fg_color(Some(AnsiColor::Red.into())))
    }
}

/// Writes one line to stderr, colour kept or stripped as `--color` and the stream decide.
pub fn eprint_line(line: &str) {
    use std::io::Write;
    let mut err = anstream::stderr().lock();
    let _ = writeln!(err, "{line}");
}

/// Writes one line to stderr unless `--quiet`: the `wrote ...` and PASS lines.
pub fn eprint_info(line: &str) {
    if !quiet() {
        eprint_line(line);
    }
}
