//! The command-line conventions users expect (ripgrep, hyperfine): each subcommand's own
//! examples in its `--help`, every example a valid command line, shell completions, man pages,
//! `--quiet`, `--color` beside `NO_COLOR`, `--json` on `sweep` and `strategies`, and a summary
//! table that fits 100 columns unless `--wide`.

use assert_cmd::Command;
use clap::{CommandFactory, Parser};
use portsim::cli::Cli;
use std::path::{Path, PathBuf};

fn portsim() -> Command {
    let mut c = Command::cargo_bin("portsim").expect("the portsim binary is built for the tests");
    // The tests decide about colour themselves.
    c.env_remove("NO_COLOR").env_remove("CLICOLOR").env_remove("CLICOLOR_FORCE");
    c
}

/// The shared tiny scenario ([`crate::support::tiny_scenario`]), 2m with 20s of warm-up.
fn tiny_text() -> String {
    crate::support::tiny_scenario("2m", "20s")
}

fn tiny(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("tiny.toml");
    std::fs::write(&path, format!("{}{extra}", tiny_text())).unwrap();
    path
}

fn help_of(args: &[&str]) -> String {
    let out = portsim().args(args).arg("--help").output().unwrap();
    assert!(out.status.success(), "{args:?} --help: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The text from `Examples:` to the end of a help text.
fn examples(help: &str) -> &str {
    let at = help.find("Examples:").unwrap_or_else(|| panic!("no Examples block in:\n{help}"));
    help[at..].trim_end()
}

#[test]
fn each_subcommand_help_has_its_own_examples() {
    let pinned: &[(&str, &str)] = &[
        (
            "check",
            "Examples:
  portsim check scenarios/busy-backend.toml     validate one file: `ok: ...` and its notes
  portsim check scenarios/*.toml                every file; exit 2 if any is bad",
        ),
        (
            "strategies",
            "Examples:
  portsim strategies                            every strategy, its aliases, defaults, parameters
  portsim strategies --json                     the same as one JSON document (docs/cli.md)",
        ),
        (
            "predict",
            "Examples:
  portsim predict scenarios/predictability.toml          write output/predictability-predict/
  portsim predict scenarios/predictability.toml --only linux,linux-5.12 --seed 3
  portsim predict scenarios/predictability.toml --no-charts --out /tmp/p",
        ),
        (
            "capacity",
            "Examples:
  portsim capacity                              Linux's default range, 60 s TIME_WAIT
  portsim capacity --range 32768-60999 --time-wait 60s --rate 470
  portsim capacity --range 49152-65535 --time-wait 120s --destinations 4 --json",
        ),
        (
            "run",
            "Examples:
  portsim run                                   run the built-in quickstart scenario
  portsim run scenarios/busy-backend.toml       run a scenario, write output/busy-backend/
  portsim run scenarios/rfc-compare.toml --only bsd,random-pick --seed 3
  portsim run scenarios/*.toml --out /tmp/portsim
  portsim run scenarios/quickstart.toml --seeds 5   means and 95 % intervals over 5 seeds
  portsim run scenarios/quickstart.toml --wide      every column of the table
  portsim run scenarios/quickstart.toml --json --quiet > summary.json",
        ),
        (
            "sweep",
            "Examples:
  portsim sweep scenarios/sweep-rate.toml --vary workload.arrivals.rate=300..700:9 --seeds 3
  portsim sweep scenarios/sweep-rate.toml --vary workload.arrivals.rate=300..700:9 --shard 0/4
  portsim sweep scenarios/sweep-rate.toml --vary workload.arrivals.rate=300,500 --vary tcp.time_wait=30s,60s
  portsim sweep scenarios/sweep-rate.toml --vary workload.arrivals.rate=300..700:5 --json --quiet",
        ),
        (
            "completions",
            "Examples:
  portsim completions bash > ~/.local/share/bash-completion/completions/portsim
  portsim completions zsh > ~/.zfunc/_portsim   with fpath+=~/.zfunc before compinit
  portsim completions fish > ~/.config/fish/completions/portsim.fish
  portsim completions powershell >> $PROFILE",
        ),
        (
            "man",
            "Examples:
  portsim man | man -l -                        read portsim.1 now
  portsim man --out ~/.local/share/man/man1     install every page, then `man portsim-run`",
        ),
    ];
    let global = help_of(&[]);
    for (sub, block) in pinned {
        let help = help_of(&[sub]);
        assert_eq!(examples(&help), *block, "`portsim {sub} --help`");
        assert_ne!(examples(&help), examples(&global), "{sub} repeats the global list");
    }
    // The global list names every subcommand, predict and the new ones included.
    for sub in Cli::command().get_subcommands().map(|s| s.get_name().to_string()) {
        assert!(examples(&global).contains(&format!("  portsim {sub} ")), "global examples lack {sub}");
    }
}

/// Every example line of every help text is a command line portsim accepts, and a
/// subcommand's own examples run that subcommand.
#[test]
fn every_example_parses() {
    let cmd = Cli::command();
    let mut blocks: Vec<(Option<String>, String)> =
        vec![(None, cmd.get_after_help().expect("global examples").to_string())];
    for sub in cmd.get_subcommands() {
        let after = sub.get_after_help().unwrap_or_else(|| panic!("`{}` has no examples", sub.get_name()));
        blocks.push((Some(sub.get_name().to_string()), after.to_string()));
    }
    let mut checked = 0;
    for (sub, block) in &blocks {
        assert!(block.starts_with("Examples:\n"), "{sub:?}: {block}");
        for line in block.lines().filter(|l| l.starts_with("  portsim ")) {
            // The command ends at the first two spaces (the comment) or a shell redirect or pipe.
            let mut command = line.trim_start().split("  ").next().unwrap();
            for cut in [" > ", " >> ", " | ", "; "] {
                command = command.split(cut).next().unwrap();
            }
            let words: Vec<&str> = command.split_whitespace().collect();
            let parsed = Cli::try_parse_from(&words)
                .unwrap_or_else(|e| panic!("example `{command}` does not parse: {e}"));
            if let Some(sub) = sub {
                let name = format!("{:?}", parsed.command).to_lowercase();
                assert!(name.starts_with(sub.as_str()), "`{command}` in {sub}'s examples runs {name}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} example lines found");
}

#[test]
fn completions_for_every_shell_name_every_subcommand() {
    let subs: Vec<String> = Cli::command().get_subcommands().map(|s| s.get_name().to_string()).collect();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = portsim().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}: {}", String::from_utf8_lossy(&out.stderr));
        let script = String::from_utf8(out.stdout).unwrap();
        for sub in &subs {
            assert!(script.contains(sub.as_str()), "{shell} completion lacks {sub}");
        }
        for flag in ["quiet", "color", "wide", "json", "vary"] {
            let written = if shell == "fish" { format!("-l {flag}") } else { format!("--{flag}") };
            assert!(script.contains(&written), "{shell} completion lacks {written}");
        }
    }
    // bash parses the bash script (bash is on every machine the tests run on).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("portsim.bash");
    let script = portsim().args(["completions", "bash"]).output().unwrap().stdout;
    std::fs::write(&path, script).unwrap();
    let ok = std::process::Command::new("bash").arg("-n").arg(&path).status().unwrap();
    assert!(ok.success(), "bash -n rejects the completion script");
    let bad = portsim().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid value 'tcsh' for '<SHELL>'"));
}

#[test]
fn man_prints_the_main_page_or_writes_one_per_subcommand() {
    let out = portsim().arg("man").output().unwrap();
    assert!(out.status.success());
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.contains(".TH portsim 1"), "{page}");
    assert!(page.contains("portsim \\- ephemeral port allocation simulator"), "{page}");
    assert!(
        page.contains("portsim\\-run(1)") || page.contains("portsim-run(1)"),
        "SEE ALSO lacks run: {page}"
    );
    let dir = tempfile::tempdir().unwrap();
    let man1 = dir.path().join("man1");
    // A folder shared with other programs' pages: they stay.
    std::fs::create_dir_all(&man1).unwrap();
    std::fs::write(man1.join("other.1"), "other").unwrap();
    let out = portsim().args(["man", "--out"]).arg(&man1).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut names: Vec<String> = std::fs::read_dir(&man1)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut expected: Vec<String> =
        Cli::command().get_subcommands().map(|s| format!("portsim-{}.1", s.get_name())).collect();
    expected.extend(["other.1".to_string(), "portsim.1".to_string()]);
    expected.sort();
    assert_eq!(names, expected);
    let run = std::fs::read_to_string(man1.join("portsim-run.1")).unwrap();
    assert!(run.contains(".TH portsim\\-run 1") || run.contains(".TH portsim-run 1"), "{run}");
    for needle in ["\\-\\-wide", "\\-\\-quiet", "\\-\\-color", ".SH EXAMPLES\n.nf\n\\&  portsim run  "] {
        assert!(run.contains(needle), "portsim-run.1 lacks {needle}");
    }
    // groff reads every page without a warning, where it is installed.
    if std::process::Command::new("groff").arg("-v").output().is_ok() {
        for name in names.iter().filter(|n| n.starts_with("portsim")) {
            let out = std::process::Command::new("groff")
                .args(["-man", "-Tutf8", "-ww", "-z"])
                .arg(man1.join(name))
                .output()
                .unwrap();
            assert!(
                out.status.success() && out.stderr.is_empty(),
                "{name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    } else {
        eprintln!("groff not installed: the man pages' roff is not checked");
    }
    assert_eq!(std::fs::read_to_string(man1.join("portsim.1")).unwrap(), page, "stdout is portsim.1");
}

#[test]
fn quiet_prints_only_errors_and_failed_expectations() {
    let dir = tempfile::tempdir().unwrap();
    let path = tiny(dir.path(), "");
    let out = portsim()
        .args(["run", "--quiet", "--no-charts", "--out"])
        .arg(dir.path().join("a"))
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!((out.stdout.as_slice(), out.stderr.as_slice()), (&b""[..], &b""[..]));
    assert!(dir.path().join("a/summary.json").is_file(), "--quiet still writes the files");
    // -q before the subcommand, with --json: the JSON alone.
    let out = portsim()
        .args(["-q", "run", "--json", "--no-charts", "--out"])
        .arg(dir.path().join("b"))
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["scenario"]["name"], "tiny");
    // A failed assertion is still said (a PASS is not), and exits 1.
    let failing = tiny(dir.path(), "\n[expect]\nfailed = 0\nmax_mean_probes = 0.5\n");
    let out = portsim()
        .args(["run", "-q", "--no-charts", "--out"])
        .arg(dir.path().join("c"))
        .arg(&failing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.lines().all(|l| l.starts_with("FAIL ")) && err.contains("FAIL "), "{err}");
    assert!(out.stdout.is_empty());
    // An error is still said, and exits 2.
    let out = portsim().args(["check", "-q"]).arg(dir.path().join("missing.toml")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: "), "{:?}", out.stderr);
    let out = portsim().args(["check", "--quiet"]).arg(&path).output().unwrap();
    assert!(out.status.success() && out.stdout.is_empty() && out.stderr.is_empty());
}

#[test]
fn color_follows_the_flag_then_no_color_then_the_terminal() {
    const ESC: u8 = 0x1b;
    let colored = |c: &mut Command| {
        let out = c.args(["run", "missing.toml"]).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(err.contains("missing.toml"), "{err}");
        out.stderr.contains(&ESC)
    };
    assert!(colored(portsim().arg("--color=always")), "--color=always");
    assert!(colored(portsim().args(["--color", "always"]).env("NO_COLOR", "1")), "always beats NO_COLOR");
    assert!(!colored(&mut portsim()), "auto into a pipe: no colour");
    assert!(!colored(portsim().args(["--color", "never"]).env("CLICOLOR_FORCE", "1")), "never");
    assert!(colored(portsim().env("CLICOLOR_FORCE", "1")), "auto with CLICOLOR_FORCE");
    assert!(!colored(portsim().env("CLICOLOR_FORCE", "1").env("NO_COLOR", "1")), "auto with NO_COLOR");
    // The flag reaches clap's own output, which is printed while parsing.
    let help = portsim().args(["--color", "always", "run", "--help"]).output().unwrap();
    assert!(help.stdout.contains(&ESC), "clap's help is coloured");
    let usage = portsim().args(["run", "--bogus", "--color=always"]).output().unwrap();
    assert!(usage.stderr.contains(&ESC), "clap's usage error is coloured");
    let plain = portsim().args(["run", "--help"]).output().unwrap();
    assert!(!plain.stdout.contains(&ESC));
    let bad = portsim().args(["--color", "sometimes", "strategies"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains(
            "invalid value 'sometimes' for '--color <WHEN>'\n  [possible values: auto, always, never]"
        ),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

#[test]
fn strategies_json_lists_the_registry() {
    let out = portsim().args(["strategies", "--json"]).output().unwrap();
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["portsim_version"], env!("CARGO_PKG_VERSION"));
    let list = doc["strategies"].as_array().unwrap();
    let names: Vec<&str> = list.iter().map(|s| s["name"].as_str().unwrap()).collect();
    let registry: Vec<&str> = portsim::strategy::registry::STRATEGIES.iter().map(|s| s.name).collect();
    assert_eq!(names, registry);
    let text = String::from_utf8(portsim().arg("strategies").output().unwrap().stdout).unwrap();
    for s in list {
        let name = s["name"].as_str().unwrap();
        assert!(text.contains(&format!("{name}\n")) || text.contains(&format!("{name} (aliases")), "{name}");
        for p in s["parameters"].as_array().unwrap() {
            let line = format!(
                "    {} = {}    {}\n",
                p["name"].as_str().unwrap(),
                p["default"].as_str().unwrap(),
                p["help"].as_str().unwrap()
            );
            assert!(text.contains(&line), "{name}: text lacks {line}");
        }
    }
    let by = |n: &str| list.iter().find(|s| s["name"] == n).unwrap();
    let bsd = by("bsd");
    assert_eq!(bsd["aliases"], serde_json::json!(["sequential"]));
    assert_eq!(bsd["defaults"]["profile"], false);
    assert_eq!(bsd["defaults"]["range"], serde_json::json!([32768, 60999]));
    assert_eq!(bsd["defaults"]["scope"], "four-tuple");
    assert_eq!(bsd["defaults"]["time_wait_s"], 60.0);
    assert_eq!(bsd["defaults"]["tw_reuse"], "off");
    let windows = by("windows");
    assert_eq!(windows["defaults"]["profile"], true);
    assert_eq!(windows["defaults"]["range"], serde_json::json!([49152, 65535]));
}

#[test]
fn sweep_and_merge_json_print_sweep_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = tiny(dir.path(), "");
    let out_dir = dir.path().join("sweep");
    let out = portsim()
        .args(["sweep", "--json", "--no-charts", "--vary", "workload.arrivals.rate=5,12", "--out"])
        .arg(&out_dir)
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let file = std::fs::read(out_dir.join("sweep.json")).unwrap();
    assert_eq!(out.stdout, [file.as_slice(), b"\n"].concat(), "stdout is sweep.json");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["points_total"], 2);
    assert_eq!(doc["complete"], true);
    // Two shards, merged with --json: the same document.
    let shards = dir.path().join("shards");
    for (k, flag) in [("0/2", "-q"), ("1/2", "--json")] {
        let s = portsim()
            .args(["sweep", flag, "--vary", "workload.arrivals.rate=5,12", "--shard", k, "--out"])
            .arg(&shards)
            .arg(&path)
            .output()
            .unwrap();
        assert!(s.status.success() && s.stdout.is_empty(), "{}", String::from_utf8_lossy(&s.stdout));
        let err = String::from_utf8(s.stderr).unwrap();
        assert_eq!(err.is_empty(), flag == "-q", "{flag}: {err}");
    }
    let merged = portsim().args(["merge", "--json", "--no-charts", "--quiet"]).arg(&shards).output().unwrap();
    assert!(merged.status.success(), "{}", String::from_utf8_lossy(&merged.stderr));
    assert!(merged.stderr.is_empty());
    assert_eq!(merged.stdout, out.stdout, "merge --json prints the unsharded sweep.json");
}

#[test]
fn the_default_table_fits_100_columns_and_wide_has_every_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = tiny(dir.path(), "");
    let run = |wide: bool| {
        let mut c = portsim();
        c.args(["run", "--no-charts", "--out"]).arg(dir.path().join(if wide { "w" } else { "c" })).arg(&path);
        if wide {
            c.arg("--wide");
        }
        let out = c.output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let compact = run(false);
    for line in compact.lines() {
        assert!(line.chars().count() <= 100, "{} columns: {line}", line.chars().count());
    }
    let header = compact.lines().nth(1).unwrap();
    let cols: Vec<&str> = header.split("  ").map(str::trim).filter(|c| !c.is_empty()).collect();
    assert_eq!(
        cols,
        [
            "strategy",
            "failed",
            "fail %",
            "probes mean",
            "max",
            "coll local",
            "reuse <thr",
            "1st fail s",
            "peak occ"
        ]
    );
    assert!(compact.contains(
        "note: --wide adds attempted, p99, coll remote, reuse min s, exhausted s, ports used, max/mean\n"
    ));
    let wide = run(true);
    let header = wide.lines().nth(1).unwrap();
    assert_eq!(
        header,
        "strategy     attempted  failed  fail %  probes mean  p99  max  coll local  coll remote  reuse <thr  \
         reuse min s  1st fail s  exhausted s  peak occ  ports used  max/mean"
    );
    assert!(!wide.contains("--wide adds"));
    // One unit per column: no cell carries its own (`s`, `ms`).
    for row in wide.lines().skip(3).take(2) {
        assert!(!row.split_whitespace().any(|c| c.ends_with("ms") || c.ends_with('s') && c != "-"), "{row}");
    }
}

#[test]
fn a_long_label_drops_the_least_read_columns_not_the_width() {
    let label = "a-strategy-label-of-fifty-characters-for-the-tests";
    let text = tiny_text()
        .replace("name = \"random-pick\"", &format!("name = \"random-pick\"\nlabel = \"{label}\""));
    let s = portsim::scenario::parse(&text, "tiny.toml", Path::new(".")).unwrap();
    let runs = portsim::run(&s, s.seed);
    let table = portsim::report::render_compact_table(&s, &runs);
    let lines: Vec<&str> = table.lines().collect();
    for line in &lines {
        assert!(line.chars().count() <= portsim::report::COMPACT_WIDTH, "{line}");
    }
    // 50 + failed, fail %, probes mean, 1st fail s (the first four) fit; peak occ does not.
    assert!(lines[0].ends_with("failed  fail %  probes mean  1st fail s"), "{}", lines[0]);
    assert!(table.contains("--wide adds attempted, p99, max, coll local, coll remote, reuse"), "{table}");
}

/// The README's quickstart block is what `portsim run scenarios/quickstart.toml` prints.
#[test]
fn the_readme_shows_the_quickstart_table_as_printed() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme.find("```\nquickstart (seed 1)").expect("the README shows the quickstart table") + 4;
    let block = &readme[start..start + readme[start..].find("```\n").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    let out = portsim()
        .args(["run", "scenarios/quickstart.toml", "--no-charts", "--out"])
        .arg(dir.path().join("q"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim_end(), block.trim_end());
}

/// `run --seeds K`: the table of means fits 100 columns too, and `--wide` shows every figure.
#[test]
fn the_table_of_means_over_seeds_is_compact_unless_wide() {
    let dir = tempfile::tempdir().unwrap();
    let path = tiny(dir.path(), "");
    let run = |wide: bool| {
        let mut c = portsim();
        c.args(["run", "--seeds", "2", "--no-charts", "--out"])
            .arg(dir.path().join(format!("s{wide}")))
            .arg(&path);
        if wide {
            c.arg("--wide");
        }
        String::from_utf8(c.output().unwrap().stdout).unwrap()
    };
    let compact = run(false);
    let means = &compact[compact.find("\n\nstrategy").expect("a second table") + 2..];
    assert!(means.lines().all(|l| l.chars().count() <= 100), "{means}");
    let header = means.lines().next().unwrap();
    assert!(
        header.starts_with("strategy") && header.contains("fail %") && !header.contains("attempted"),
        "{header}"
    );
    assert!(
        means.contains("means over 2 seeds (5, 6)") && means.contains("\nnote: --wide adds attempted"),
        "{means}"
    );
    let wide = run(true);
    let means = &wide[wide.find("\n\nstrategy").unwrap() + 2..];
    let header: Vec<&str> =
        means.lines().next().unwrap().split("  ").map(str::trim).filter(|c| !c.is_empty()).collect();
    let all: Vec<&str> =
        std::iter::once("strategy").chain(portsim::report::seeds::SEED_METRICS.iter().map(|m| m.0)).collect();
    assert_eq!(header, all);
    assert!(!means.contains("--wide adds"));
}
