//! `index.html`: the page `portsim run a.toml b.toml ...` writes beside the scenarios' own
//! folders (in `--out DIR`, else in `output/`), one row per scenario linking its
//! `report.html`, with the finding that opens that report. `run` takes several scenarios in one
//! invocation and puts each in `DIR/<name>/`, so the index is that invocation's: a later run of
//! other scenarios into the same `--out` replaces it whole, as it replaces the folders it names.

use super::html::{escape, page_start, table};
use anyhow::Result;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One scenario of the invocation, as the index lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexEntry {
    pub name: String,
    pub description: String,
    /// Its folder, relative to the index (the scenario's name).
    pub folder: String,
    pub seed: u64,
    pub strategies: Vec<String>,
    /// The first finding of its report.
    pub headline: String,
    /// `[expect]` assertions: (held, total).
    pub expectations: (usize, usize),
}

/// A relative link to `folder/report.html`, with the characters a URL path cannot hold as is
/// percent-encoded.
fn href(folder: &str) -> String {
    let mut out = String::new();
    for b in folder.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out.push_str("/report.html");
    out
}

/// The index's row for one scenario, from what its run measured.
pub fn entry(
    scenario: &crate::scenario::Scenario,
    seed: u64,
    dir: &Path,
    outputs: &[crate::sim::RunOutput],
    checked: &[super::expectations::Checked],
) -> IndexEntry {
    IndexEntry {
        name: scenario.name.clone(),
        description: scenario.description.clone(),
        folder: dir.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
        seed,
        strategies: outputs.iter().map(|o| o.summary.name.clone()).collect(),
        headline: super::findings::findings(outputs).into_iter().next().unwrap_or_default(),
        expectations: (checked.iter().filter(|c| c.passed).count(), checked.len()),
    }
}

/// Writes `dir/index.html`, whole or not at all.
pub fn write(dir: &Path, entries: &[IndexEntry]) -> Result<PathBuf> {
    let path = dir.join("index.html");
    super::write_file_atomically(&path, index_html(entries).as_bytes())?;
    eprintln!("wrote {}", path.display());
    Ok(path)
}

/// The page.
pub fn index_html(entries: &[IndexEntry]) -> String {
    let mut h = page_start("portsim: index of runs");
    let _ = writeln!(
        h,
        "<h1>portsim runs</h1>\n<p class=\"meta\">portsim {} &middot; {} scenario{} run together; each links its own report.</p>",
        env!("CARGO_PKG_VERSION"),
        entries.len(),
        if entries.len() == 1 { "" } else { "s" }
    );
    h.push_str("<ul class=\"runs\">\n");
    for e in entries {
        let _ = writeln!(
            h,
            "<li><a href=\"{}\">{}</a>{}</li>",
            escape(&href(&e.folder)),
            escape(&e.name),
            if e.description.is_empty() { String::new() } else { format!(": {}", escape(&e.description)) }
        );
    }
    h.push_str("</ul>\n<h2 id=\"runs\">At a glance</h2>\n");
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            let (held, total) = e.expectations;
            vec![
                e.name.clone(),
                e.seed.to_string(),
                e.strategies.join(", "),
                if total == 0 { "-".into() } else { format!("{held} of {total} hold") },
                e.headline.clone(),
            ]
        })
        .collect();
    let mut t = table(&["scenario", "seed", "strategies", "[expect]", "first finding"], &rows);
    // The finding is prose: let it wrap.
    t = t.replace("<td data-label=\"first finding\">", "<td class=\"left\" data-label=\"first finding\">");
    t = t.replace("<td data-label=\"strategies\">", "<td class=\"left\" data-label=\"strategies\">");
    h.push_str(&t);
    h.push_str("</body>\n</html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_relative_and_encoded() {
        assert_eq!(href("busy-backend"), "busy-backend/report.html");
        assert_eq!(href("a b#c"), "a%20b%23c/report.html");
    }
}
