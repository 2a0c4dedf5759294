//! The history in PostgreSQL, shared by sensors: a throwaway cluster
//! started by the test (initdb and pg_ctl on a temporary directory, as the
//! user `nobody` when the test runs as root, listening on a Unix socket in
//! that directory only: no TCP), several `analyze` processes of two sensors
//! writing at once, then exact counts, the stripped path named, and no
//! password in any message. The cluster is stopped and its directory
//! removed at the end, even when the test fails.

use super::{
    OUTSIDE, SERVERS, Tally, WEEK2, history, json_of, kinds, server_of, shifted, stripped,
};
use crate::common::require_external;
use crate::gen_samples::history as h;
use crate::output::support::{analyze, sample};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// The cluster's superuser and its password (scram-sha-256 on the socket).
const USER: &str = "stripwatch";
const PASSWORD: &str = "pg-secret-Hq7vW2";

/// Processes per sensor started at once.
const PER_SENSOR: usize = 3;

/// A running cluster; stopped and removed when dropped.
struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    as_nobody: bool,
}

/// The directory of PostgreSQL's server programs (Debian puts them under
/// /usr/lib/postgresql/VERSION/bin, not on the PATH).
fn server_bin() -> PathBuf {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return dir;
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    versions.sort();
    versions
        .into_iter()
        .rev()
        .find(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
        .expect("initdb and pg_ctl (Debian package postgresql: apt-get install postgresql)")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout == b"0\n")
}

