//! Output: a table for people, one JSON document for tools, JSON lines for
//! SIEMs (streamed as the run goes), evidence pcaps and hash files. Every
//! string taken from the wire was escaped when its record was built (see
//! [`crate::text`]); secrets were masked then unless revealed.

pub mod evidence;
pub mod hashes;
pub mod json;
pub mod jsonl;
pub mod lines;
mod palette;
pub mod summary;
pub mod table;

pub use evidence::EvidencePlan;
pub use hashes::HashExport;
pub use json::{JsonDocument, write_report};
pub use jsonl::JsonLines;
pub use lines::LineReport;
pub use palette::{Hue, Palette};
pub use table::{TableOptions, TableReport};
