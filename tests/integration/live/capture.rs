//! `stripwatch live` (cargo feature `live`) on real interfaces: a veth pair
//! in a network namespace each test creates and removes, real traffic
//! replayed onto it with tcpreplay (the lab's recordings of Postfix,
//! Dovecot and real clients), the capture stopped with SIGINT or SIGTERM.
//!
//! The live findings must equal those of `analyze` over the pcap the
//! capture wrote (exactly, line for line), and those of `analyze` over the
//! replayed files themselves (but for packet numbers and times, which the
//! replay changes). Idle sessions must time out while the capture runs;
//! without privileges the error must name the setcap command; started as
//! root or with file capabilities, every thread must run without them once
//! the capture is open (/proc/PID/task/*/status).
//!
//! Ignored unless run with `STRIPWATCH_EXTERNAL_TESTS=1` (root, tcpreplay,
//! iproute2, setpriv, setcap), as `.ci/run` runs them.
use crate::common;

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_stripwatch");
/// Interfaces of the pair inside each namespace: traffic is sent on
/// `SEND` and captured on `CAPTURE`.
const SEND: &str = "swsend";
const CAPTURE: &str = "swcap";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Fails the test unless external tests are enabled, tcpreplay and
/// `tools` run, and the test runs as root.
fn require_setup(tools: &[&str]) {
    common::require_external(&[&["tcpreplay"], tools].concat());
    common::require_root("network namespaces, packet capture");
}

