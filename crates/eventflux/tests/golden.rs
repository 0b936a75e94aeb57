//! End-to-end golden tests: every directory under `tests/golden/` at the repository root is one
//! case, run through the real `eventflux` binary.
//!
//! A case holds:
//! - `app.sql` — the app;
//! - `input.ndjson` — replay input (optional);
//! - `args` — the command line, one argument per whitespace-separated word (optional; default
//!   `run app.sql --replay input.ndjson`);
//! - `expected.ndjson` — the exact stdout (optional; when absent stdout must be empty);
//! - `expected.stderr` — the exact stderr (optional; when absent stderr must be empty);
//! - `expected.exit` — the exit status (optional; default 0).
//!
//! Set `EVENTFLUX_BLESS=1` to write the actual outputs as the expected ones (then review the diff).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Golden cases live in `tests/golden/`; the runnable examples in `examples/` are cases too, so
/// the README's examples can never drift from what the engine does.
fn case_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut dirs: Vec<PathBuf> = ["tests/golden", "examples"]
        .iter()
        .filter_map(|d| std::fs::read_dir(root.join(d)).ok())
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.join("app.sql").exists()
                && (p.join("input.ndjson").exists() || p.join("args").exists())
        })
        .collect();
    dirs.sort();
    dirs
}

fn read_opt(p: &Path) -> Option<String> {
    std::fs::read_to_string(p).ok()
}

/// A readable line diff (longest common subsequence), `-` expected, `+` actual.
fn diff(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = String::new();
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push_str(&format!("   {}\n", a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push_str(&format!(" - {}\n", a[i]));
            i += 1;
        } else {
            out.push_str(&format!(" + {}\n", b[j]));
            j += 1;
        }
    }
    out
}

fn run_case(dir: &Path, bless: bool) -> Result<(), String> {
    let args =
        read_opt(&dir.join("args")).unwrap_or_else(|| "run app.sql --replay input.ndjson".into());
    let args: Vec<&str> = args.split_whitespace().collect();
    let output = Command::new(env!("CARGO_BIN_EXE_eventflux"))
        .args(&args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("cannot start eventflux: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let code = output.status.code().unwrap_or(-1);
    if bless {
        let write = |name: &str, content: &str, keep_empty: bool| {
            let p = dir.join(name);
            if content.is_empty() && !keep_empty {
                let _ = std::fs::remove_file(&p);
            } else {
                std::fs::write(&p, content).map_err(|e| e.to_string())?;
            }
            Ok::<(), String>(())
        };
        write("expected.ndjson", &stdout, false)?;
        write("expected.stderr", &stderr, false)?;
        if code == 0 {
            let _ = std::fs::remove_file(dir.join("expected.exit"));
        } else {
            write("expected.exit", &format!("{code}\n"), true)?;
        }
        return Ok(());
    }
    let mut problems = Vec::new();
    let want_code: i32 = read_opt(&dir.join("expected.exit"))
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    if code != want_code {
        problems.push(format!("exit status {code}, expected {want_code}"));
    }
    let want_out = read_opt(&dir.join("expected.ndjson")).unwrap_or_default();
    if stdout != want_out {
        problems.push(format!(
            "stdout differs (- expected, + actual):\n{}",
            diff(&want_out, &stdout)
        ));
    }
    let want_err = read_opt(&dir.join("expected.stderr")).unwrap_or_default();
    if stderr != want_err {
        problems.push(format!(
            "stderr differs (- expected, + actual):\n{}",
            diff(&want_err, &stderr)
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

#[test]
fn golden_cases() {
    let bless = std::env::var_os("EVENTFLUX_BLESS").is_some();
    let dirs = case_dirs();
    assert!(!dirs.is_empty(), "no golden cases found");
    let mut failures = Vec::new();
    for dir in &dirs {
        let name = dir.display().to_string();
        if let Err(e) = run_case(dir, bless) {
            failures.push(format!("=== golden case '{name}' failed:\n{e}"));
        }
    }
    if !failures.is_empty() {
        panic!(
            "{} of {} golden cases failed:\n\n{}",
            failures.len(),
            dirs.len(),
            failures.join("\n\n")
        );
    }
    eprintln!("{} golden cases passed", dirs.len());
}

#[test]
fn diff_marks_changed_lines() {
    assert_eq!(diff("a\nb\nc\n", "a\nx\nc\n"), "   a\n - b\n + x\n   c\n");
}
