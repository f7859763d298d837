//! All or nothing under signals, kills and full disks: whenever a run or a sweep stops, its
//! output folder is the earlier complete set or the new complete set, never a mix, and no
//! temporary entry (`.NAME.new-PID-N`, `.NAME.old-PID-N`, `.NAME.tmp-PID-N`) is left.

use assert_cmd::cargo::cargo_bin;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// About 60,000 logged connections: a second or two of simulating, then a write phase of a
/// few MB, so the signals below land in both.
const CHURN: &str = r#"
name = "churn"
duration = "30s"
[[destinations]]
prefix = "198.51.100.0/24"
count = 256
port = 443
[workload]
arrivals = { process = "poisson", rate = 2000.0 }
lifetime = { dist = "exponential", mean = "1s" }
[[strategies]]
name = "linux"
"#;

/// The hidden entries `dir` holds: portsim's temporary names all start with a dot.
fn leftovers(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    names.sort();
    names
}

/// A published run folder is whole: its marker, a summary that parses, every file it lists.
fn assert_whole(run: &Path) {
    assert!(run.join(".portsim-output").is_file(), "{}", run.display());
    let text = std::fs::read_to_string(run.join("summary.json")).unwrap();
    serde_json::from_str::<serde_json::Value>(&text).expect("summary.json is whole");
    for f in ["summary.csv", "timeseries.csv", "connections.csv", "report.html"] {
        assert!(run.join(f).is_file(), "{f} in {}", run.display());
    }
}

/// summary.json without each strategy's `run` block, the one part that differs between two
/// runs of the same scenario and seed (its wall time can even change the file's length).
fn without_run_blocks(path: &Path) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for s in v["strategies"].as_array_mut().expect("strategies") {
        s.as_object_mut().expect("a strategy").remove("run");
    }
    v
}

fn kill(pid: u32, signal: &str) {
    let ok = Command::new("kill").args([signal, &pid.to_string()]).status().unwrap().success();
    assert!(ok || signal == "-KILL", "kill {signal} {pid}");
}

#[test]
fn a_run_stopped_by_a_signal_leaves_the_earlier_set_or_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("churn.toml");
    std::fs::write(&scenario, CHURN).unwrap();
    let out = dir.path().join("out");
    let run = out.join("run");
    let args = |c: &mut Command| {
        c.arg("run").arg(&scenario).arg("--out").arg(&run).arg("--log-connections");
    };
    let mut first = Command::new(cargo_bin("portsim"));
    args(&mut first);
    assert!(first.stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap().success());
    let earlier = without_run_blocks(&run.join("summary.json"));
    // SIGTERM and SIGINT at spread-out moments: while simulating, while writing, after.
    for (i, ms) in [50u64, 400, 900, 1400, 2000, 3000].into_iter().enumerate() {
        let signal = if i % 2 == 0 { "-TERM" } else { "-INT" };
        let mut c = Command::new(cargo_bin("portsim"));
        args(&mut c);
        let mut child = c.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(ms));
        kill(child.id(), signal);
        let started = Instant::now();
        let status = child.wait().unwrap();
        assert!(started.elapsed() < Duration::from_secs(60));
        assert!(matches!(status.code(), Some(0 | 130)), "{signal} at {ms} ms: {status:?}");
        assert_eq!(leftovers(&out), Vec::<String>::new(), "{signal} at {ms} ms");
        assert_whole(&run);
        if status.code() == Some(130) {
            // Same scenario, same seed: the earlier set and the new one are the same but for
            // each strategy's `run` block (wall time, threads), so the folder is the earlier
            // one or a whole new one.
            assert_eq!(without_run_blocks(&run.join("summary.json")), earlier, "{signal} at {ms} ms");
        }
    }
}