/// Runs a command and returns its stdout; panics when it fails.
fn run(argv: &[&str]) -> String {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {argv:?}: {e}"));
    assert!(
        out.status.success(),
        "{argv:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A network namespace with a veth pair, both ends up; removed on drop
/// (which removes the pair with it).
struct Netns {
    name: String,
}

impl Netns {
    fn new(test: &str) -> Self {
        let name = format!("swlive-{}-{test}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        run(&["ip", "netns", "add", &name]);
        let ns = Netns { name };
        ns.ip(&["link", "add", SEND, "type", "veth", "peer", "name", CAPTURE]);
        for dev in [SEND, CAPTURE, "lo"] {
            ns.ip(&["link", "set", dev, "up"]);
        }
        ns
    }

    fn ip(&self, args: &[&str]) {
        let mut argv = vec!["ip", "-n", &self.name];
        argv.extend_from_slice(args);
        run(&argv);
    }

    /// `ip netns exec NAME argv...` (which execs argv: its pid is argv's).
    fn command(&self, argv: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).args(argv);
        c
    }

    /// Replays captures onto the sending end, in order, at `pps`.
    fn replay(&self, files: &[PathBuf], pps: u32, extra: &[&str]) {
        let mut c = self.command(&["tcpreplay", "-q", "-i", SEND, &format!("--pps={pps}")]);
        c.args(extra).args(files);
        let out = c.output().expect("tcpreplay runs");
        assert!(
            out.status.success(),
            "tcpreplay failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// Text a child writes, collected as it comes.
#[derive(Clone, Default)]
struct Collected(Arc<Mutex<String>>);

impl Collected {
    fn follow(stream: impl std::io::Read + Send + 'static) -> (Self, std::thread::JoinHandle<()>) {
        let c = Collected::default();
        let inner = c.clone();
        let thread = std::thread::spawn(move || {
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                inner.0.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        (c, thread)
    }

    fn text(&self) -> String {
        self.0.lock().unwrap().clone()
    }

    /// Waits until `pred` holds for the text so far.
    fn wait_for(&self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) {
        let start = Instant::now();
        while !pred(&self.text()) {
            assert!(
                start.elapsed() < timeout,
                "timed out waiting for {what}; got:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A running `stripwatch live`.
struct Live {
    child: Child,
    stdout: Collected,
    stderr: Collected,
    readers: Vec<std::thread::JoinHandle<()>>,
}

struct Ended {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Live {
    /// Starts `stripwatch live ARGS` and waits until it captures (it says
    /// so on stderr; with --quiet, give it a moment).
    fn start(mut command: Command) -> Self {
        let quiet = command.get_args().any(|a| a == "--quiet" || a == "-q");
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("stripwatch live starts");
        let (stdout, t1) = Collected::follow(child.stdout.take().unwrap());
        let (stderr, t2) = Collected::follow(child.stderr.take().unwrap());
        let live = Live {
            child,
            stdout,
            stderr,
            readers: vec![t1, t2],
        };
        if quiet {
            std::thread::sleep(Duration::from_secs(2));
        } else {
            live.stderr
                .wait_for("the capture to start", Duration::from_secs(20), |t| {
                    t.contains("capturing on") || t.contains("cannot")
                });
        }
        live
    }

    /// Sends `signal` (INT, TERM) and waits for the end.
    fn stop(mut self, signal: &str) -> Ended {
        run(&["kill", &format!("-{signal}"), &self.child.id().to_string()]);
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > Duration::from_secs(30) {
                let _ = self.child.kill();
                panic!(
                    "stripwatch live did not stop within 30 s of SIG{signal}; stderr:\n{}",
                    self.stderr.text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        for t in self.readers.drain(..) {
            t.join().unwrap();
        }
        Ended {
            code: status.code(),
            stdout: self.stdout.text(),
            stderr: self.stderr.text(),
        }
    }
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn of_type<'a>(lines: &'a [Value], kind: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["type"] == kind).collect()
}

fn analyze_jsonl(paths: &[PathBuf]) -> Vec<Value> {
    let out = Command::new(BIN)
        .args(["analyze", "--format", "jsonl", "--threads", "1"])
        .args(paths)
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "analyze failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    lines(&String::from_utf8(out.stdout).unwrap())
}

/// A finding without what a replay changes (packet numbers, times, file
/// names): what it says, about which session, proven by which bytes.
fn finding_key(f: &Value) -> String {
    let evidence: Vec<String> = f["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{}:{}", e["direction"], e["excerpt"]))
        .collect();
    format!(
        "{} {} {} {} -> {} late={} replaces={} {} | {}",
        f["session"],
        f["kind"],
        f["severity"],
        f["source"],
        f["destination"],
        f["late"],
        f["replaces"],
        f["summary"],
        evidence.join(" | ")
    )
}

/// A session without packet numbers, times and byte counts that differ
/// between replays.
fn session_key(s: &Value) -> String {
    format!(
        "{} {} -> {} {} implicit_tls={} starttls={} tls={} credentials={} findings={} end={}",
        s["id"],
        s["client"],
        s["server"],
        s["protocol"],
        s["implicit_tls"],
        s["starttls"],
        s["tls"],
        s["credentials"],
        s["findings"],
        s["end"]
    )
}

fn keys(lines: &[Value], kind: &str, key: fn(&Value) -> String) -> Vec<String> {
    of_type(lines, kind).into_iter().map(key).collect()
}

/// The lab's client-side recordings, in the order `analyze` reads them
/// (first packet first), so a replay makes the same sessions in the same
/// order.
fn lab_captures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("samples/lab"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".client.pcap"))
        .collect();
    files.sort();
    let inputs = analyze_jsonl(&files);
    let ordered: Vec<PathBuf> = of_type(&inputs, "input")
        .into_iter()
        .map(|i| PathBuf::from(i["file"].as_str().unwrap()))
        .collect();
    assert_eq!(ordered.len(), files.len());
    ordered
}

fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stripwatch-live-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn live_command(ns: &Netns, args: &[&str]) -> Command {
    let mut argv = vec![BIN, "live", "-i", CAPTURE];
    argv.extend_from_slice(args);
    ns.command(&argv)
}

/// What `/proc/PID/task/TID/status` says of each thread of `pid` (the
/// capability sets and no_new_privs belong to a thread): the fields named.
fn thread_status(pid: u32) -> Vec<std::collections::BTreeMap<String, String>> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap();
    tasks
        .map(|t| {
            let status = std::fs::read_to_string(t.unwrap().path().join("status")).unwrap();
            status
                .lines()
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.to_string(), v.trim().to_string()))
                .collect()
        })
        .collect()
}

/// Every thread of a running `live` has no uid 0, no capability and
/// no_new_privs; `dropped_root`: its gids and groups are not root's
/// either and the bounding set is empty too.
fn assert_unprivileged(pid: u32, dropped_root: bool) {
    let threads = thread_status(pid);
    assert!(
        threads.len() >= 3,
        "main, capture and signal threads: {threads:?}"
    );
    for t in &threads {
        let ids = |field: &str| -> Vec<u32> {
            t[field]
                .split_whitespace()
                .map(|n| n.parse().unwrap())
                .collect()
        };
        let uids = ids("Uid");
        assert_eq!(uids.len(), 4, "real, effective, saved, filesystem: {t:?}");
        assert!(uids.iter().all(|&u| u != 0), "{t:?}");
        let mut zero = vec!["CapEff", "CapPrm", "CapInh", "CapAmb"];
        if dropped_root {
            assert!(ids("Gid").iter().all(|&g| g != 0), "{t:?}");
            assert!(!ids("Groups").contains(&0), "{t:?}");
            zero.push("CapBnd");
        }
        for set in zero {
            assert_eq!(t[set], "0000000000000000", "{set}: {t:?}");
        }
        assert_eq!(t["NoNewPrivs"], "1", "{t:?}");
    }
}

#[test]
#[ignore = "needs root + tcpreplay, iproute2: STRIPWATCH_EXTERNAL_TESTS=1"]
fn live_findings_equal_those_of_the_written_and_the_replayed_files() {
    let test = "equal";
    require_setup(&[]);
    let ns = Netns::new(test);
    let dir = scratch(test);
    let written = dir.join("live.pcap");
    let files = lab_captures();
    let live = Live::start(live_command(
        &ns,
        &[
            "--format",
            "jsonl",
            "--write-pcap",
            written.to_str().unwrap(),
            "--stats-interval",
            "1",
        ],
    ));
    ns.replay(&files, 2000, &[]);
    // Started as root, it runs as nobody once the interface and the
    // capture file are open, and still finds all below.
    assert_unprivileged(live.child.id(), true);
    let end = live.stop("INT");
    assert_eq!(
        end.code,
        Some(1),
        "findings at high and above: status 1; stderr:\n{}",
        end.stderr
    );
    assert!(
        end.stderr.contains(
            "dropped root: running as nobody (uid 65534, gid 65534) without capabilities"
        ),
        "{}",
        end.stderr
    );
    assert!(end.stderr.contains("libpcap:"), "{}", end.stderr);

    let live_lines = lines(&end.stdout);
    let from_written = analyze_jsonl(std::slice::from_ref(&written));
    let from_replayed = analyze_jsonl(&files);

    // What libpcap received is what was analyzed and written, nothing
    // dropped, every replayed packet there.
    let input = of_type(&live_lines, "input")[0];
    assert_eq!(input["file"], format!("live:{CAPTURE}"));
    assert_eq!(input["format"], "live");
    let replayed_packets: u64 = of_type(&from_replayed, "input")
        .iter()
        .map(|i| i["packets"].as_u64().unwrap())
        .sum();
    assert_eq!(input["packets"].as_u64(), Some(replayed_packets));
    assert_eq!(input["live"]["received"].as_u64(), Some(replayed_packets));
    assert_eq!(input["live"]["dropped"], 0);
    assert_eq!(
        of_type(&from_written, "input")[0]["packets"],
        input["packets"]
    );

    // The written file: every line but the input line, exactly.
    let without_input = |l: &[Value]| -> Vec<Value> {
        l.iter().filter(|v| v["type"] != "input").cloned().collect()
    };
    assert_eq!(without_input(&live_lines), without_input(&from_written));

    // The replayed files: the same sessions and findings.
    let findings = keys(&live_lines, "finding", finding_key);
    assert!(
        findings.len() > 50,
        "the lab has many findings: {findings:?}"
    );
    assert_eq!(findings, keys(&from_replayed, "finding", finding_key));
    assert_eq!(
        keys(&live_lines, "session", session_key),
        keys(&from_replayed, "session", session_key)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The JSON lines but the input line, without the summary's peak of
/// concurrent flows (with workers, the sum of each one's peak) and the
/// sensor's name.
fn comparable(lines: &[Value]) -> Vec<Value> {
    let mut out: Vec<Value> = lines
        .iter()
        .filter(|v| v["type"] != "input")
        .cloned()
        .collect();
    for line in &mut out {
        if let Some(line) = line.as_object_mut() {
            line.remove("observer");
        }
        if let Some(stats) = line.get_mut("stats").and_then(Value::as_object_mut) {
            stats.remove("peak_flows");
        }
    }
    out
}

#[test]
#[ignore = "needs root + tcpreplay, iproute2: STRIPWATCH_EXTERNAL_TESTS=1"]
fn live_on_two_threads_reports_what_analyze_reports_of_its_pcap() {
    let test = "threads";
    require_setup(&[]);
    let ns = Netns::new(test);
    let dir = scratch(test);
    let written = dir.join("live.pcap");
    // The history is opened as the user live runs as (nobody, after
    // dropping root): in a directory that user can write.
    let history_dir = dir.join("state");
    std::fs::create_dir(&history_dir).unwrap();
    std::fs::set_permissions(
        &history_dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let history = history_dir.join("history.db");
    let files = lab_captures();
    let live = Live::start(live_command(
        &ns,
        &[
            "--format",
            "jsonl",
            "--threads",
            "2",
            "--write-pcap",
            written.to_str().unwrap(),
            "--stats-interval",
            "1",
            "--history",
            history.to_str().unwrap(),
            "--sensor",
            "lab-tap",
        ],
    ));
    ns.replay(&files, 2000, &[]);
    let end = live.stop("TERM");
    assert_eq!(end.code, Some(1), "stderr:\n{}", end.stderr);
    assert!(end.stderr.contains("libpcap:"), "{}", end.stderr);
    let live_lines = lines(&end.stdout);
    let from_written = analyze_jsonl(std::slice::from_ref(&written));
    let from_replayed = analyze_jsonl(&files);

    // Every packet received was analyzed and written.
    let input = of_type(&live_lines, "input")[0];
    assert_eq!(input["format"], "live");
    assert_eq!(input["live"]["dropped"], 0);
    assert_eq!(input["packets"], input["live"]["received"]);
    assert_eq!(
        of_type(&from_written, "input")[0]["packets"],
        input["packets"]
    );
    // What two workers said, line for line, is what one thread says of
    // the written file: sessions, ids, findings, order, counters.
    assert_eq!(comparable(&live_lines), comparable(&from_written));
    let findings = keys(&live_lines, "finding", finding_key);
    assert!(findings.len() > 50, "{findings:?}");
    assert_eq!(findings, keys(&from_replayed, "finding", finding_key));
    // The history holds what the observation lines say, as this sensor's.
    let observed: Vec<&Value> = of_type(&live_lines, "server_observation");
    assert!(observed.iter().all(|o| o["observer"]["name"] == "lab-tap"));
    let sessions: i64 = observed
        .iter()
        .map(|o| o["sessions"].as_i64().unwrap())
        .sum();
    let db = rusqlite::Connection::open(&history).unwrap();
    let (stored, sensors): (i64, i64) = db
        .query_row(
            "SELECT SUM(sessions), COUNT(DISTINCT sensor) FROM observations WHERE sensor = 'lab-tap'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(sessions > 50, "{sessions}");
    assert_eq!((stored, sensors), (sessions, 1));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "needs root + tcpreplay, iproute2: STRIPWATCH_EXTERNAL_TESTS=1"]
fn idle_sessions_time_out_while_capturing_and_findings_stream_as_lines() {
    let test = "idle";
    require_setup(&[]);
    let ns = Netns::new(test);
    // A session that never ends (the server's side was not captured): it
    // must end by the idle timeout, from the wall clock, with no packet
    // after it.
    let live = Live::start(live_command(
        &ns,
        &["--format", "jsonl", "--idle-timeout", "2", "--quiet"],
    ));
    ns.replay(
        &[repo().join("samples/transport/smtp-one-sided.pcap")],
        1000,
        &[],
    );
    live.stdout
        .wait_for("the idle session's line", Duration::from_secs(15), |t| {
            t.contains("\"type\":\"session\"")
        });
    let end = live.stop("TERM");
    assert_eq!(end.code, Some(0), "{}", end.stderr);
    assert!(end.stderr.is_empty(), "--quiet: {}", end.stderr);
    let l = lines(&end.stdout);
    let sessions = of_type(&l, "session");
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["end"], "timeout");
    assert_eq!(of_type(&l, "summary")[0]["timed_out"], 1);

    // The table format: one line per finding as soon as its session ends
    // (FIN), before any signal; the table report after SIGINT.
    let live = Live::start(live_command(&ns, &["--stats-interval", "0"]));
    ns.replay(
        &[repo().join("samples/lab/smtp-asa.client.pcap")],
        1000,
        &[],
    );
    live.stdout
        .wait_for("the finding lines", Duration::from_secs(15), |t| {
            t.contains("HIGH     starttls-stripped") && t.contains("LOW      banner-masked")
        });
    assert!(!live.stdout.text().contains("Verdict"));
    let end = live.stop("INT");
    assert_eq!(end.code, Some(1), "{}", end.stderr);
    let (streamed, report) = end.stdout.split_once("\nstripwatch: ").unwrap();
    for line in streamed.lines() {
        assert!(
            line.contains(" 192.0.2.10:") && line.contains(" → 192.0.2.1:587 (session "),
            "{line}"
        );
        assert!(line.chars().all(|c| !c.is_control()), "{line:?}");
    }
    assert!(report.contains("Verdict"), "{report}");
    assert!(report.contains("live:swcap"), "{report}");
    assert!(end.stderr.contains("(stopped)"), "{}", end.stderr);
}

#[test]
#[ignore = "needs root + tcpreplay, iproute2: STRIPWATCH_EXTERNAL_TESTS=1"]
fn rotated_capture_files_hold_the_same_traffic() {
    let test = "rotate";
    require_setup(&[]);
    let ns = Netns::new(test);
    let dir = scratch(test);
    // The pcap files after the first and the hash files are created after
    // live dropped root to nobody (like tcpdump -Z): the directory must be
    // nobody's.
    run(&["chown", "nobody:", dir.to_str().unwrap()]);
    let written = dir.join("rot.pcap");
    let hashes = dir.join("h.txt");
    let files = lab_captures();
    let live = Live::start(live_command(
        &ns,
        &[
            "--format",
            "jsonl",
            "--write-pcap",
            written.to_str().unwrap(),
            "--rotate-mb",
            "1",
            "--hashes",
            hashes.to_str().unwrap(),
        ],
    ));
    // About 1.3 MB: four rounds of the lab (the same connections again,
    // new sessions each round).
    ns.replay(&files, 5000, &["--loop=4"]);
    let end = live.stop("INT");
    assert_eq!(end.code, Some(1), "{}", end.stderr);
    let mut parts = vec![written.clone()];
    for n in 1.. {
        let mut name = written.clone().into_os_string();
        name.push(format!(".{n}"));
        let path = PathBuf::from(name);
        if !path.exists() {
            break;
        }
        parts.push(path);
    }
    assert!(parts.len() >= 2, "1.3 MB in 1 MB files: {parts:?}");
    use std::os::unix::fs::MetadataExt as _;
    let owners: Vec<u32> = parts
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().uid())
        .collect();
    assert_eq!(owners[0], 0, "the first file is opened before the drop");
    assert!(owners[1..].iter().all(|&u| u == 65534), "{owners:?}");
    let hash_lines = std::fs::read_to_string(&hashes).unwrap().lines().count();
    assert!(hash_lines > 0, "the lab has CRAM-MD5 and NTLM logins");
    // --hashes FILE is created new before the drop, like the first pcap.
    assert_eq!(std::fs::metadata(&hashes).unwrap().uid(), 0);
    for p in &parts {
        assert!(
            std::fs::metadata(p).unwrap().len() <= 1_000_000,
            "{}",
            p.display()
        );
    }
    let live_lines = lines(&end.stdout);
    let from_parts = analyze_jsonl(&parts);
    let written_packets: u64 = of_type(&from_parts, "input")
        .iter()
        .map(|i| i["packets"].as_u64().unwrap())
        .sum();
    assert_eq!(
        Some(written_packets),
        of_type(&live_lines, "input")[0]["packets"].as_u64()
    );
    assert_eq!(
        keys(&live_lines, "finding", finding_key),
        keys(&from_parts, "finding", finding_key)
    );
    assert_eq!(
        keys(&live_lines, "session", session_key),
        keys(&from_parts, "session", session_key)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "needs root + tcpreplay, iproute2, setpriv, setcap: STRIPWATCH_EXTERNAL_TESTS=1"]
fn listing_and_privileges() {
    let test = "privileges";
    require_setup(&["setpriv"]);
    let ns = Netns::new(test);
    let list = ns.command(&[BIN, "live", "--list"]).output().unwrap();
    assert!(list.status.success());
    let list = String::from_utf8(list.stdout).unwrap();
    assert!(list.lines().any(|l| l.starts_with("swcap [up")), "{list}");
    assert!(list.lines().any(|l| l.starts_with("lo [up")), "{list}");

    let unknown = ns
        .command(&[BIN, "live", "-i", "nonesuch"])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no such interface"));

    // As root: no user to drop to, or root itself, is fatal, never a
    // capture with privileges.
    for (user, says) in [
        ("nonesuch", "no such user nonesuch"),
        ("root", "must be an unprivileged user"),
    ] {
        let out = ns
            .command(&[BIN, "live", "-i", CAPTURE, "--user", user])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(says) && stderr.contains("not capturing with them"),
            "{stderr}"
        );
    }
    // Hash files are written at the end, after the drop: a directory only
    // root can write is refused at the start.
    let private = scratch("privileges-private");
    run(&["chmod", "700", private.to_str().unwrap()]);
    let hashes = private.join("h.txt");
    let out = ns
        .command(&[
            BIN,
            "live",
            "-i",
            CAPTURE,
            "--hashes",
            hashes.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--hashes creates files next to") && stderr.contains("as uid 65534"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&private);

    // A copy nobody may run, without and then with the capabilities.
    let dir = scratch(test);
    run(&["chmod", "755", dir.to_str().unwrap()]);
    let copy = dir.join("stripwatch");
    std::fs::copy(BIN, &copy).unwrap();
    run(&["chmod", "755", copy.to_str().unwrap()]);
    let as_nobody = |extra: &[&str]| {
        let mut argv = vec![
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            copy.to_str().unwrap(),
            "live",
            "-i",
            CAPTURE,
            "--stats-interval",
            "0",
        ];
        argv.extend_from_slice(extra);
        ns.command(&argv)
    };
    let denied = as_nobody(&[]).output().unwrap();
    let stderr = String::from_utf8_lossy(&denied.stderr);
    assert_eq!(denied.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "sudo setcap cap_net_raw,cap_net_admin=ep {}",
            copy.display()
        )),
        "{stderr}"
    );
    if Command::new("setcap").arg("-v").output().is_err() {
        panic!("setcap is missing (Debian: apt-get install libcap2-bin)");
    }
    run(&[
        "setcap",
        "cap_net_raw,cap_net_admin=ep",
        copy.to_str().unwrap(),
    ]);
    let live = Live::start(as_nobody(&["--format", "jsonl"]));
    ns.replay(
        &[repo().join("samples/lab/smtp-asa.client.pcap")],
        1000,
        &[],
    );
    // The file capabilities served to open the interface, and are gone.
    assert_unprivileged(live.child.id(), false);
    let end = live.stop("INT");
    assert_eq!(end.code, Some(1), "{}", end.stderr);
    assert!(
        end.stderr.contains("dropped every capability"),
        "{}",
        end.stderr
    );
    let l = lines(&end.stdout);
    assert!(
        of_type(&l, "finding")
            .iter()
            .any(|f| f["kind"] == "starttls-stripped"),
        "{}",
        end.stdout
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The files of an evidence directory, by name.
fn evidence_files(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let mode =
                std::os::unix::fs::PermissionsExt::mode(&e.metadata().unwrap().permissions());
            assert_eq!(mode & 0o777, 0o600, "{:?}", e.path());
            let name = e.file_name().into_string().unwrap();
            (name, std::fs::read(e.path()).unwrap())
        })
        .collect()
}

#[test]
#[ignore = "needs root + tcpreplay, iproute2: STRIPWATCH_EXTERNAL_TESTS=1"]
fn live_evidence_equals_what_analyze_writes_of_its_pcap() {
    let test = "evidence";
    require_setup(&[]);
    let ns = Netns::new(test);
    let dir = scratch(test);
    let written = dir.join("live.pcap");
    // Opened as root, written as nobody (the user live becomes): a
    // directory only nobody can write.
    let live_dir = dir.join("live-evidence");
    std::fs::create_dir(&live_dir).unwrap();
    std::fs::set_permissions(
        &live_dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    std::os::unix::fs::chown(&live_dir, Some(65534), Some(65534)).unwrap();
    let files = lab_captures();
    let live = Live::start(live_command(
        &ns,
        &[
            "--format",
            "jsonl",
            "--threads",
            "2",
            "--write-pcap",
            written.to_str().unwrap(),
            "--write-evidence",
            live_dir.to_str().unwrap(),
        ],
    ));
    ns.replay(&files, 2000, &[]);
    let end = live.stop("INT");
    assert_eq!(end.code, Some(1), "stderr:\n{}", end.stderr);
    assert!(
        end.stderr.contains("packets of flagged sessions to"),
        "{}",
        end.stderr
    );
    assert!(!end.stderr.contains("no longer held"), "{}", end.stderr);
    let input = of_type(&lines(&end.stdout), "input")[0].clone();
    assert_eq!(input["live"]["dropped"], 0);

    let analyze_dir = dir.join("analyze-evidence");
    let out = Command::new(BIN)
        .args([
            "analyze",
            "--quiet",
            "--format",
            "jsonl",
            "--write-evidence",
        ])
        .arg(format!("{}/", analyze_dir.display()))
        .arg(&written)
        .output()
        .unwrap();
    assert!(out.status.code() == Some(1), "{out:?}");

    let from_live = evidence_files(&live_dir);
    let from_analyze = evidence_files(&analyze_dir);
    assert!(
        from_live.len() > 20,
        "the lab has many flagged sessions: {:?}",
        from_live.keys()
    );
    assert_eq!(
        from_live.keys().collect::<Vec<_>>(),
        from_analyze.keys().collect::<Vec<_>>()
    );
    for (name, bytes) in &from_live {
        assert!(
            bytes == &from_analyze[name],
            "{name}: live and analyze differ"
        );
    }
    // The lab's passwords cross in clear in the capture, never in the evidence.
    let raw = std::fs::read(&written).unwrap();
    let secret = b"pw-lab-";
    assert!(raw.windows(secret.len()).any(|w| w == secret));
    for (name, bytes) in &from_live {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret),
            "{name} holds a password"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
