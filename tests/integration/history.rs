//! The server history (`analyze --history PATH|URL --sensor NAME`,
//! `stripwatch history`) over `samples/history/`, through the binary:
//!
//! - week2.pcap alone proves nothing; after week1.pcap in the same history
//!   every week2 session is `starttls-stripped`, proof `history`, with the
//!   exact count and times of week1's offers; the observation lines' counts
//!   are exact; the verdict says it.
//! - outside.pcap (sensor `outside`) then week2.pcap (sensor `inside`):
//!   proof `other-sensor` naming both; with inside-cert.pcap, the timeline
//!   has `stripped-path` and `certificate-differs` (JSON and table).
//! - The SQLite file: created 0600, reopened, counts adding up, a version-1
//!   file upgraded with its rows kept; a newer, corrupt or foreign file and a
//!   symbolic link refused with exit 2, the file untouched and no report
//!   created; no password in the file or in the observation lines.
//! - `postgres`: a throwaway PostgreSQL cluster, several sensors writing at
//!   once (ignored unless `STRIPWATCH_EXTERNAL_TESTS=1`).

mod postgres;

use crate::gen_samples::conversation::Conversation;
use crate::gen_samples::history as h;
use crate::output::support::{Run, analyze, of_type, parse_lines, sample, scratch};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;

const WEEK1: &str = "history/week1.pcap";
const WEEK2: &str = "history/week2.pcap";
const OUTSIDE: &str = "history/outside.pcap";
const INSIDE_CERT: &str = "history/inside-cert.pcap";

/// The servers of the samples, with their protocol and STARTTLS word.
const SERVERS: [(&str, &str, &str); 3] = [
    (h::MX, "smtp", "STARTTLS"),
    (h::IMAP, "imap", "STARTTLS"),
    (h::POP3, "pop3", "STLS"),
];

/// SHA-256 of the MX's certificate (tests/data/certificate/README.md) and of
/// the middlebox's.
const LEAF_SHA256: &str = "1a3aec1b81e1f1bd05ef91a93a0d46218b87294b1f158173da127ac09cbb9fbd";
const INTERCEPT_SHA256: &str = "0011223a55ae2d26f02595dce0e27b0ededa3cc3c2f2a45de0f3278357c3d3d9";

/// `analyze --history LOCATION --sensor SENSOR --format FORMAT SAMPLE`.
fn with_history(location: &str, sensor: &str, format: &str, name: &str) -> Run {
    let run = analyze(&[
        "--history",
        location,
        "--sensor",
        sensor,
        "--format",
        format,
        &sample(name),
    ]);
    assert!(matches!(run.code, 0 | 1), "{name}: {}", run.stderr);
    run
}

fn json_of(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap()
}

/// `stripwatch history ARGS...`.
fn history(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_stripwatch"))
        .arg("history")
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    Run {
        code: out.status.code().expect("exit status"),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The conversations of a sample to `server`, in time order.
fn sessions_to(name: &str, server: &str) -> Vec<Conversation> {
    let mut out: Vec<Conversation> = crate::gen_samples::find(name)
        .conversations
        .into_iter()
        .filter(|c| c.server.to_string() == server)
        .collect();
    out.sort_by_key(|c| c.start());
    out
}

/// First packet of the first and last packet of the last session of `name`
/// to `server`, as the reports write them: a session ends with the second
/// FIN, the ACK after it is a segment `after_close` (docs/jsonl.md).
fn span(name: &str, server: &str) -> (String, String) {
    let sessions = sessions_to(name, server);
    let first = sessions.first().unwrap().start();
    let captured = sessions.last().unwrap().captured();
    let last = captured
        .iter()
        .rev()
        .find(|p| p.packet.fin || p.packet.rst || !p.packet.payload.is_empty())
        .unwrap()
        .ts;
    (first.to_string(), last.to_string())
}

/// The `starttls-stripped` findings of a JSON report, by session id.
fn stripped(report: &Value) -> Vec<&Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "starttls-stripped")
        .collect()
}

/// The server of session `id` in a JSON report.
fn server_of(report: &Value, id: &Value) -> String {
    report["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == *id)
        .unwrap()["server"]
        .as_str()
        .unwrap()
        .to_string()
}

fn kinds(report: &Value, kind: &str) -> usize {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == kind)
        .count()
}

