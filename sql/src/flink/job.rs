//! Flink's job statements: `STOP JOB '<id>' [WITH SAVEPOINT] [WITH DRAIN]`.

use super::cursor::Cursor;
use crate::{SqlError, SqlState};

/// `STOP JOB`: stops a running job, optionally with a savepoint to resume from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopJob {
    /// The job's id as `SHOW JOBS` lists it.
    pub id: u64,
    /// `WITH SAVEPOINT`: write the job's state at its last checkpoint to a savepoint.
    pub savepoint: bool,
}

/// True when `sql` (one statement) starts with `STOP JOB`.
pub fn is_stop_job(sql: &str) -> bool {
    Cursor::new(sql).is_ok_and(|cursor| cursor.peek_word("STOP") && cursor.peek_nth_word(1, "JOB"))
}

/// Parses `STOP JOB '<id>' [WITH SAVEPOINT]` (the id quoted as in Flink, or bare).
pub fn parse_stop_job(sql: &str) -> Result<StopJob, SqlError> {
    let mut cursor = Cursor::new(sql)?;
    cursor.expect_word("STOP")?;
    cursor.expect_word("JOB")?;
    let id = match cursor.string() {
        Ok((text, position)) => text.trim().parse().map_err(|_| {
            SqlError::new(
                SqlState::INVALID_PARAMETER_VALUE,
                format!("invalid job id '{text}': SHOW JOBS lists the ids"),
            )
            .at(position)
        })?,
        Err(_) => cursor.unsigned()?.0,
    };
    let mut savepoint = false;
    while cursor.consume_word("WITH") {
        if cursor.consume_word("SAVEPOINT") {
            savepoint = true;
        } else if cursor.peek_word("DRAIN") {
            return Err(cursor.error(
                SqlState::FEATURE_NOT_SUPPORTED,
                "STOP JOB ... WITH DRAIN is not supported: a stopped job keeps its open windows in the savepoint",
            ));
        } else {
            return Err(cursor.syntax_error());
        }
    }
    cursor.expect_end()?;
    Ok(StopJob { id, savepoint })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_job_forms() {
        assert!(is_stop_job("stop job '3'"));
        assert!(!is_stop_job("SELECT 1"));
        assert_eq!(
            parse_stop_job("STOP JOB '12' WITH SAVEPOINT").expect("quoted"),
            StopJob {
                id: 12,
                savepoint: true
            }
        );
        assert_eq!(
            parse_stop_job("stop job 4").expect("bare"),
            StopJob {
                id: 4,
                savepoint: false
            }
        );
        let error = parse_stop_job("STOP JOB 'abc'").expect_err("not a number");
        assert_eq!(error.state, SqlState::INVALID_PARAMETER_VALUE);
        assert_eq!(error.position, Some(10));
        let error = parse_stop_job("STOP JOB 1 WITH DRAIN").expect_err("drain");
        assert_eq!(error.state, SqlState::FEATURE_NOT_SUPPORTED);
        let error = parse_stop_job("STOP JOB 1 WITH NOTHING").expect_err("syntax");
        assert_eq!(error.state, SqlState::SYNTAX_ERROR);
    }
}
