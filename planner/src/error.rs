//! The planner's error type: what went wrong, in terms a SQL client understands.
//!
//! Each error has a [`ErrorKind`] (which the server maps to a SQLSTATE, once, at the protocol
//! edge), PostgreSQL's message wording, and the optional DETAIL, HINT and cursor position
//! (1-based character offset into the statement text, for syntax and binding errors).

use sledgres_storage as storage;
use std::fmt;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The kinds of error a client can tell apart. Each maps to exactly one SQLSTATE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// 42601
    SyntaxError,
    /// 42P01
    UndefinedTable,
    /// 42703
    UndefinedColumn,
    /// 42702
    AmbiguousColumn,
    /// 42P07
    DuplicateTable,
    /// 42701
    DuplicateColumn,
    /// 42704 (type, index, …)
    UndefinedObject,
    /// 42710
    DuplicateObject,
    /// 42804
    DatatypeMismatch,
    /// 42883
    UndefinedFunction,
    /// 42725
    AmbiguousFunction,
    /// 42803
    GroupingError,
    /// 42P10
    InvalidColumnReference,
    /// 42P18
    IndeterminateDatatype,
    /// 42846
    CannotCoerce,
    /// 42P02
    UndefinedParameter,
    /// 42809
    WrongObjectType,
    /// 0A000
    FeatureNotSupported,
    /// 22003
    NumericValueOutOfRange,
    /// 22012
    DivisionByZero,
    /// 22P02
    InvalidTextRepresentation,
    /// 2201B
    InvalidRegularExpression,
    /// 22001
    StringDataRightTruncation,
    /// 22023
    InvalidParameterValue,
    /// 22008
    DatetimeFieldOverflow,
    /// 22007
    InvalidDatetimeFormat,
    /// 2201E
    InvalidArgumentForLogarithm,
    /// 2201F
    InvalidArgumentForPowerFunction,
    /// 21000
    CardinalityViolation,
    /// 22004
    NullValueNotAllowed,
    /// 23505
    UniqueViolation,
    /// 23502
    NotNullViolation,
    /// 23503
    ForeignKeyViolation,
    /// 23514
    CheckViolation,
    /// 42830
    InvalidForeignKey,
    /// 55000
    ObjectNotInPrerequisiteState,
    /// 2200H
    SequenceGeneratorLimitExceeded,
    /// 428C9
    GeneratedAlways,
    /// 2BP01
    DependentObjectsStillExist,
    /// 42P16
    InvalidTableDefinition,
    /// 22P04 (COPY input that does not fit the format)
    BadCopyFileFormat,
    /// 22021 (bytes that are not valid UTF-8)
    CharacterNotInRepertoire,
    /// 25P02
    InFailedTransaction,
    /// 25001
    ActiveSqlTransaction,
    /// 25P01
    NoActiveSqlTransaction,
    /// 25006
    ReadOnlySqlTransaction,
    /// 3B001
    InvalidSavepointSpecification,
    /// 26000
    InvalidSqlStatementName,
    /// 34000
    InvalidCursorName,
    /// 08P01
    ProtocolViolation,
    /// 40001
    SerializationFailure,
    /// 40P01
    DeadlockDetected,
    /// 55P03
    LockNotAvailable,
    /// 57014
    QueryCanceled,
    /// 53200
    OutOfMemory,
    /// 58030
    IoError,
    /// 42501
    InsufficientPrivilege,
    /// XX000
    Internal,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
    /// 1-based character position in the statement text.
    pub position: Option<usize>,
    /// Where it happened (ErrorResponse's CONTEXT, e.g. `COPY t, line 3, column b: "x"`).
    pub context: Option<String>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            detail: None,
            hint: None,
            position: None,
            context: None,
        }
    }
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    pub fn with_position(mut self, position: usize) -> Self {
        self.position = Some(position);
        self
    }
    pub fn with_context(mut self, context: impl Into<String>) -> Self {
        self.context = Some(context.into());
        self
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Internal, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<storage::Error> for Error {
    fn from(e: storage::Error) -> Self {
        use storage::Error as S;
        let message = e.to_string();
        match e {
            S::Serialization { detail, hint, .. } => Error {
                kind: ErrorKind::SerializationFailure,
                message,
                detail,
                hint,
                position: None,
                context: None,
            },
            S::Deadlock { detail } => {
                Error::new(ErrorKind::DeadlockDetected, message).with_detail(detail)
            }
            S::LockNotAvailable(_) => Error::new(ErrorKind::LockNotAvailable, message),
            S::Cancelled(_) => Error::new(ErrorKind::QueryCanceled, message),
            S::UniqueViolation {
                columns, values, ..
            } => {
                let values: Vec<String> = values
                    .iter()
                    .map(|v| crate::scalar::format_text(v, 1))
                    .collect();
                Error::new(ErrorKind::UniqueViolation, message).with_detail(format!(
                    "Key ({})=({}) already exists.",
                    columns.join(", "),
                    values.join(", ")
                ))
            }
            S::DuplicateTable(_) => Error::new(ErrorKind::DuplicateTable, message),
            S::UndefinedTable(_) => Error::new(ErrorKind::UndefinedTable, message),
            S::ReadOnly(_) => Error::new(ErrorKind::ReadOnlySqlTransaction, message),
            S::DataDirLocked(_) | S::Io(_) => Error::new(ErrorKind::IoError, message),
            S::Internal(_) => Error::new(ErrorKind::Internal, message),
        }
    }
}
