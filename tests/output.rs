//! The outputs for analysts and pipelines, run through the binary: each
//! format over the samples, escaping of hostile bytes, exit statuses,
//! filters, secrets (in every format and in evidence pcaps), hash files and
//! evidence export (checked with tshark when `STRIPWATCH_EXTERNAL_TESTS=1`),
//! how output files are created and which inputs are read.
//!
//! The tests live in `tests/output/`, one module per subject.

mod common;
mod findings_support;
mod sample_support;

#[path = "output/docs.rs"]
mod docs;
#[path = "output/escaping.rs"]
mod escaping;
#[path = "output/evidence.rs"]
mod evidence;
#[path = "output/exit.rs"]
mod exit;
#[path = "output/files.rs"]
mod files;
#[path = "output/filters.rs"]
mod filters;
#[path = "output/formats.rs"]
mod formats;
#[path = "output/hashes.rs"]
mod hashes;
#[path = "output/inputs.rs"]
mod inputs;
#[path = "output/secret_classes.rs"]
mod secret_classes;
#[path = "output/secrets.rs"]
mod secrets;
#[path = "output/support.rs"]
mod support;
#[path = "output/unicode.rs"]
mod unicode;
