//! Mail protocol state machines: SMTP, IMAP and POP3 dialogs, TLS
//! detection, SASL decoding, and the shared line reader.
//!
//! Every parser here is sans-IO: it is fed in-order byte slices per
//! direction (plus gap events) and records what the dialog showed in
//! [`DialogFacts`]. Nothing here decides findings; the analysis layer does.

pub(crate) mod ber;
pub(crate) mod dialog;
pub mod facts;
pub(crate) mod ftp;
pub(crate) mod imap;
pub(crate) mod ldap;
pub(crate) mod lines;
pub(crate) mod managesieve;
pub(crate) mod mysql;
pub(crate) mod nntp;
pub(crate) mod pending;
pub(crate) mod pop3;
pub(crate) mod postgres;
pub(crate) mod sasl;
pub(crate) mod secrecy;
pub(crate) mod smtp;
pub(crate) mod tap;
#[cfg(test)]
pub(crate) mod test_support;
pub(crate) mod tls;
pub(crate) mod upgrade;
pub(crate) mod words;
pub(crate) mod xmpp;

pub use facts::*;