#[test]
fn a_killed_runs_staging_folder_is_removed_by_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("churn.toml");
    std::fs::write(&scenario, CHURN.replace("30s", "2s")).unwrap();
    let out = dir.path().join("out");
    let run = out.join("run");
    // A run killed with -9 in its write phase, as it leaves things: its PID is dead.
    let mut c = Command::new(cargo_bin("portsim"));
    c.arg("run").arg(&scenario).arg("--out").arg(&run);
    let mut child = c.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let dead = child.id();
    kill(dead, "-KILL");
    let _ = child.wait();
    std::fs::create_dir_all(out.join(format!(".run.new-{dead}-0/charts"))).unwrap();
    std::fs::write(out.join(format!(".run.new-{dead}-0/summary.json")), "{\"part").unwrap();
    std::fs::create_dir_all(out.join(format!(".run.old-{dead}-1"))).unwrap();
    std::fs::write(out.join(format!(".run.tmp-{dead}-2")), "part").unwrap();
    // Someone else's folder of the same shape is not portsim's to remove.
    std::fs::create_dir_all(out.join(".other.new-1-0")).unwrap();
    assert!(
        Command::new(cargo_bin("portsim"))
            .arg("run")
            .arg(&scenario)
            .arg("--out")
            .arg(&run)
            .stdout(Stdio::null())
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(leftovers(&out), vec![".other.new-1-0".to_string()]);
    assert!(run.join("summary.json").is_file());
}

#[test]
fn a_sweep_stopped_by_a_signal_keeps_whole_points_and_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("churn.toml");
    std::fs::write(&scenario, CHURN.replace("30s", "5s")).unwrap();
    let out = dir.path().join("out");
    let target = out.join("sweep");
    for ms in [300u64, 1500] {
        let mut child = Command::new(cargo_bin("portsim"))
            .arg("sweep")
            .arg(&scenario)
            .args(["--vary", "workload.arrivals.rate=500..3000:6", "--threads", "1", "--out"])
            .arg(&target)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(ms));
        kill(child.id(), "-TERM");
        let status = child.wait().unwrap();
        assert!(matches!(status.code(), Some(0 | 130)), "{ms} ms: {status:?}");
        assert_eq!(leftovers(&out), Vec::<String>::new(), "{ms} ms");
        if target.exists() {
            let sweep: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(target.join("sweep.json")).unwrap()).unwrap();
            let complete = sweep.pointer("/complete").and_then(|v| v.as_bool());
            // Complete exactly when every point is there.
            let points = sweep.pointer("/points").and_then(|p| p.as_array()).map(|p| p.len());
            assert_eq!(complete, Some(points == Some(6)), "{sweep:#}");
        }
    }
}

/// A sweep signalled in its write phase, every file staged and nothing swapped yet (the test
/// hook `PORTSIM_TEST_PAUSE_BEFORE_PUBLISH` holds it there; no timing guess): SIGINT removes the
/// staging folder and leaves the earlier sweep; SIGKILL leaves the earlier sweep too, and its
/// staging folder is removed by the next sweep.
#[test]
fn a_sweep_killed_in_its_write_phase_leaves_the_earlier_set() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("churn.toml");
    std::fs::write(&scenario, CHURN.replace("30s", "2s").replace("2000.0", "200.0")).unwrap();
    let out = dir.path().join("out");
    let target = out.join("sweep");
    let sweep = |rates: &str| {
        let mut c = Command::new(cargo_bin("portsim"));
        c.arg("sweep").arg(&scenario).args(["--vary", rates, "--threads", "1", "--no-charts", "--out"]);
        c.arg(&target).stdout(Stdio::null()).stderr(Stdio::null());
        c
    };
    assert!(sweep("workload.arrivals.rate=100,200").status().unwrap().success());
    let earlier = std::fs::read(target.join("sweep.json")).unwrap();
    for signal in ["-INT", "-KILL"] {
        let ready = dir.path().join(format!("ready{signal}"));
        let mut child = sweep("workload.arrivals.rate=300,400,500")
            .env("PORTSIM_TEST_PAUSE_BEFORE_PUBLISH", &ready)
            .spawn()
            .unwrap();
        let started = Instant::now();
        while !ready.exists() {
            assert!(started.elapsed() < Duration::from_secs(300), "the sweep never reached its write phase");
            std::thread::sleep(Duration::from_millis(20));
        }
        let staged = leftovers(&out);
        assert_eq!(staged.len(), 1, "one staging folder while writing: {staged:?}");
        kill(child.id(), signal);
        let status = child.wait().unwrap();
        assert_eq!(std::fs::read(target.join("sweep.json")).unwrap(), earlier, "{signal}");
        assert!(target.join(".portsim-output").is_file());
        assert!(target.join("sweep.csv").is_file());
        if signal == "-INT" {
            assert_eq!(status.code(), Some(130));
            assert_eq!(leftovers(&out), Vec::<String>::new(), "{signal}");
        } else {
            assert_eq!(leftovers(&out), staged, "kill -9 cannot clean up; the next sweep does");
        }
    }
    assert!(sweep("workload.arrivals.rate=100,200").status().unwrap().success());
    assert_eq!(leftovers(&out), Vec::<String>::new());
}

