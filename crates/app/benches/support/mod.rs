//! What every benchmark prints about where it ran.

use std::path::Path;

/// Cores, CPU model, commit (with `+ uncommitted changes` when dirty; `BENCH_COMMIT` names it
/// when the sources are not a git checkout) and load average.
pub fn machine() -> (usize, String, String, String) {
    let nproc = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(manifest)
            .output()
            .ok()
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    // `BENCH_COMMIT` names the commit when the sources are not a git checkout.
    let mut commit = std::env::var("BENCH_COMMIT").unwrap_or_default();
    if commit.is_empty() {
        commit = git(&["rev-parse", "--short", "HEAD"]);
        if commit.is_empty() {
            commit = "unknown".into();
        } else if !git(&["status", "--porcelain", "--untracked-files=no"]).is_empty() {
            commit.push_str(" (+ uncommitted changes)");
        }
    }
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    (nproc, cpu, commit, load)
}
