//! Output: a table for people, one JSON document for tools, JSON lines for
//! SIEMs (streamed as the run goes), one HTML page for people who must show
//! a finding, evidence pcaps and hash files. Every
//! string taken from the wire was escaped when its record was built (see
//! [`crate::text`]); secrets were masked then unless revealed.

pub mod evidence;
pub(crate) mod hashes;
pub(crate) mod html;
pub(crate) mod json;
pub(crate) mod jsonl;
pub(crate) mod lines;
mod palette;
pub(crate) mod summary;
pub(crate) mod table;
pub(crate) mod timeline;

pub use evidence::EvidencePlan;
pub use hashes::HashExport;
pub use html::{HtmlReport, write_html};
pub use json::JsonDocument;
pub use jsonl::JsonLines;
pub use lines::LineReport;
pub use palette::{Hue, Palette};
pub use table::{TableOptions, TableReport};
