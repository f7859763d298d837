//! `portsim compare DIR_A DIR_B [...]`: finished run folders side by side — before and after a
//! sysctl change, two kernels, two scenario files. Reads each folder back ([`folder`]), takes
//! every difference from the first ([`diff`]), overlays every run's curves on the five run
//! charts ([`overlay`]) and writes `differences.csv`, the charts and `report.html` ([`page`]),
//! all or nothing.

pub mod diff;
pub mod folder;
pub mod overlay;
pub mod page;

use crate::cli::CompareArgs;
use crate::commands::Status;
use crate::report::Staged;
use anyhow::{Result, bail};
use std::path::{Path, PathBuf};

/// What each folder is called in the legend, the tables and the CSV: its own name, or the path
/// as given where two folders share a name.
pub fn labels(dirs: &[PathBuf]) -> Result<Vec<String>> {
    let names: Vec<String> = dirs
        .iter()
        .map(|d| {
            std::path::absolute(d)
                .ok()
                .and_then(|a| a.file_name().map(|f| f.to_string_lossy().into_owned()))
                .unwrap_or_else(|| d.display().to_string())
        })
        .collect();
    let mut out = Vec::with_capacity(dirs.len());
    for (i, n) in names.iter().enumerate() {
        let label = if names.iter().filter(|m| *m == n).count() > 1 {
            dirs[i].display().to_string()
        } else {
            n.clone()
        };
        if out.contains(&label) {
            bail!("{}: given twice: compare each folder once", dirs[i].display());
        }
        out.push(label);
    }
    Ok(out)
}

/// Where the comparison goes unless `--out` says: `output/compare-A-vs-B/`.
pub fn default_dir(labels: &[String]) -> PathBuf {
    let stem: String = labels
        .iter()
        .map(|l| {
            l.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect()
        })
        .collect::<Vec<String>>()
        .join("-vs-");
    Path::new("output").join(format!("compare-{}", stem.chars().take(100).collect::<String>()))
}

/// Reads every folder; the first error names its folder.
pub fn load_all(dirs: &[PathBuf]) -> Result<Vec<folder::RunFolder>> {
    let labels = labels(dirs)?;
    dirs.iter().zip(labels).map(|(d, l)| folder::load(d, l)).collect()
}

/// Writes the comparison of `runs` into `dir`: `differences.csv`, with `charts` the five
/// overlaid charts (SVG and PNG) and `report.html`.
pub fn write_outputs(dir: &Path, runs: &[folder::RunFolder], charts: bool) -> Result<Vec<PathBuf>> {
    let diffs = diff::differences(runs)?;
    let mut staged = Staged::new(dir)?;
    staged.write(dir.join("differences.csv"), diff::differences_csv(runs, &diffs)?.as_bytes())?;
    if charts {
        let (drawn, mut caveats) = overlay::overlay_charts(runs)?;
        caveats.extend(diff::unmatched(runs));
        for c in &drawn {
            staged.write(dir.join("charts").join(format!("{}.svg", c.name)), c.svg.as_bytes())?;
            staged.write(dir.join("charts").join(format!("{}.png", c.name)), &c.png)?;
        }
        staged
            .write(dir.join("report.html"), page::report_html(runs, &diffs, &drawn, &caveats).as_bytes())?;
    }
    staged.publish()
}

fn same_folder(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// `portsim compare`.
pub fn execute(args: CompareArgs) -> Result<Status> {
    if args.dirs.len() < 2 {
        bail!("compare needs at least two run folders (got {})", args.dirs.len());
    }
    let runs = load_all(&args.dirs)?;
    let labels: Vec<String> = runs.iter().map(|r| r.label.clone()).collect();
    let out = args.out.clone().unwrap_or_else(|| default_dir(&labels));
    if let Some(d) = args.dirs.iter().find(|d| same_folder(d, &out)) {
        bail!(
            "--out {}: that is one of the folders compared ({}); choose another",
            out.display(),
            d.display()
        );
    }
    crate::report::check_replaceable(&out)?;
    let written = write_outputs(&out, &runs, !args.no_charts)?;
    for line in page::headlines(&runs, &diff::differences(&runs)?) {
        crate::report::stdout::print(&format!("{line}\n"));
    }
    for line in diff::unmatched(&runs) {
        crate::report::stdout::print(&format!("note: {line}\n"));
    }
    let names: Vec<String> =
        written.iter().map(|p| p.strip_prefix(&out).unwrap_or(p).display().to_string()).collect();
    eprintln!("wrote {}/ ({})", out.display(), names.join(", "));
    Ok(Status::Ok)
}
