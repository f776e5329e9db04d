//! Errors at the protocol edge: the one place where SQL errors become SQLSTATEs.
//!
//! The planner reports what went wrong as a [`planner::ErrorKind`] plus PostgreSQL's wording;
//! it never deals in five-character codes. The server adds the errors only the protocol layer
//! can detect (a Bind with the wrong number of parameters, binary data of the wrong length, a
//! portal that does not exist, a panic inside a session). Both end up as a [`SqlError`], which
//! is what an ErrorResponse carries: severity, SQLSTATE, message, and the optional DETAIL, HINT
//! and cursor position.
//!
//! [`sqlstate`] is an exhaustive `match` on purpose: a new `ErrorKind` does not compile until
//! it has a code here.

use pgwire::error::ErrorInfo;
use sledgres_planner as planner;
use sledgres_planner::ErrorKind;
use std::fmt;

/// The SQLSTATE PostgreSQL sends for each kind of planner error.
pub fn sqlstate(kind: ErrorKind) -> &'static str {
    use ErrorKind::*;
    match kind {
        SyntaxError => "42601",
        UndefinedTable => "42P01",
        UndefinedColumn => "42703",
        AmbiguousColumn => "42702",
        DuplicateTable => "42P07",
        DuplicateColumn => "42701",
        UndefinedObject => "42704",
        DuplicateObject => "42710",
        DatatypeMismatch => "42804",
        UndefinedFunction => "42883",
        AmbiguousFunction => "42725",
        GroupingError => "42803",
        InvalidColumnReference => "42P10",
        IndeterminateDatatype => "42P18",
        CannotCoerce => "42846",
        UndefinedParameter => "42P02",
        WrongObjectType => "42809",
        FeatureNotSupported => "0A000",
        NumericValueOutOfRange => "22003",
        DivisionByZero => "22012",
        InvalidTextRepresentation => "22P02",
        InvalidRegularExpression => "2201B",
        StringDataRightTruncation => "22001",
        InvalidParameterValue => "22023",
        DatetimeFieldOverflow => "22008",
        InvalidDatetimeFormat => "22007",
        InvalidArgumentForLogarithm => "2201E",
        InvalidArgumentForPowerFunction => "2201F",
        CardinalityViolation => "21000",
        NullValueNotAllowed => "22004",
        UniqueViolation => "23505",
        NotNullViolation => "23502",
        ForeignKeyViolation => "23503",
        CheckViolation => "23514",
        InvalidForeignKey => "42830",
        ObjectNotInPrerequisiteState => "55000",
        SequenceGeneratorLimitExceeded => "2200H",
        GeneratedAlways => "428C9",
        DependentObjectsStillExist => "2BP01",
        InvalidTableDefinition => "42P16",
        BadCopyFileFormat => "22P04",
        CharacterNotInRepertoire => "22021",
        InFailedTransaction => "25P02",
        ActiveSqlTransaction => "25001",
        NoActiveSqlTransaction => "25P01",
        ReadOnlySqlTransaction => "25006",
        InvalidSavepointSpecification => "3B001",
        InvalidSqlStatementName => "26000",
        InvalidCursorName => "34000",
        ProtocolViolation => "08P01",
        SerializationFailure => "40001",
        DeadlockDetected => "40P01",
        LockNotAvailable => "55P03",
        QueryCanceled => "57014",
        OutOfMemory => "53200",
        IoError => "58030",
        InsufficientPrivilege => "42501",
        Internal => "XX000",
    }
}

/// SQLSTATEs the server itself raises (outside the planner's vocabulary).
pub mod code {
    pub const PROTOCOL_VIOLATION: &str = "08P01";
    pub const INVALID_BINARY_REPRESENTATION: &str = "22P03";
    pub const CHARACTER_NOT_IN_REPERTOIRE: &str = "22021";
    pub const INVALID_SQL_STATEMENT_NAME: &str = "26000";
    pub const INVALID_CURSOR_NAME: &str = "34000";
    pub const DUPLICATE_PREPARED_STATEMENT: &str = "42P05";
    pub const DUPLICATE_CURSOR: &str = "42P03";
    pub const SYNTAX_ERROR: &str = "42601";
    pub const FEATURE_NOT_SUPPORTED: &str = "0A000";
    pub const INVALID_AUTHORIZATION: &str = "28000";
    pub const ADMIN_SHUTDOWN: &str = "57P01";
    pub const OBJECT_NOT_IN_PREREQUISITE_STATE: &str = "55000";
    pub const INTERNAL: &str = "XX000";
}

