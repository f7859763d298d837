//! `portsim completions` and `portsim man`: both generated from the clap command itself, so a
//! subcommand or flag added to [`crate::cli`] is in them with no further step.

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::commands::Status;
use crate::report::stdout;
use anyhow::{Context, Result};
use clap::CommandFactory;

/// `portsim completions SHELL`: the script on stdout.
pub fn completions(args: CompletionsArgs) -> Result<Status> {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "portsim", &mut script);
    stdout::print(&String::from_utf8(script).context("completion script is not UTF-8")?);
    Ok(Status::Ok)
}

/// Every man page: (file name, roff text), `portsim.1` first, then one page per subcommand
/// (`portsim-run.1`, ...), as `clap_mangen::generate_to` names them.
pub fn pages() -> Result<Vec<(String, Vec<u8>)>> {
    // The man page's NAME line is `portsim \- <about>`: the about without its `portsim:`.
    let mut cmd = Cli::command().about("ephemeral port allocation simulator").disable_help_subcommand(true);
    cmd.build();
    let mut out = Vec::new();
    render(&cmd, &mut out)?;
    Ok(out)
}

fn render(cmd: &clap::Command, out: &mut Vec<(String, Vec<u8>)>) -> Result<()> {
    let man = clap_mangen::Man::new(cmd.clone());
    let mut page = Vec::new();
    // `Man::render`'s sections, with the examples as their own EXAMPLES section in no-fill
    // mode: rendered as its "EXTRA" section, they would be flowed into one paragraph.
    (|| -> std::io::Result<()> {
        man.render_title(&mut page)?;
        man.render_name_section(&mut page)?;
        man.render_synopsis_section(&mut page)?;
        man.render_description_section(&mut page)?;
        if cmd.get_arguments().any(|a| !a.is_hide_set()) {
            man.render_options_section(&mut page)?;
        }
        if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
            man.render_subcommands_section(&mut page)?;
        }
        if let Some(after) = cmd.get_after_help() {
            page.extend_from_slice(examples_section(&after.to_string()).as_bytes());
        }
        man.render_version_section(&mut page)
    })()
    .context("cannot render a man page")?;
    out.push((man.get_filename(), page));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        render(sub, out)?;
    }
    Ok(())
}

/// `portsim man [--out DIR]`: `portsim.1` on stdout, or every page into DIR, each written
/// whole or not at all. DIR is not claimed as portsim's own: it is typically a shared
/// `man1/` folder, so only the pages' own files are replaced.
pub fn man(args: ManArgs) -> Result<Status> {
    let pages = pages()?;
    let Some(dir) = args.out else {
        stdout::print(&String::from_utf8_lossy(&pages[0].1));
        return Ok(Status::Ok);
    };
    for (name, bytes) in &pages {
        crate::report::write_file_atomically(&dir.join(name), bytes)?;
    }
    crate::term::eprint_info(&format!(
        "wrote {}/ ({})",
        dir.display(),
        pages.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
    ));
    Ok(Status::Ok)
}

/// A help text's `Examples:` block as a roff EXAMPLES section, line for line (`.nf`): each line
/// starts with `\&` so none reads as a request, `\` and `-` are escaped as roff wants them.
fn examples_section(after_help: &str) -> String {
    let body = after_help.strip_prefix("Examples:\n").unwrap_or(after_help);
    let mut out = String::from(".SH EXAMPLES\n.nf\n");
    for line in body.lines() {
        out.push_str("\\&");
        out.push_str(&line.replace('\\', "\\e").replace('-', "\\-"));
        out.push('\n');
    }
    out.push_str(".fi\n");
    out
}
