//! Inputs that are not plain capture files: in a directory only regular
//! files are read (a FIFO there is skipped, never waited on); a pipe or
//! FIFO named on the command line is read as a stream like `-`, losing
//! nothing; an entry that cannot be read is named and makes the exit status
//! 2 while the other inputs are still analyzed.

use super::support::{sample, scratch};
use serde_json::Value;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_stripwatch");
/// Far beyond the second these runs take: only a hang reaches it.
const DEADLINE: Duration = Duration::from_secs(120);

/// Runs `command` to its end, or kills it and fails at the deadline (a
/// run that waits on a FIFO would otherwise hang the test suite).
fn run_with_deadline(mut command: Command) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("stripwatch still running after {DEADLINE:?}: it waits on something");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

fn analyze(args: &[&str]) -> Output {
    let mut command = Command::new(BIN);
    command.arg("analyze").args(args);
    run_with_deadline(command)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A JSON report with every input name that `is_stream_name` accepts
/// (wherever it appears) replaced by `file`.
fn renamed(out: &Output, is_stream_name: &dyn Fn(&str) -> bool, file: &str) -> Value {
    fn walk(v: &mut Value, is_stream_name: &dyn Fn(&str) -> bool, file: &str) {
        match v {
            Value::String(s) if is_stream_name(s) => *s = file.to_string(),
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, is_stream_name, file)),
            Value::Object(o) => o.values_mut().for_each(|x| walk(x, is_stream_name, file)),
            _ => {}
        }
    }
    let mut doc: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(out)));
    walk(&mut doc, is_stream_name, file);
    doc
}

/// The JSON report of `out` as it is.
fn report(out: &Output) -> Value {
    renamed(out, &|_| false, "")
}

/// Removes every `file` field.
fn without_files(v: &mut Value) {
    match v {
        Value::Array(a) => a.iter_mut().for_each(without_files),
        Value::Object(o) => {
            o.remove("file");
            o.values_mut().for_each(without_files);
        }
        _ => {}
    }
}

