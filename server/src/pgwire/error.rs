//! [`SqlError`] to the wire: an `ErrorResponse` with SQLSTATE, message, position, detail, hint.

use pgwire::error::{ErrorInfo, PgWireError};
use runnel_sql::{SqlError, SqlState};

/// The `ErrorResponse` fields of an error.
pub fn error_info(error: &SqlError) -> ErrorInfo {
    let mut info = ErrorInfo::new(
        "ERROR".to_string(),
        error.state.code().to_string(),
        error.message.clone(),
    );
    info.position = error.position.map(|p| p.to_string());
    info.detail = error.detail.clone();
    info.hint = error.hint.clone();
    info
}

/// A statement error as a `pgwire` error (sent as `ErrorResponse`; the session continues).
pub fn to_pgwire(error: &SqlError) -> PgWireError {
    PgWireError::UserError(Box::new(error_info(error)))
}

/// The error of a cancelled statement.
pub fn canceled() -> SqlError {
    SqlError::new(
        SqlState::QUERY_CANCELED,
        "canceling statement due to user request",
    )
}

/// A connection-ending error (`FATAL`).
pub fn fatal(code: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "FATAL".to_string(),
        code.to_string(),
        message.into(),
    )))
}