impl Cluster {
    fn start(name: &str) -> Cluster {
        let dir = std::env::temp_dir().join(format!("stripwatch-pg-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // A socket file's name carries the port: any free one will do, and
        // nothing listens on TCP.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = Cluster {
            dir,
            bin: server_bin(),
            port,
            as_nobody: is_root(),
        };
        if cluster.as_nobody {
            // initdb refuses root: the cluster belongs to nobody.
            std::os::unix::fs::chown(&cluster.dir, Some(65534), Some(65534)).unwrap();
        }
        std::fs::write(cluster.dir.join("pwfile"), PASSWORD).unwrap();
        if cluster.as_nobody {
            std::os::unix::fs::chown(cluster.dir.join("pwfile"), Some(65534), Some(65534)).unwrap();
        }
        let data = cluster.dir.join("data");
        cluster.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                USER,
                "--pwfile",
                cluster.dir.join("pwfile").to_str().unwrap(),
                "--auth",
                "scram-sha-256",
                "--no-locale",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        let options = format!(
            "-k {} -c listen_addresses='' -p {} -c fsync=off",
            cluster.dir.display(),
            cluster.port
        );
        cluster.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-o",
                &options,
                "-l",
                cluster.dir.join("log").to_str().unwrap(),
                "-w",
                "start",
            ],
        );
        cluster
    }

    /// Runs one of the server programs (as nobody under root); panics with
    /// its output when it fails.
    fn run(&self, program: &str, args: &[&str]) {
        let path = self.bin.join(program);
        let mut cmd = if self.as_nobody {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let out = cmd.args(args).current_dir(&self.dir).output().unwrap();
        let log = std::fs::read_to_string(self.dir.join("log")).unwrap_or_default();
        assert!(
            out.status.success(),
            "{program} {args:?}: {}\n{}\n{log}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A URL of the database `postgres` with `password`.
    fn url(&self, password: &str) -> String {
        format!(
            "postgresql://{USER}:{password}@localhost/postgres?host={}&port={}",
            self.dir.display(),
            self.port
        )
    }

    fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url(PASSWORD), postgres::NoTls).unwrap()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        if data.join("postmaster.pid").exists() {
            let path = self.bin.join("pg_ctl");
            let mut cmd = if self.as_nobody {
                let mut c = Command::new("setpriv");
                c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                    .arg(&path);
                c
            } else {
                Command::new(&path)
            };
            let _ = cmd
                .args([
                    "-D",
                    data.to_str().unwrap_or_default(),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ])
                .output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `analyze --history URL --sensor SENSOR --format json SAMPLE`, started.
fn spawn(url: &str, sensor: &str, name: &str) -> Child {
    spawn_path(url, sensor, &sample(name))
}

/// The same for a capture at `path`.
fn spawn_path(url: &str, sensor: &str, path: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_stripwatch"))
        .args([
            "analyze",
            "--history",
            url,
            "--sensor",
            sensor,
            "--format",
            "json",
        ])
        .arg(path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Sessions by server, sensor and STARTTLS value, and the row count.
fn sums(client: &mut postgres::Client) -> (Vec<Tally>, i64) {
    let rows = client
        .query(
            "SELECT server, port, sensor, starttls, CAST(SUM(sessions) AS BIGINT) FROM observations
             GROUP BY server, port, sensor, starttls ORDER BY server, port, sensor, starttls",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    let count: i64 = client
        .query_one("SELECT COUNT(*) FROM observations", &[])
        .unwrap()
        .get(0);
    (rows, count)
}

#[test]
#[ignore = "needs PostgreSQL (initdb, pg_ctl, psql) and setpriv: STRIPWATCH_EXTERNAL_TESTS=1"]
fn sensors_writing_at_once_share_one_postgres_history() {
    require_external(&["psql", "setpriv"]);
    let cluster = Cluster::start("sensors");
    let url = cluster.url(PASSWORD);

    // Both sensors' processes at once, interleaved; each its own capture
    // (the samples a few seconds later: the same rows to update at once).
    let dir = crate::output::support::scratch("history-postgres");
    let captures: Vec<(String, String)> = (1..=PER_SENSOR as u32)
        .map(|k| (shifted(OUTSIDE, k, &dir), shifted(WEEK2, k, &dir)))
        .collect();
    // The same capture twice at once by one sensor: counted once.
    let again = dir.join("again.pcap");
    std::fs::copy(&captures[0].1, &again).unwrap();
    let mut children = Vec::new();
    for (outside, inside) in &captures {
        children.push(("outside", spawn_path(&url, "outside", outside)));
        children.push(("inside", spawn_path(&url, "inside", inside)));
    }
    children.push((
        "inside",
        spawn_path(&url, "inside", again.to_str().unwrap()),
    ));
    for (sensor, child) in children {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{sensor}: {stderr}"
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(!stdout.contains(PASSWORD) && !stderr.contains(PASSWORD));
    }

    // Every session counted once: outside has 4 MX sessions, 3 IMAP and 3
    // POP3 per run; inside 3 each.
    let n = PER_SENSOR as i64;
    let mut want = Vec::new();
    for (server, _, _) in SERVERS {
        let (ip, port) = server.split_once(':').unwrap();
        let outside = if port == "25" { 4 } else { 3 };
        let key = |sensor: &str, starttls: &str, sessions: i64| {
            (
                ip.to_string(),
                port.parse::<i64>().unwrap(),
                sensor.to_string(),
                starttls.to_string(),
                sessions,
            )
        };
        want.push(key("inside", "absent", 3 * n));
        want.push(key("outside", "offered", outside * n));
    }
    let mut client = cluster.client();
    let (rows, count) = sums(&mut client);
    assert_eq!(rows, want);
    assert_eq!(count, 6, "one row per server, sensor and what it showed");
    let total: i64 = rows.iter().map(|r| r.4).sum();
    assert_eq!(total, 10 * n + 9 * n);

    // A run now sees the other sensor's offers at the same time.
    let out = spawn(&url, "inside", WEEK2).wait_with_output().unwrap();
    let run = crate::output::support::Run {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    let report = json_of(&run);
    assert_eq!(kinds(&report, "no-starttls-offered"), 0);
    let found = stripped(&report);
    assert_eq!(found.len(), 9);
    for f in found {
        assert_eq!(f["proof"], "other-sensor");
        assert_eq!(f["history"]["sensors"], json!(["outside"]));
        let per_run = if server_of(&report, &f["session"]) == h::MX {
            4
        } else {
            3
        };
        assert_eq!(f["history"]["sessions"], per_run * n, "{f}");
        let summary = f["summary"].as_str().unwrap();
        assert!(
            summary.contains("stripped on the path to inside"),
            "{summary}"
        );
    }

    // The timeline from the database names the stripped path.
    let shown = history(&[&url, "--format", "json"]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(!shown.stdout.contains(PASSWORD));
    let timeline: Value = serde_json::from_str(&shown.stdout).unwrap();
    let servers = timeline["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 3);
    for t in servers {
        let paths: Vec<&Value> = t["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "stripped-path")
            .collect();
        assert_eq!(paths.len(), 1, "{t}");
        assert_eq!(paths[0]["sensors"], json!(["outside", "inside"]));
        assert_eq!(t["sensors"][0]["sessions"], 3 * (n + 1), "{t}");
    }
    let table = history(&[&url]);
    assert_eq!(
        table
            .stdout
            .matches("stripped on the path to inside")
            .count(),
        3
    );

    refused_without_showing_the_password(&cluster);
    drop(client);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A wrong password, a database that does not exist: exit 2, the location
/// named with its password masked, the password nowhere.
fn refused_without_showing_the_password(cluster: &Cluster) {
    let wrong = "pg-wrong-Zt81kQ";
    let missing = "database \"no_such_db\" does not exist";
    let cases = [
        (
            cluster.url(wrong),
            "password authentication failed for user \"stripwatch\"",
        ),
        (
            cluster.url(PASSWORD).replace("/postgres?", "/no_such_db?"),
            missing,
        ),
        // The password as a parameter.
        (
            format!(
                "postgresql://{USER}@localhost/no_such_db?host={}&port={}&password={PASSWORD}",
                cluster.dir.display(),
                cluster.port
            ),
            missing,
        ),
    ];
    for (url, why) in &cases {
        let run = analyze(&["--history", url, &sample(WEEK2)]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stdout.is_empty());
        for secret in [PASSWORD, wrong] {
            assert!(!run.stderr.contains(secret), "{secret} in {}", run.stderr);
        }
        // The server's reason, escaped like all output.
        let why = stripwatch::text::escape(why.as_bytes());
        assert!(run.stderr.contains("cannot connect: "), "{}", run.stderr);
        assert!(run.stderr.contains(&why), "{why}: {}", run.stderr);
        assert!(
            run.stderr.contains("***"),
            "the location, masked: {}",
            run.stderr
        );
        let shown = history(&[url]);
        assert_eq!(shown.code, 2);
        for secret in [PASSWORD, wrong] {
            assert!(
                !shown.stderr.contains(secret),
                "{secret} in {}",
                shown.stderr
            );
        }
    }
}
