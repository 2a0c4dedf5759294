//! The examples in README.md, docs/jsonl.md and docs/json.md are real
//! output of the samples: they must stay what the binary writes.

use super::support::{analyze_in, parse_lines};
use serde_json::{Value, json};
use std::path::Path;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(doc: &str) -> String {
    std::fs::read_to_string(repo().join(doc)).unwrap()
}

/// The bodies of the fenced blocks of `lang` in a Markdown text.
fn blocks(text: &str, lang: &str) -> Vec<String> {
    let fence = format!("```{lang}\n");
    text.split(&fence)
        .skip(1)
        .map(|rest| rest.split("\n```").next().unwrap().to_string())
        .collect()
}

/// Every JSON line of `--format jsonl` over each sample, run separately
/// from the repository (paths as in the docs).
fn real_lines(samples: &[&str]) -> Vec<Value> {
    let mut out = Vec::new();
    for sample in samples {
        let run = analyze_in(
            repo(),
            &["--format", "jsonl", "--sensor", "dmz-tap", sample],
        );
        assert!(matches!(run.code, 0..=2), "{}", run.stderr);
        out.extend(parse_lines(&run.stdout));
    }
    out
}

#[test]
fn readme_tables_are_real_output() {
    let readme = read("README.md");
    let examples: Vec<String> = blocks(&readme, "")
        .into_iter()
        .filter(|b| b.starts_with("$ stripwatch analyze "))
        .collect();
    // The policy example, then the table of four samples.
    assert_eq!(examples.len(), 2);
    for block in examples {
        let (command, table) = block.split_once('\n').unwrap();
        let args: Vec<&str> = command
            .strip_prefix("$ stripwatch analyze ")
            .unwrap()
            .split(' ')
            .collect();
        let run = analyze_in(repo(), &args);
        assert_eq!(run.code, 1, "{command}");
        assert_eq!(run.stdout.trim_end(), table.trim_end(), "{command}");
    }
}

#[test]
fn json_examples_are_real_lines() {
    let lines = real_lines(&[
        "samples/findings/smtp-auth.pcap",
        "samples/findings/smtp-stripped-cross-session.pcap",
        "samples/findings/imap-masked.pcap",
        "samples/transport/smtp-truncated.pcap",
    ]);
    let mut checked = 0;
    for doc in ["README.md", "docs/jsonl.md"] {
        for block in blocks(&read(doc), "json") {
            let example: Value =
                serde_json::from_str(&block).unwrap_or_else(|e| panic!("{doc}: {e}:\n{block}"));
            assert!(
                lines.contains(&example),
                "{doc}: this example is not a line the samples give:\n{block}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 9, "2 examples in README.md, 7 in docs/jsonl.md");
}

#[test]
fn json_md_example_is_the_real_document_trimmed() {
    let run = analyze_in(
        repo(),
        &["--format", "json", "samples/findings/smtp-asa.pcap"],
    );
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let pick = |v: &Value, fields: &[&str]| -> Value {
        Value::Object(
            fields
                .iter()
                .map(|f| (f.to_string(), v[*f].clone()))
                .collect(),
        )
    };
    let each = |key: &str, fields: &[&str]| -> Value {
        doc[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| pick(v, fields))
            .collect()
    };
    let trimmed = json!({
        "schema_version": doc["schema_version"],
        "inputs": each("inputs", &["file", "packets", "bytes", "link_types"]),
        "sessions": each(
            "sessions",
            &["id", "protocol", "client", "server", "starttls", "credentials", "findings"],
        ),
        "findings": doc["findings"],
        "servers": each(
            "servers",
            &["server", "protocol", "sessions", "stripped", "asa_masked", "findings"],
        ),
        "stats": doc["stats"],
    });
    let blocks = blocks(&read("docs/json.md"), "json");
    assert_eq!(blocks.len(), 1);
    let example: Value = serde_json::from_str(&blocks[0]).unwrap();
    assert_eq!(example, trimmed);
}
