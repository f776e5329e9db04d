//! Notices: the WARNING and NOTICE messages a statement sends besides its result, e.g.
//! "there is already a transaction in progress" for BEGIN inside a block, or "table \"x\"
//! does not exist, skipping" for DROP TABLE IF EXISTS.
//!
//! The session queues them while a statement runs; the server drains the queue
//! ([`crate::Session::take_notices`]) and sends each as a NoticeResponse before the
//! statement's CommandComplete, which is where PostgreSQL sends them. Unlike errors they
//! carry their SQLSTATE directly: several are "successful completion" (00000), which is no
//! error kind.

/// The severity field of a NoticeResponse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Warning,
    Notice,
}

impl Severity {
    /// The (non-localised) severity text PostgreSQL sends.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "WARNING",
            Severity::Notice => "NOTICE",
        }
    }
}

/// One notice: severity, SQLSTATE and PostgreSQL's wording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
}

impl Notice {
    pub fn warning(code: &'static str, message: impl Into<String>) -> Notice {
        Notice {
            severity: Severity::Warning,
            code,
            message: message.into(),
        }
    }
    pub fn note(code: &'static str, message: impl Into<String>) -> Notice {
        Notice {
            severity: Severity::Notice,
            code,
            message: message.into(),
        }
    }
}