/// A full disk: the write fails with exit 3, the earlier run's folder is untouched and no
/// partial or temporary file is left. Needs root to mount a small tmpfs.
#[test]
fn a_full_disk_leaves_the_earlier_set_and_nothing_partial() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2m", "portsim-test"])
        .arg(&mnt)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("skipped: mounting a tmpfs needs root (run the tests as root to check full disks)");
        return;
    }
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(self.0).status();
        }
    }
    let _guard = Unmount(&mnt);
    let scenario = dir.path().join("churn.toml");
    std::fs::write(&scenario, CHURN.replace("30s", "2s")).unwrap();
    let run = mnt.join("run");
    let ok = Command::new(cargo_bin("portsim"))
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&run)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success(), "a small run fits in 2 MB");
    let before = std::fs::read(run.join("summary.json")).unwrap();
    // 30 s of churn logs about 60,000 connections, several MB: more than is left.
    let big = dir.path().join("big.toml");
    std::fs::write(&big, CHURN).unwrap();
    let full = Command::new(cargo_bin("portsim"))
        .arg("run")
        .arg(&big)
        .arg("--out")
        .arg(&run)
        .arg("--log-connections")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&full.stderr);
    assert_eq!(full.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert_eq!(leftovers(&mnt), Vec::<String>::new());
    assert_eq!(std::fs::read(run.join("summary.json")).unwrap(), before);
    assert!(!run.join("connections.csv").exists());

    // A sweep: the first fits, then a filler leaves about 16 KB and the next one's charts do not.
    std::fs::remove_dir_all(&run).unwrap();
    let target = mnt.join("sweep");
    let sweep = |charts: bool| {
        let mut c = Command::new(cargo_bin("portsim"));
        c.arg("sweep").arg(&scenario).args(["--vary", "workload.arrivals.rate=500,1000", "--threads", "1"]);
        if !charts {
            c.arg("--no-charts");
        }
        c.arg("--out").arg(&target).output().unwrap()
    };
    assert!(sweep(false).status.success(), "a small sweep fits in 2 MB");
    let before = std::fs::read(target.join("sweep.json")).unwrap();
    let free = {
        let out = Command::new("df").args(["-B1", "--output=avail"]).arg(&mnt).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.lines().nth(1).and_then(|l| l.trim().parse::<u64>().ok()).unwrap()
    };
    std::fs::write(mnt.join("filler"), vec![0u8; free.saturating_sub(16 * 1024) as usize]).unwrap_or(());
    let full = sweep(true);
    let stderr = String::from_utf8_lossy(&full.stderr);
    assert_eq!(full.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert_eq!(leftovers(&mnt), Vec::<String>::new());
    assert_eq!(std::fs::read(target.join("sweep.json")).unwrap(), before);
    assert!(!target.join("charts").exists());
}
