//! STUB so the crate compiles while the real module is written; the SASL
//! module's author replaces this whole file with the real implementation.
use super::facts::{Credential, Evidence, Outcome};

pub struct SaslExchange {
    cred: Credential,
}

impl SaslExchange {
    pub fn new(mechanism: &[u8], _initial_response: Option<&[u8]>, evidence: Evidence) -> Self {
        let mut cred = Credential::new(&canonical_mechanism(mechanism));
        cred.evidence.push(evidence);
        SaslExchange { cred }
    }
    pub fn on_challenge(&mut self, _b64: &[u8], _evidence: Evidence) {}
    pub fn on_response(&mut self, _b64: &[u8], _evidence: Evidence) {}
    pub fn is_cancelled(&self) -> bool {
        false
    }
    pub fn awaiting_response(&self) -> bool {
        false
    }
    pub fn finish(self, outcome: Outcome, _verdict: Option<Evidence>) -> Option<Credential> {
        let mut cred = self.cred;
        cred.outcome = outcome;
        cred.username.as_ref()?;
        Some(cred)
    }
}

pub fn canonical_mechanism(name: &[u8]) -> String {
    String::from_utf8_lossy(name).to_ascii_uppercase()
}