#[test]
fn week2_alone_proves_nothing_with_or_without_a_history() {
    let dir = scratch("history-week2-alone");
    let plain = json_of(&{
        let run = analyze(&["--format", "json", &sample(WEEK2)]);
        assert!(matches!(run.code, 0 | 1), "{}", run.stderr);
        run
    });
    let db = dir.join("h.db");
    let fresh = json_of(&with_history(db.to_str().unwrap(), "inside", "json", WEEK2));
    for report in [&plain, &fresh] {
        assert_eq!(report["sessions"].as_array().unwrap().len(), 9);
        assert_eq!(kinds(report, "starttls-stripped"), 0);
        assert_eq!(kinds(report, "no-starttls-offered"), 9);
        assert_eq!(kinds(report, "cleartext-credentials"), 9);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The `server_observation` lines of a JSON-lines report, by server.
fn observations(lines: &[Value]) -> Vec<&Value> {
    let mut out = of_type(lines, "server_observation");
    out.sort_by_key(|o| o["server"].as_str().unwrap().to_string());
    out
}

#[test]
fn week1_then_week2_proves_every_missing_offer_from_the_history() {
    let dir = scratch("history-weeks");
    let db = dir.join("h.db");
    let db = db.to_str().unwrap();
    let week1 = parse_lines(&with_history(db, "dmz-tap", "jsonl", WEEK1).stdout);
    assert_eq!(of_type(&week1, "finding").len(), 0);
    let seen = observations(&week1);
    assert_eq!(seen.len(), 3, "one observation per server: {seen:?}");
    for (o, (server, protocol, _)) in seen.iter().zip(SERVERS) {
        let (first, last) = span(WEEK1, server);
        assert_eq!(o["server"], server);
        assert_eq!(o["network"]["protocol"], protocol);
        assert_eq!(o["observer"]["name"], "dmz-tap");
        assert_eq!(o["starttls"], "offered");
        assert_eq!(o["sessions"], 3);
        assert_eq!(
            (o["first_seen"].as_str(), o["last_seen"].as_str()),
            (Some(&first[..]), Some(&last[..]))
        );
        let (version, certificate) = if protocol == "smtp" {
            ("TLS 1.2", LEAF_SHA256)
        } else {
            ("TLS 1.3", "")
        };
        assert_eq!(o["tls_version"], version, "{server}");
        assert_eq!(o["certificate_sha256"], certificate, "{server}");
    }
    assert!(
        seen[0]["certificate_subject"]
            .as_str()
            .unwrap()
            .starts_with("CN=mail.example.net,O=Example Mail")
    );

    let run = with_history(db, "dmz-tap", "json", WEEK2);
    let report = json_of(&run);
    assert_eq!(kinds(&report, "no-starttls-offered"), 0);
    let found = stripped(&report);
    assert_eq!(found.len(), 9, "every week2 session");
    for f in found {
        let server = server_of(&report, &f["session"]);
        let (first, last) = span(WEEK1, &server);
        assert_eq!(f["proof"], "history", "{f}");
        assert_eq!(
            f["history"],
            json!({"sensors": ["dmz-tap"], "sessions": 3, "first_seen": first, "last_seen": last}),
        );
        let summary = f["summary"].as_str().unwrap();
        assert!(
            summary.contains(&format!(
                "offered it in 3 sessions from {first} to {last}, seen by sensor dmz-tap"
            )),
            "{summary}"
        );
    }

    // The third run (week2 again, as JSON lines): the observations of this
    // run only, and the history now holds week2 once.
    let lines = parse_lines(&with_history(db, "dmz-tap", "jsonl", WEEK2).stdout);
    let seen = observations(&lines);
    assert_eq!(seen.len(), 3);
    for (o, (server, _, _)) in seen.iter().zip(SERVERS) {
        let (first, last) = span(WEEK2, server);
        assert_eq!(
            (&o["starttls"], &o["sessions"]),
            (&json!("absent"), &json!(3))
        );
        assert_eq!(
            (o["first_seen"].as_str(), o["last_seen"].as_str()),
            (Some(&first[..]), Some(&last[..]))
        );
        assert_eq!(
            (&o["tls_version"], &o["certificate_sha256"]),
            (&json!(""), &json!(""))
        );
    }

    // The table says it in words, for each server.
    let table = with_history(db, "dmz-tap", "table", WEEK2).stdout;
    for (server, _, keyword) in SERVERS {
        let sentence = format!(
            "all 3 sessions to {server} had {keyword} stripped on the path (the server offered it in \
             earlier sessions: history)"
        );
        assert!(table.contains(&sentence), "{sentence}\n{table}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn another_sensor_at_the_same_time_proves_the_stripped_path_and_the_certificate_differs() {
    let dir = scratch("history-sensors");
    let db = dir.join("h.db");
    let db = db.to_str().unwrap();
    assert_eq!(
        kinds(
            &json_of(&with_history(db, "outside", "json", OUTSIDE)),
            "starttls-stripped"
        ),
        0
    );
    let report = json_of(&with_history(db, "inside", "json", WEEK2));
    let found = stripped(&report);
    assert_eq!(found.len(), 9);
    for f in &found {
        let server = server_of(&report, &f["session"]);
        let (first, last) = span(OUTSIDE, &server);
        // The MX has a fourth session outside: the intercepted one's.
        let sessions = sessions_to(OUTSIDE, &server).len();
        assert_eq!(sessions, if server == h::MX { 4 } else { 3 });
        assert_eq!(f["proof"], "other-sensor", "{f}");
        assert_eq!(
            f["history"],
            json!({"sensors": ["outside"], "sessions": sessions, "first_seen": first, "last_seen": last}),
        );
        let summary = f["summary"].as_str().unwrap();
        for words in [
            "reached sensor inside without",
            "at the same time the server offered it to sensor outside",
            "stripped on the path to inside",
        ] {
            assert!(summary.contains(words), "{words}: {summary}");
        }
    }
    assert_eq!(
        kinds(
            &json_of(&with_history(db, "inside", "json", INSIDE_CERT)),
            "starttls-stripped"
        ),
        0
    );

    let run = history(&[db, "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let timeline: Value = serde_json::from_str(&run.stdout).unwrap();
    let servers = timeline["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 3);
    for (t, (server, protocol, _)) in servers.iter().zip(SERVERS) {
        assert_eq!(
            (&t["server"], &t["protocol"]),
            (&json!(server), &json!(protocol))
        );
        let events = t["events"].as_array().unwrap();
        let paths: Vec<&Value> = events
            .iter()
            .filter(|e| e["kind"] == "stripped-path")
            .collect();
        assert_eq!(paths.len(), 1, "{server}: {events:?}");
        assert_eq!(paths[0]["sensors"], json!(["outside", "inside"]));
        assert!(
            paths[0]["detail"]
                .as_str()
                .unwrap()
                .ends_with("stripped on the path to inside")
        );
        let differs: Vec<&Value> = events
            .iter()
            .filter(|e| e["kind"] == "certificate-differs")
            .collect();
        let views = t["sensors"].as_array().unwrap();
        if server == h::MX {
            assert_eq!(differs.len(), 1, "{events:?}");
            assert_eq!(differs[0]["sensors"], json!(["inside", "outside"]));
            let detail = differs[0]["detail"].as_str().unwrap();
            assert!(
                detail.contains(LEAF_SHA256) && detail.contains(INTERCEPT_SHA256),
                "{detail}"
            );
            assert!(detail.contains("O=Inspection Appliance"), "{detail}");
            assert_eq!(views[0]["starttls"], json!({"absent": 3, "offered": 1}));
            assert_eq!(views[1]["starttls"], json!({"offered": 4}));
        } else {
            assert!(differs.is_empty(), "{events:?}");
            assert_eq!(views[0]["starttls"], json!({"absent": 3}));
            assert_eq!(views[1]["starttls"], json!({"offered": 3}));
        }
    }

    let table = history(&[db]);
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert_eq!(
        table.stdout.matches("stripped on one path").count(),
        3,
        "{}",
        table.stdout
    );
    assert_eq!(
        table
            .stdout
            .matches("stripped on the path to inside")
            .count(),
        3
    );
    assert_eq!(
        table
            .stdout
            .matches("certificate differs between sensors")
            .count(),
        1
    );
    assert!(table.stdout.contains(INTERCEPT_SHA256) && table.stdout.contains(LEAF_SHA256));

    // The same timeline as one page: the report's policy, no script of
    // its own beyond the page's, the same changes.
    let page = history(&[db, "--format", "html"]);
    assert_eq!(page.code, 0, "{}", page.stderr);
    let html = &page.stdout;
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains("Content-Security-Policy"));
    assert_eq!(html.matches("<script").count(), 1);
    assert_eq!(html.matches("stripped on one path").count(), 3);
    assert_eq!(
        html.matches("certificate differs between sensors").count(),
        1
    );
    assert!(html.contains(INTERCEPT_SHA256) && html.contains(LEAF_SHA256));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Sessions of one server (address, port), sensor and STARTTLS value.
pub(crate) type Tally = (String, i64, String, String, i64);

/// `SELECT sensor, starttls, SUM(sessions)` by server, and the row count.
fn tallies(db: &Path) -> (Vec<Tally>, i64) {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT server, port, sensor, starttls, SUM(sessions) FROM observations
             GROUP BY server, port, sensor, starttls ORDER BY server, port, sensor, starttls",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .collect::<rusqlite::Result<Vec<_>>>()
        .unwrap();
    let count = conn
        .query_row("SELECT COUNT(*) FROM observations", [], |r| r.get(0))
        .unwrap();
    (rows, count)
}

fn row(server: &str, sensor: &str, starttls: &str, sessions: i64) -> Tally {
    let (ip, port) = server.split_once(':').unwrap();
    (
        ip.into(),
        port.parse().unwrap(),
        sensor.into(),
        starttls.into(),
        sessions,
    )
}

#[test]
fn the_file_is_private_reopened_and_its_counts_add_up() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("history-file");
    let db = dir.join("h.db");
    let location = db.to_str().unwrap();
    with_history(location, "dmz-tap", "json", WEEK1);
    let mode = std::fs::metadata(&db).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    // The same capture again: its observations are not counted twice.
    let again = with_history(location, "dmz-tap", "json", WEEK1);
    assert!(
        again.stderr.contains("not counted twice"),
        "{}",
        again.stderr
    );
    let report = json_of(&with_history(location, "dmz-tap", "json", WEEK2));
    for f in stripped(&report) {
        assert_eq!(f["history"]["sessions"], 3, "{f}");
    }
    assert_eq!(
        std::fs::metadata(&db).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let (rows, count) = tallies(&db);
    let mut want = Vec::new();
    for (server, _, _) in SERVERS {
        want.push(row(server, "dmz-tap", "absent", 3));
        want.push(row(server, "dmz-tap", "offered", 3));
    }
    want.sort();
    assert_eq!(rows, want);
    assert_eq!(count, 6, "one row per server and what it showed");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let version: String = conn
        .query_row(
            "SELECT value FROM stripwatch_meta WHERE name = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(version, "3");
    // Nothing but the file itself is left beside it (no journal).
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["h.db"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A copy of the classic pcap `name` (little-endian, microseconds) with
/// every packet `secs` seconds later: the same servers and sessions, other
/// times (so not the batch of observations the original is).
pub(crate) fn shifted(name: &str, secs: u32, dir: &std::path::Path) -> String {
    let mut bytes = std::fs::read(sample(name)).unwrap();
    assert_eq!(bytes[..4], [0xd4, 0xc3, 0xb2, 0xa1], "a little-endian pcap");
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let ts = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        bytes[at..at + 4].copy_from_slice(&(ts + secs).to_le_bytes());
        let len = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        at += 16 + len;
    }
    assert_eq!(at, bytes.len());
    let path = dir.join(format!("{secs}-{}", name.replace('/', "-")));
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn processes_sharing_one_sqlite_file_at_once_lose_and_double_count_nothing() {
    let dir = scratch("history-sqlite-writers");
    let db = dir.join("h.db");
    let db = db.to_str().unwrap();
    let captures: Vec<String> = (1..=4).map(|k| shifted(WEEK2, k, &dir)).collect();
    let children: Vec<std::process::Child> = captures
        .iter()
        .chain(std::iter::once(&captures[0]))
        .map(|capture| {
            Command::new(env!("CARGO_BIN_EXE_stripwatch"))
                .args(["analyze", "--quiet", "--history", db, "--sensor", "tap"])
                .args(["--format", "jsonl", capture])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Four captures of 3 sessions per server; the fifth process had the
    // first capture again: not counted.
    let (rows, count) = tallies(Path::new(db));
    let mut want: Vec<Tally> = SERVERS
        .iter()
        .map(|(server, _, _)| row(server, "tap", "absent", 12))
        .collect();
    want.sort();
    assert_eq!(rows, want);
    assert_eq!(count, 3);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Version 1 of the schema, as stripwatch wrote it (one table of STARTTLS
/// per server and sensor).
const VERSION_1: &str = "CREATE TABLE stripwatch_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE server_starttls (
         server TEXT NOT NULL, port BIGINT NOT NULL, protocol TEXT NOT NULL,
         sensor TEXT NOT NULL, starttls TEXT NOT NULL,
         sessions BIGINT NOT NULL, first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL,
         PRIMARY KEY (server, port, protocol, sensor, starttls));
     INSERT INTO stripwatch_meta VALUES ('schema_version', '1');";

/// 2026-11-10T08:00:00Z and 2026-11-20T18:30:00Z, in microseconds.
const OLD_FIRST: i64 = 1_794_297_600_000_000;
const OLD_LAST: i64 = 1_795_199_400_000_000;

#[test]
fn a_version_1_file_is_upgraded_and_its_rows_kept() {
    let dir = scratch("history-v1");
    let db = dir.join("h.db");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(VERSION_1).unwrap();
        conn.execute(
            "INSERT INTO server_starttls VALUES ('203.0.113.70', 25, 'smtp', 'old-tap', 'offered', 5, ?1, ?2)",
            [OLD_FIRST, OLD_LAST],
        )
        .unwrap();
    }
    let report = json_of(&with_history(db.to_str().unwrap(), "inside", "json", WEEK2));
    let found = stripped(&report);
    assert_eq!(found.len(), 3, "the MX's three sessions: {found:?}");
    for f in found {
        assert_eq!(server_of(&report, &f["session"]), h::MX);
        assert_eq!(
            f["history"],
            json!({"sensors": ["old-tap"], "sessions": 5,
                   "first_seen": "2026-11-10T08:00:00.000000Z",
                   "last_seen": "2026-11-20T18:30:00.000000Z"})
        );
    }
    assert_eq!(
        kinds(&report, "no-starttls-offered"),
        6,
        "IMAP and POP3 have no history"
    );
    let conn = rusqlite::Connection::open(&db).unwrap();
    let version: String = conn
        .query_row(
            "SELECT value FROM stripwatch_meta WHERE name = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(version, "3");
    let old_table: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'server_starttls'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(old_table, 0);
    let kept: (i64, i64, i64, String, String) = conn
        .query_row(
            "SELECT sessions, first_seen, last_seen, banner_sha256, certificate_sha256 FROM observations
             WHERE sensor = 'old-tap'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    assert_eq!(kept, (5, OLD_FIRST, OLD_LAST, String::new(), String::new()));
    let (rows, _) = tallies(&db);
    assert_eq!(rows.iter().map(|r| r.4).sum::<i64>(), 5 + 9);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `analyze --history FILE -o report.json week2.pcap` and `history FILE`
/// both fail with exit 2, saying `why` on standard error; the file is
/// byte-identical afterwards and no report was created.
fn refused(dir: &Path, history_file: &Path, why: &str) {
    let before = std::fs::read(history_file).unwrap();
    let report = dir.join("report.json");
    let location = history_file.to_str().unwrap();
    let run = analyze(&[
        "--history",
        location,
        "--format",
        "json",
        "-o",
        report.to_str().unwrap(),
        &sample(WEEK2),
    ]);
    assert_eq!(run.code, 2, "{location}: {}", run.stderr);
    assert!(
        run.stderr.contains("history") && run.stderr.contains(why),
        "{why}: {}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(!report.exists(), "no report when the history is refused");
    let shown = history(&[location]);
    assert_eq!(shown.code, 2, "{}", shown.stderr);
    assert!(shown.stderr.contains(why), "{why}: {}", shown.stderr);
    assert!(shown.stdout.is_empty());
    assert_eq!(
        std::fs::read(history_file).unwrap(),
        before,
        "{location} changed"
    );
}

#[test]
fn newer_corrupt_and_foreign_files_are_refused_untouched() {
    let dir = scratch("history-refused");
    let newer = dir.join("newer.db");
    {
        let conn = rusqlite::Connection::open(&newer).unwrap();
        conn.execute_batch(
            "CREATE TABLE stripwatch_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
             INSERT INTO stripwatch_meta VALUES ('schema_version', '4');
             CREATE TABLE observations_v3 (x TEXT);",
        )
        .unwrap();
    }
    refused(
        &dir,
        &newer,
        "its schema is version 4, newer than this stripwatch's (3)",
    );

    // A valid history whose pages are then overwritten.
    let corrupt = dir.join("corrupt.db");
    with_history(corrupt.to_str().unwrap(), "dmz-tap", "json", WEEK1);
    let mut bytes = std::fs::read(&corrupt).unwrap();
    for b in bytes.iter_mut().skip(100) {
        *b = 0xa5;
    }
    std::fs::write(&corrupt, &bytes).unwrap();
    refused(&dir, &corrupt, "corrupt");

    let text = dir.join("notes.db");
    std::fs::write(
        &text,
        "not a database, but a note about the tap\n".repeat(40),
    )
    .unwrap();
    refused(&dir, &text, "not an SQLite database, or corrupt");

    let foreign = dir.join("foreign.db");
    {
        let conn = rusqlite::Connection::open(&foreign).unwrap();
        conn.execute_batch(
            "CREATE TABLE invoices (id INTEGER PRIMARY KEY); INSERT INTO invoices VALUES (7);",
        )
        .unwrap();
    }
    refused(&dir, &foreign, "not a stripwatch history");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_symbolic_link_is_refused() {
    let dir = scratch("history-symlink");
    let target = dir.join("real.db");
    with_history(target.to_str().unwrap(), "dmz-tap", "json", WEEK1);
    let link = dir.join("link.db");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    refused(&dir, &link, "is a symbolic link: refused");
    // A link to a file that does not exist is not followed to create one.
    let dangling = dir.join("dangling.db");
    std::os::unix::fs::symlink(dir.join("elsewhere.db"), &dangling).unwrap();
    let run = analyze(&["--history", dangling.to_str().unwrap(), &sample(WEEK2)]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("symbolic link"), "{}", run.stderr);
    assert!(!dir.join("elsewhere.db").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The passwords of week2.pcap as they crossed: plain, and AUTH PLAIN's
/// base64.
fn week2_secrets() -> Vec<String> {
    let mut out: Vec<String> = [h::SMTP_ACCOUNT, h::IMAP_ACCOUNT, h::POP3_ACCOUNT]
        .iter()
        .map(|a| a.secret.to_string())
        .collect();
    out.push(crate::gen_samples::mechanisms::plain(h::SMTP_ACCOUNT));
    out
}

#[test]
fn no_password_reaches_the_history_or_the_observation_lines() {
    let dir = scratch("history-secrets");
    let db = dir.join("h.db");
    let location = db.to_str().unwrap();
    with_history(location, "dmz-tap", "json", WEEK1);
    let lines = with_history(location, "dmz-tap", "jsonl", WEEK2).stdout;
    let lines = parse_lines(&lines);
    let observed = observations(&lines);
    assert_eq!(observed.len(), 3);
    let file = std::fs::read(&db).unwrap();
    // The file holds what was observed (so the search below searches it).
    let banner = b"220 mail.example.net ESMTP Postfix";
    assert!(file.windows(banner.len()).any(|w| w == banner));
    for secret in week2_secrets() {
        for o in &observed {
            assert!(!o.to_string().contains(&secret), "{secret} in {o}");
        }
        assert!(
            !file.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} in the history file"
        );
    }
    // The users' names are not in the history either: it is about servers.
    for user in ["xavier@example.net", "yvonne", "zoe"] {
        assert!(
            !file.windows(user.len()).any(|w| w == user.as_bytes()),
            "{user}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
