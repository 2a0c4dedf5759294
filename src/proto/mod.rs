//! Mail protocol state machines: SMTP, IMAP and POP3 dialogs, TLS
//! detection, SASL decoding, and the shared line reader.
//!
//! Every parser here is sans-IO: it is fed in-order byte slices per
//! direction (plus gap events) and records what the dialog showed in
//! [`DialogFacts`]. Nothing here decides findings; the analysis layer does.

pub mod dialog;
pub mod facts;
pub mod imap;
pub mod lines;
pub mod pending;
pub mod pop3;
pub mod sasl;
pub mod secrecy;
pub mod smtp;
pub mod tap;
#[cfg(test)]
pub(crate) mod test_support;
pub mod tls;
pub mod upgrade;
pub mod words;

pub use facts::*;
