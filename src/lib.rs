//! stripwatch: a passive analyzer that finds STARTTLS stripping, downgrades
//! and cleartext credentials in SMTP, IMAP and POP3 traffic, from captures
//! alone.
//!
//! The pipeline flows one way:
//! [`capture`] (files) → [`decode`] (headers) → [`flow`] (sessions,
//! reassembly) → [`analysis`] (records, findings) → [`report`] (output).
//! The library works without the CLI: [`analysis::analyze`] takes inputs and
//! returns a [`analysis::Report`].

// Hostile bytes meet only safe code (a dependency's unsafe is its own).
#![forbid(unsafe_code)]
// The public API is deliberate: every item of it says what it is.
#![deny(missing_docs)]
// Code that touches packet bytes must not panic on them.
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)
)]

pub mod analysis;
pub mod capture;
pub mod decode;
pub mod diff;
pub mod flow;
#[cfg(feature = "fuzzing")]
pub mod fuzz_harness;
pub mod output_file;
pub mod parallel;
pub mod pipeline;
#[cfg(feature = "live")]
pub mod privileges;
pub mod proto;
pub mod report;
pub mod text;
pub mod time;