/// `ERROR` aborts the statement; `FATAL` also ends the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Fatal,
}

/// One ErrorResponse's content.
#[derive(Clone, Debug, PartialEq)]
pub struct SqlError {
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
    /// 1-based character position in the statement text.
    pub position: Option<u32>,
    /// CONTEXT: where it happened (e.g. the COPY input line). Boxed text keeps the
    /// error small enough to pass around in `Result`s cheaply.
    pub context: Option<Box<str>>,
}

impl SqlError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        SqlError {
            severity: Severity::Error,
            code,
            message: message.into(),
            detail: None,
            hint: None,
            position: None,
            context: None,
        }
    }

    pub fn fatal(code: &'static str, message: impl Into<String>) -> Self {
        SqlError {
            severity: Severity::Fatal,
            ..SqlError::new(code, message)
        }
    }

    pub fn protocol(message: impl Into<String>) -> Self {
        SqlError::new(code::PROTOCOL_VIOLATION, message)
    }

    /// What a client sees when a session call panicked: an internal error, never a crash.
    pub fn from_panic(payload: &(dyn std::any::Any + Send)) -> Self {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        SqlError::new(code::INTERNAL, format!("internal error: {what}"))
    }

    /// The ErrorResponse fields as pgwire encodes them.
    pub fn to_error_info(&self) -> ErrorInfo {
        let severity = match self.severity {
            Severity::Error => "ERROR",
            Severity::Fatal => "FATAL",
        };
        let mut info = ErrorInfo::new(
            severity.to_string(),
            self.code.to_string(),
            self.message.clone(),
        );
        info.severity_nonlocalized = Some(severity.to_string());
        info.detail = self.detail.clone();
        info.hint = self.hint.clone();
        info.position = self.position.map(|p| p.to_string());
        info.where_context = self.context.as_deref().map(str::to_string);
        info
    }
}

