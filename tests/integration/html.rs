//! `--format html`: the page of the samples names their servers, findings
//! and evidence; hostile wire bytes render as text; the page refers to no
//! host; it stays bounded at 100,000 sessions; and (with Debian's
//! `chromium`) a real browser loads it with no console error and no
//! network request, the injected elements absent from its DOM.

use crate::common;
use crate::gen_samples::conversation::{Conversation, Dir};
use crate::gen_samples::mechanisms::b64;
use crate::gen_samples::sample::Sample;
use crate::output::support::{analyze, json, sample, scratch};
use std::path::{Path, PathBuf};
use std::process::Command;
use stripwatch::time::Timestamp;

/// HTML escaping of text as the templates do it.
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn html(args: &[&str]) -> String {
    let mut all = vec!["--format", "html"];
    all.extend_from_slice(args);
    let run = analyze(&all);
    assert!(matches!(run.code, 0..=1), "{}", run.stderr);
    run.stdout
}

/// Every `src=`, `href=` and `xlink:href=` value points inside the page;
/// `http` appears only as the SVG namespace.
fn assert_no_remote_reference(page: &str) {
    // Text has no raw `<` (the escaping tests say so): tags are what lies
    // between a `<` and the next `>`.
    for tag in page.split('<').skip(1) {
        let tag = tag.split('>').next().unwrap();
        for attr in [" src=", " href=", "xlink:href=", " action=", " srcset="] {
            if let Some(at) = tag.find(attr) {
                let value = &tag[at + attr.len()..];
                assert!(value.starts_with("\"#"), "<{tag}>");
            }
        }
    }
    let ns = "xmlns=\"http://www.w3.org/2000/svg\"";
    let rest = page.replace(ns, "");
    assert!(
        !rest.contains("http:") && !rest.contains("https:") && !rest.contains("//"),
        "a URL in the page"
    );
}

/// The page of samples/findings: every server and finding of the JSON
/// report, each flagged session's anchor and its evidence lines with
/// packet numbers.
#[test]
fn the_page_of_the_findings_samples_has_servers_findings_and_evidence() {
    let path = sample("findings");
    let page = html(&[&path]);
    let doc = json(&[&path]);
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'sha256-"));
    assert_eq!(
        page.matches("<script>").count(),
        1,
        "only the page's own script"
    );
    assert_eq!(page.matches("<svg ").count(), 30, "30 server timelines");
    assert!(page.contains("more servers are in the server table below"));
    for server in doc["servers"].as_array().unwrap() {
        let s = server["server"].as_str().unwrap();
        assert!(page.contains(&format!("<td>{s}</td>")), "server {s}");
    }
    let findings = doc["findings"].as_array().unwrap();
    assert!(!findings.is_empty());
    for f in findings {
        let id = f["session"].as_u64().unwrap();
        let kind = f["kind"].as_str().unwrap();
        let at = page
            .find(&format!("<details class=\"session\" id=\"s{id}\">"))
            .unwrap_or_else(|| panic!("session {id} listed"));
        let end = at + page[at..].find("</details>").unwrap();
        let block = &page[at..end];
        assert!(
            block.contains(&format!("<code>{kind}</code>")),
            "{kind} in session {id}"
        );
        assert!(
            block.contains(&escaped(f["summary"].as_str().unwrap())),
            "summary of {kind}"
        );
        for e in f["evidence"].as_array().unwrap().iter().take(4) {
            let packet = e["packet"].as_u64().unwrap();
            let line = escaped(e["excerpt"].as_str().unwrap());
            let line: String = line.chars().take(60).collect();
            assert!(
                block.contains(&format!(
                    "<td class=\"num\">{packet}</td><td class=\"time\">{}</td>",
                    e["timestamp"].as_str().unwrap()
                )),
                "packet {packet} of session {id}"
            );
            assert!(block.contains(&line), "evidence {line} of session {id}");
        }
    }
    // Secrets stay masked, as in JSON.
    assert!(page.contains("&lt;redacted&gt;"));
    assert!(page.contains("Verdict"));
    assert!(page.contains("had STARTTLS replaced by XXXXXXXA"));
    assert_no_remote_reference(&page);
}

