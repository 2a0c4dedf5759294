//! Output: a table for people, one JSON document for tools, JSON lines for
//! SIEMs (streamed as the run goes), one HTML page for people who must show
//! a finding, evidence pcaps and hash files. Every
//! string taken from the wire was escaped when its record was built (see
//! [`crate::text`]); secrets were masked then unless revealed.

pub mod evidence;
pub mod hashes;
pub mod html;
pub mod json;
pub mod jsonl;
pub mod lines;
mod palette;
pub mod summary;
pub mod table;

pub use evidence::EvidencePlan;
pub use hashes::HashExport;
pub use html::{HtmlReport, write_html};
pub use json::{JsonDocument, write_report};
pub use jsonl::JsonLines;
pub use lines::LineReport;
pub use palette::{Hue, Palette};
pub use table::{TableOptions, TableReport};