fn mkfifo(path: &Path) {
    let made = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(made.success(), "mkfifo {}", path.display());
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn a_fifo_or_socket_in_a_directory_is_skipped_not_waited_on() {
    let dir = scratch("fifo-in-dir");
    let auth = sample("findings/smtp-auth.pcap");
    std::fs::copy(&auth, dir.join("a.pcap")).unwrap();
    mkfifo(&dir.join("b-fifo.pcap"));
    std::os::unix::fs::symlink(dir.join("b-fifo.pcap"), dir.join("c-link-to-fifo.pcap")).unwrap();
    let _socket = std::os::unix::net::UnixListener::bind(dir.join("d-socket.pcap")).unwrap();
    let out = analyze(&["--format", "json", p(&dir)]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    for skipped in ["b-fifo.pcap", "c-link-to-fifo.pcap", "d-socket.pcap"] {
        assert!(
            err.lines()
                .any(|l| l.contains(skipped) && l.contains("not a regular file")),
            "{skipped}: {err}"
        );
    }
    let alone = analyze(&["--format", "json", &auth]);
    let copy = dir.join("a.pcap");
    let doc = renamed(&out, &|s| s == p(&copy), &auth);
    assert!(doc == report(&alone), "the directory's report differs");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_fifo_named_on_the_command_line_is_read_as_a_stream() {
    let dir = scratch("fifo-path");
    let auth = sample("findings/smtp-auth.pcap");
    let clean = sample("findings/clean-starttls.pcap");
    let fifo = dir.join("capture.fifo");
    mkfifo(&fifo);
    let bytes = std::fs::read(&auth).unwrap();
    // The writer waits for the reader to open the FIFO, as tcpdump would.
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(&fifo, bytes))
    };
    let out = analyze(&["--format", "json", p(&fifo), &clean]);
    writer.join().unwrap().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // The stream is read first, under its own name.
    assert_eq!(report(&out)["inputs"][0]["file"], p(&fifo));
    // Nothing lost to a peek: the same report as the two files give.
    let files = analyze(&["--format", "json", &auth, &clean]);
    let stream = renamed(&out, &|s| s == p(&fifo), &auth);
    assert!(stream == report(&files), "the stream's report differs");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_pipe_from_process_substitution_is_read_whole() {
    if Command::new("bash").arg("--version").output().is_err() {
        panic!("bash is needed for <(...)");
    }
    let auth = sample("findings/smtp-auth.pcap");
    for source in ["cat", "gzip -c"] {
        let mut command = Command::new("bash");
        command.arg("-c").arg(format!(
            "exec \"$0\" analyze --format json <({source} \"$1\")"
        ));
        command.args([BIN, &auth]);
        let out = run_with_deadline(command);
        assert_eq!(out.status.code(), Some(1), "{source}: {}", stderr(&out));
        let file = analyze(&["--format", "json", &auth]);
        let stream = renamed(&out, &|s| s.starts_with("/dev/fd/"), &auth);
        let mut file = report(&file);
        // Only the container differs: gzip or not.
        file["inputs"][0]["gzip"] = stream["inputs"][0]["gzip"].clone();
        assert!(stream == file, "{source}: the stream's report differs");
    }
    // Evidence needs a second read, which a pipe cannot give.
    let mut command = Command::new("bash");
    command
        .arg("-c")
        .arg("exec \"$0\" analyze --write-evidence /nonexistent-stripwatch/e.pcap <(cat \"$1\")");
    command.args([BIN, &auth]);
    let out = run_with_deadline(command);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("a pipe"), "{}", stderr(&out));
}

/// A directory with one capture, one unreadable capture and one unreadable
/// subdirectory; run as a user the permissions apply to.
#[test]
fn unreadable_entries_are_named_and_the_rest_is_analyzed() {
    let root = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
    let dir = scratch("unreadable");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let inputs = dir.join("inputs");
    let locked = inputs.join("locked");
    std::fs::create_dir_all(&locked).unwrap();
    let auth = sample("findings/smtp-auth.pcap");
    let clean = sample("findings/clean-starttls.pcap");
    std::fs::copy(&auth, inputs.join("a.pcap")).unwrap();
    std::fs::copy(&clean, inputs.join("b-secret.pcap")).unwrap();
    std::fs::copy(&clean, locked.join("c.pcap")).unwrap();
    let lone = dir.join("lone.pcap");
    std::fs::copy(&clean, &lone).unwrap();
    for (path, mode) in [
        (&inputs, 0o755),
        (&inputs.join("a.pcap"), 0o644),
        (&inputs.join("b-secret.pcap"), 0o000),
        (&locked, 0o000),
        (&lone, 0o000),
    ] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let run = |args: &[&str]| {
        let mut command = Command::new(BIN);
        // Root reads everything: as root the run is made as nobody:nogroup
        // (CI), without supplementary groups (std drops them for root).
        if root {
            command.uid(65534).gid(65534);
        }
        command.arg("analyze").args(args);
        run_with_deadline(command)
    };
    for fail_on in ["high", "never"] {
        let out = run(&[
            "--format",
            "json",
            "--fail-on",
            fail_on,
            p(&inputs),
            p(&lone),
        ]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "--fail-on {fail_on}: {}",
            stderr(&out)
        );
        let err = stderr(&out);
        for named in ["b-secret.pcap", "locked", "lone.pcap"] {
            assert!(
                err.lines()
                    .any(|l| l.contains(named) && l.contains("ermission denied")),
                "{named}: {err}"
            );
        }
        // a.pcap was still analyzed (with two inputs, packets name their
        // file; alone they do not).
        let mut doc = report(&out);
        let mut alone = report(&analyze(&["--format", "json", &auth]));
        without_files(&mut doc);
        without_files(&mut alone);
        assert!(doc["sessions"] == alone["sessions"]);
        assert!(doc["findings"] == alone["findings"]);
    }
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