/// `stripwatch diff --format FORMAT` over samples/diff/smtp-asa-nat.
fn diff_asa(format: &str) -> String {
    let tap = |t: &str| sample(&format!("diff/smtp-asa-nat.{t}.pcap"));
    let out = Command::new(env!("CARGO_BIN_EXE_stripwatch"))
        .args(["diff", "--format", format, &tap("inside"), &tap("outside")])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The diff's page: the verdict, every changed pair with both versions of
/// each changed line (packet, time, escaped line), no remote reference.
#[test]
fn the_diff_page_has_every_change_with_both_versions() {
    let page = diff_asa("html");
    let doc: serde_json::Value = serde_json::from_str(&diff_asa("json")).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("behaves like Cisco ASA inspect esmtp"));
    let pairs = doc["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 2);
    for p in pairs {
        let id = p["id"].as_u64().unwrap();
        let at = page
            .find(&format!("<details class=\"session\" id=\"p{id}\">"))
            .unwrap_or_else(|| panic!("pair {id} listed"));
        let block = &page[at..at + page[at..].find("</details>").unwrap()];
        let changes = p["changes"].as_array().unwrap();
        assert!(!changes.is_empty());
        for c in changes {
            assert!(block.contains(&format!("<code>{}</code>", c["kind"].as_str().unwrap())));
            for tap in ["inside", "outside"] {
                if let Some(v) = c[tap].as_object() {
                    let line = escaped(v["excerpt"].as_str().unwrap());
                    let packet = v["packet"].as_u64().unwrap();
                    let time = v["timestamp"].as_str().unwrap();
                    let shown = format!(
                        "#{packet} <span class=\"more\">{time}</span><br><code>{line}</code>"
                    );
                    assert!(block.contains(&shown), "{shown} in pair {id}");
                }
            }
        }
    }
    assert_no_remote_reference(&page);
}

const SCRIPT: &str = "<script>alert(1)</script>";
const IMG: &str = "\"><img src=x onerror=alert(2)>";
const STYLE: &str = "</style><script>alert(3)</script>";

/// SMTP whose greeting and STARTTLS refusal carry `<script>`, whose EHLO
/// name, capability line and AUTH reply carry an `<img onerror>`
/// break-out, and whose AUTH PLAIN username closes the style element:
/// refused STARTTLS, then cleartext AUTH. (The refusal, the AUTH reply and
/// the username are what the page shows.)
fn injection_capture(dir: &Path) -> PathBuf {
    let mut c = Conversation::new("192.0.2.77:40077", "203.0.113.77:25");
    c.handshake();
    c.server_sends(format!("220 {SCRIPT} ESMTP\r\n"));
    c.client_sends(format!("EHLO {IMG}\r\n"));
    c.server_sends(format!("250-{IMG}\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n"));
    c.client_sends("STARTTLS\r\n");
    c.server_sends(format!("454 4.7.0 TLS not available {SCRIPT}\r\n"));
    let mut plain = b"\0".to_vec();
    plain.extend_from_slice(STYLE.as_bytes());
    plain.extend_from_slice(b"\0pw-inject-7Q");
    c.client_sends(format!("AUTH PLAIN {}\r\n", b64(&plain)));
    c.server_sends(format!("235 2.7.0 {IMG}\r\n"));
    c.client_sends("QUIT\r\n");
    c.server_sends("221 2.0.0 Bye\r\n");
    c.close(Dir::Client);
    let sample = Sample::new("inject.pcap", "HTML injection").conversation(c);
    let (_, bytes) = sample.render().pop().unwrap();
    let path = dir.join("inject.pcap");
    std::fs::write(&path, bytes).unwrap();
    path
}

/// The injected markup is text: escaped where it shows, never an element.
/// `quotes`: `"` is escaped too (in the page; a DOM dump writes text
/// nodes with `"` as is).
fn assert_injection_is_text(page: &str, quotes: bool) {
    let escaped = |t: &str| {
        let e = escaped(t);
        if quotes { e } else { e.replace("&quot;", "\"") }
    };
    assert_eq!(
        page.matches("<script").count(),
        1,
        "only the page's script element"
    );
    assert_eq!(
        page.matches("</style>").count(),
        1,
        "only the page's style end"
    );
    assert!(!page.contains("<img"), "an img element");
    assert!(!page.contains("alert(1)</script>"));
    assert!(page.contains(&escaped(SCRIPT)), "the greeting as text");
    assert!(page.contains(&escaped(IMG)), "the server's reply as text");
    assert!(page.contains(&escaped(STYLE)), "the username as text");
    assert!(!page.contains("pw-inject-7Q"), "the password masked");
    assert_no_remote_reference(page);
}

#[test]
fn injected_markup_renders_as_text() {
    let dir = scratch("html-inject");
    let path = injection_capture(&dir);
    let page = html(&[path.to_str().unwrap()]);
    assert!(page.contains("<code>starttls-rejected</code>"), "{page}");
    assert!(page.contains("<code>cleartext-credentials</code>"));
    // The client left in cleartext, with the username it exposed.
    let exposed =
        &page[page.find("id=\"exposed\"").unwrap()..page.find("id=\"sessions\"").unwrap()];
    assert!(
        exposed.contains("<td>192.0.2.77</td><td>203.0.113.77:25</td>"),
        "{exposed}"
    );
    assert!(
        exposed.contains(&format!("<code>{}</code>", escaped(STYLE))),
        "{exposed}"
    );
    assert_injection_is_text(&page, true);
    let _ = std::fs::remove_dir_all(&dir);
}

/// 100,000 sessions (the samples' sessions again and again, over 40
/// servers and an hour): the page stays under its stated bound, lists what
/// fits and counts the rest.
#[test]
fn the_page_of_100000_sessions_stays_bounded() {
    let (mut report, _) = crate::sample_support::report("findings");
    let base = std::mem::take(&mut report.sessions);
    let n = base.len();
    for i in 0..100_000u64 {
        let mut s = base[(i as usize) % n].clone();
        s.id = i + 1;
        for f in &mut s.findings {
            f.session = s.id;
        }
        s.server.port = 10_000 + (i % 40) as u16;
        let t = Timestamp::new(1_709_294_400 + (i * 36 / 1000) as i64, 0);
        s.transport.first_seen = t;
        s.transport.last_seen = t;
        report.sessions.push(s);
    }
    report.findings = report
        .sessions
        .iter()
        .flat_map(|s| s.findings.clone())
        .collect();
    let mut out = Vec::new();
    stripwatch::report::write_html(&report, &mut out).unwrap();
    let page = String::from_utf8(out).unwrap();
    let charts: usize = page
        .split("<svg ")
        .skip(1)
        .map(|c| c.find("</svg>").unwrap())
        .sum();
    eprintln!(
        "100,000 sessions: {} bytes of HTML, {charts} of charts",
        page.len()
    );
    assert!(page.len() < 7 << 20, "{} bytes", page.len());
    assert_eq!(page.matches("<svg ").count(), 30);
    assert!(page.contains("more flagged sessions are not listed"));
    assert!(page.contains("more servers are in the server table below"));
}

/// Headless chromium with a fresh profile, no name resolving but loopback
/// (nothing leaves the machine), its console on standard error and its
/// requests in a NetLog.
fn chromium(dir: &Path, page: &Path, extra: &[&str]) -> (String, String, String) {
    let profile = dir.join("profile");
    let netlog = dir.join("net.json");
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--log-net-log={}", netlog.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let netlog = std::fs::read_to_string(&netlog).unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        netlog,
    )
}

