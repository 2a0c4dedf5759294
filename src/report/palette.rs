//! Terminal colours by severity. The library draws with a [`Palette`];
//! which one, and whether any, is the caller's decision (the binary has
//! the one stripwatch uses, and colours only a terminal without NO_COLOR).

use crate::analysis::Severity;
use comfy_table::Color;

/// A terminal colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hue {
    /// The terminal's own.
    Default,
    /// ANSI cyan.
    Cyan,
    /// ANSI yellow.
    Yellow,
    /// ANSI red.
    Red,
    /// ANSI magenta.
    Magenta,
}

/// The colour of each severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Palette {
    /// [`Severity::Info`]'s.
    pub info: Hue,
    /// [`Severity::Low`]'s.
    pub low: Hue,
    /// [`Severity::Medium`]'s.
    pub medium: Hue,
    /// [`Severity::High`]'s.
    pub high: Hue,
    /// [`Severity::Critical`]'s.
    pub critical: Hue,
}

impl Palette {
    /// The colour of `severity`.
    pub(crate) fn hue(&self, severity: Severity) -> Hue {
        match severity {
            Severity::Info => self.info,
            Severity::Low => self.low,
            Severity::Medium => self.medium,
            Severity::High => self.high,
            Severity::Critical => self.critical,
        }
    }

    /// A table cell's colour for `severity`.
    pub(crate) fn cell(&self, severity: Severity) -> Color {
        match self.hue(severity) {
            Hue::Default => Color::Reset,
            Hue::Cyan => Color::Cyan,
            Hue::Yellow => Color::Yellow,
            Hue::Red => Color::Red,
            Hue::Magenta => Color::Magenta,
        }
    }

    /// `text` in `severity`'s colour (ANSI SGR).
    pub(crate) fn paint(&self, severity: Severity, text: &str) -> String {
        let code = match self.hue(severity) {
            Hue::Default => "0",
            Hue::Cyan => "36",
            Hue::Yellow => "33",
            Hue::Red => "31",
            Hue::Magenta => "35",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }
}