impl From<planner::Error> for SqlError {
    fn from(e: planner::Error) -> Self {
        SqlError {
            severity: Severity::Error,
            code: sqlstate(e.kind),
            message: e.message,
            detail: e.detail,
            hint: e.hint,
            position: e.position.and_then(|p| u32::try_from(p).ok()),
            context: e.context.map(String::into_boxed_str),
        }
    }
}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for SqlError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind, listed once. `sqlstate` is exhaustive, so this list only has to stay in
    /// step with the codes documented on the enum.
    const ALL_KINDS: &[ErrorKind] = &[
        ErrorKind::SyntaxError,
        ErrorKind::UndefinedTable,
        ErrorKind::UndefinedColumn,
        ErrorKind::AmbiguousColumn,
        ErrorKind::DuplicateTable,
        ErrorKind::DuplicateColumn,
        ErrorKind::UndefinedObject,
        ErrorKind::DuplicateObject,
        ErrorKind::DatatypeMismatch,
        ErrorKind::UndefinedFunction,
        ErrorKind::AmbiguousFunction,
        ErrorKind::GroupingError,
        ErrorKind::InvalidColumnReference,
        ErrorKind::IndeterminateDatatype,
        ErrorKind::CannotCoerce,
        ErrorKind::UndefinedParameter,
        ErrorKind::WrongObjectType,
        ErrorKind::FeatureNotSupported,
        ErrorKind::NumericValueOutOfRange,
        ErrorKind::DivisionByZero,
        ErrorKind::InvalidTextRepresentation,
        ErrorKind::StringDataRightTruncation,
        ErrorKind::InvalidParameterValue,
        ErrorKind::DatetimeFieldOverflow,
        ErrorKind::InvalidDatetimeFormat,
        ErrorKind::InvalidArgumentForLogarithm,
        ErrorKind::InvalidArgumentForPowerFunction,
        ErrorKind::CardinalityViolation,
        ErrorKind::NullValueNotAllowed,
        ErrorKind::UniqueViolation,
        ErrorKind::NotNullViolation,
        ErrorKind::ForeignKeyViolation,
        ErrorKind::CheckViolation,
        ErrorKind::InvalidForeignKey,
        ErrorKind::ObjectNotInPrerequisiteState,
        ErrorKind::SequenceGeneratorLimitExceeded,
        ErrorKind::GeneratedAlways,
        ErrorKind::DependentObjectsStillExist,
        ErrorKind::InvalidTableDefinition,
        ErrorKind::BadCopyFileFormat,
        ErrorKind::CharacterNotInRepertoire,
        ErrorKind::InFailedTransaction,
        ErrorKind::ActiveSqlTransaction,
        ErrorKind::NoActiveSqlTransaction,
        ErrorKind::ReadOnlySqlTransaction,
        ErrorKind::InvalidSavepointSpecification,
        ErrorKind::InvalidSqlStatementName,
        ErrorKind::InvalidCursorName,
        ErrorKind::ProtocolViolation,
        ErrorKind::SerializationFailure,
        ErrorKind::DeadlockDetected,
        ErrorKind::LockNotAvailable,
        ErrorKind::QueryCanceled,
        ErrorKind::OutOfMemory,
        ErrorKind::IoError,
        ErrorKind::InsufficientPrivilege,
        ErrorKind::Internal,
    ];

    #[test]
    fn every_kind_has_a_distinct_well_formed_sqlstate() {
        let mut seen = std::collections::HashSet::new();
        for kind in ALL_KINDS {
            let code = sqlstate(*kind);
            assert_eq!(code.len(), 5, "{kind:?}");
            assert!(code
                .chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
            assert!(seen.insert(code), "{kind:?} shares {code}");
        }
    }

    #[test]
    fn the_issue_codes_are_exact() {
        assert_eq!(sqlstate(ErrorKind::SyntaxError), "42601");
        assert_eq!(sqlstate(ErrorKind::UndefinedTable), "42P01");
        assert_eq!(sqlstate(ErrorKind::UndefinedColumn), "42703");
        assert_eq!(sqlstate(ErrorKind::DuplicateTable), "42P07");
        assert_eq!(sqlstate(ErrorKind::DatatypeMismatch), "42804");
        assert_eq!(sqlstate(ErrorKind::UndefinedFunction), "42883");
        assert_eq!(sqlstate(ErrorKind::NumericValueOutOfRange), "22003");
        assert_eq!(sqlstate(ErrorKind::DivisionByZero), "22012");
        assert_eq!(sqlstate(ErrorKind::InvalidTextRepresentation), "22P02");
        assert_eq!(sqlstate(ErrorKind::UniqueViolation), "23505");
        assert_eq!(sqlstate(ErrorKind::NotNullViolation), "23502");
        assert_eq!(sqlstate(ErrorKind::InFailedTransaction), "25P02");
        assert_eq!(sqlstate(ErrorKind::SerializationFailure), "40001");
    }

    #[test]
    fn planner_error_fields_reach_the_error_response() {
        let e = planner::Error::new(ErrorKind::SyntaxError, "syntax error at or near \"SELEC\"")
            .with_position(1)
            .with_hint("h")
            .with_detail("d");
        let info = SqlError::from(e).to_error_info();
        assert_eq!(info.severity, "ERROR");
        assert_eq!(info.code, "42601");
        assert_eq!(info.message, "syntax error at or near \"SELEC\"");
        assert_eq!(info.position.as_deref(), Some("1"));
        assert_eq!(info.hint.as_deref(), Some("h"));
        assert_eq!(info.detail.as_deref(), Some("d"));
    }

    #[test]
    fn panic_payloads_become_internal_errors() {
        let payload: Box<dyn std::any::Any + Send> = Box::new("boom");
        let e = SqlError::from_panic(payload.as_ref());
        assert_eq!(e.code, "XX000");
        assert!(e.message.contains("boom"));
    }
}