/// Console messages chromium logged for the page (errors, CSP refusals).
fn console_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains(":console(") || l.contains("Refused to"))
        .collect()
}

/// Requests the page made: NetLog request starts with an origin as their
/// initiator (chromium's own background requests have none).
fn page_requests(netlog: &str) -> Vec<String> {
    let log: serde_json::Value = serde_json::from_str(netlog).unwrap();
    let start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].clone();
    log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == start)
        .filter(|e| e["params"]["initiator"] != "not an origin")
        .filter_map(|e| e["params"]["url"].as_str())
        .filter(|u| !u.starts_with("file:"))
        .map(str::to_string)
        .collect()
}

#[test]
#[ignore = "needs chromium: STRIPWATCH_EXTERNAL_TESTS=1"]
fn chromium_loads_the_page_without_errors_requests_or_injected_elements() {
    common::require_external(&["chromium"]);
    let dir = scratch("html-chromium");
    // The checks catch what they look for: a page without the policy that
    // loads an image from loopback logs a request, and an inline script
    // the policy did not hash is refused on the console.
    let control = dir.join("control.html");
    std::fs::write(
        &control,
        "<!DOCTYPE html><html><head><title>c</title></head><body><img src=\"http://127.0.0.1:9/x.png\"></body></html>",
    )
    .unwrap();
    let (_, _, netlog) = chromium(&dir.join("c1"), &control, &["--dump-dom"]);
    assert_eq!(page_requests(&netlog), ["http://127.0.0.1:9/x.png"]);
    let findings = sample("findings");
    let good = html(&[&findings]);
    let bad = good.replacen("<body>", "<body><script>document.title='x'</script>", 1);
    std::fs::write(&control, bad).unwrap();
    let (_, stderr, _) = chromium(&dir.join("c2"), &control, &["--dump-dom"]);
    assert!(!console_lines(&stderr).is_empty(), "{stderr}");

    // The samples: no console message, no request, everything rendered,
    // and a screenshot (STRIPWATCH_BLESS=1 makes it docs/report.png).
    let page = dir.join("findings.html");
    std::fs::write(&page, &good).unwrap();
    let (dom, stderr, netlog) = chromium(&dir.join("p1"), &page, &["--dump-dom"]);
    assert!(
        console_lines(&stderr).is_empty(),
        "{:?}",
        console_lines(&stderr)
    );
    assert!(
        page_requests(&netlog).is_empty(),
        "{:?}",
        page_requests(&netlog)
    );
    assert!(dom.contains("203.0.113.19:587"));
    assert!(dom.contains("<code>starttls-stripped</code>"));
    assert_eq!(dom.matches("<svg ").count(), 30);
    let png = dir.join("report.png");
    chromium(
        &dir.join("p2"),
        &page,
        &[
            "--window-size=1100,2300",
            "--hide-scrollbars",
            &format!("--screenshot={}", png.display()),
        ],
    );
    let shot = std::fs::read(&png).unwrap();
    assert!(shot.starts_with(b"\x89PNG\r\n\x1a\n") && shot.len() > 10_000);
    if std::env::var("STRIPWATCH_BLESS").is_ok_and(|v| v == "1") {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/report.png");
        std::fs::write(docs, &shot).unwrap();
    }

    // The diff's page loads as cleanly.
    let page = dir.join("diff.html");
    std::fs::write(&page, diff_asa("html")).unwrap();
    let (dom, stderr, netlog) = chromium(&dir.join("p4"), &page, &["--dump-dom"]);
    assert!(
        console_lines(&stderr).is_empty(),
        "{:?}",
        console_lines(&stderr)
    );
    assert!(
        page_requests(&netlog).is_empty(),
        "{:?}",
        page_requests(&netlog)
    );
    assert!(dom.contains("<code>capability-masked</code>"));

    // The crafted capture: the DOM has its strings as text, no element.
    let inject = injection_capture(&dir);
    let page = dir.join("inject.html");
    std::fs::write(&page, html(&[inject.to_str().unwrap()])).unwrap();
    let (dom, stderr, netlog) = chromium(&dir.join("p3"), &page, &["--dump-dom"]);
    assert!(
        console_lines(&stderr).is_empty(),
        "{:?}",
        console_lines(&stderr)
    );
    assert!(
        page_requests(&netlog).is_empty(),
        "{:?}",
        page_requests(&netlog)
    );
    assert_injection_is_text(&dom, false);
    let _ = std::fs::remove_dir_all(&dir);
}
