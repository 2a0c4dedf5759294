//! Running the binary and reading what it writes.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What one run of `stripwatch analyze` gave.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// `stripwatch analyze ARGS...` (paths included in `args`).
pub fn analyze<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Run {
    analyze_in(Path::new("."), args)
}

/// `stripwatch analyze ARGS...` run in `dir`.
pub fn analyze_in<S: AsRef<std::ffi::OsStr>>(dir: &Path, args: &[S]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_stripwatch"))
        .arg("analyze")
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    Run {
        code: out.status.code().expect("exit status, not a signal"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The path of a sample as a string argument.
pub fn sample(name: &str) -> String {
    crate::sample_support::sample(name)
        .to_str()
        .unwrap()
        .to_string()
}

/// `--format json` over `args` (exit status 0, 1 or 2 accepted).
pub fn json(args: &[&str]) -> Value {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let run = analyze(&all);
    assert!(matches!(run.code, 0..=2), "{}", run.stderr);
    serde_json::from_str(&run.stdout).unwrap()
}

/// `--format jsonl` over `args`: every line parsed.
pub fn jsonl(args: &[&str]) -> Vec<Value> {
    let mut all = vec!["--format", "jsonl"];
    all.extend_from_slice(args);
    let run = analyze(&all);
    assert!(matches!(run.code, 0..=2), "{}", run.stderr);
    parse_lines(&run.stdout)
}

/// Each line of JSON-lines output as a JSON object.
pub fn parse_lines(text: &str) -> Vec<Value> {
    assert!(text.ends_with('\n'), "output ends with a newline");
    text.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            assert!(v.is_object(), "not an object: {l}");
            v
        })
        .collect()
}

/// Lines of one `type`.
pub fn of_type<'a>(lines: &'a [Value], kind: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["type"] == kind).collect()
}

/// The table output (exit status 0, 1 or 2 accepted).
pub fn table(args: &[&str]) -> String {
    let run = analyze(args);
    assert!(matches!(run.code, 0..=2), "{}", run.stderr);
    run.stdout
}

/// A fresh, empty directory for one test's files.
pub fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stripwatch-output-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A string field of a JSON value.
pub fn s<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is not a string in {v}"))
}

/// The finding kinds a JSON report lists for a session.
pub fn session_kinds(session: &Value) -> Vec<String> {
    session["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect()
}

/// A session's packets in both directions, as the JSON report counts them.
pub fn session_packets(session: &Value) -> u64 {
    session["client_to_server"]["packets"].as_u64().unwrap()
        + session["server_to_client"]["packets"].as_u64().unwrap()
}

/// Every string inside a JSON value (keys included).
pub fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => {
            for (k, x) in o {
                out.push(k.clone());
                strings(x, out);
            }
        }
        _ => {}
    }
}

/// The bytes of a file.
pub fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// True when `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}
