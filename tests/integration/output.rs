//! The outputs for analysts and pipelines, run through the binary: each
//! format over the samples, escaping of hostile bytes, exit statuses,
//! filters, secrets (in every format and in evidence pcaps), hash files and
//! evidence export (checked with tshark when `STRIPWATCH_EXTERNAL_TESTS=1`),
//! how output files are created and which inputs are read.
//!
//! The tests live in `output/`, one module per subject.

mod docs;
mod escaping;
mod evidence;
mod exit;
mod files;
mod filters;
mod formats;
mod hashes;
mod inputs;
mod policy;
mod secret_classes;
mod secrets;
pub mod support;
mod unicode;
