//! Session settings: `SET`, `SHOW`, `RESET` with PostgreSQL's names, defaults and rules.
//!
//! Known parameters have a default and may be read-only; parameters marked *reported* are sent
//! to the client as `ParameterStatus` when they change (as PostgreSQL does for `GUC_REPORT`
//! parameters), so drivers learn e.g. the new `DateStyle`. Names with a dot are custom
//! parameters (PostgreSQL's placeholder variables) and are kept as given, except those starting
//! with `datafusion.`, which configure the query engine of this session.

use std::collections::BTreeMap;

use pgwire::types::format::FormatOptions;
use runnel_sql::{SqlError, SqlState};

/// How a parameter may be changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    ReadWrite,
    ReadOnly,
}

/// A built-in parameter: canonical name, default, access, whether it is reported.
struct Parameter {
    name: &'static str,
    default: &'static str,
    access: Access,
    reported: bool,
    description: &'static str,
}

const fn param(
    name: &'static str,
    default: &'static str,
    access: Access,
    reported: bool,
    description: &'static str,
) -> Parameter {
    Parameter {
        name,
        default,
        access,
        reported,
        description,
    }
}

const fn rw(
    name: &'static str,
    default: &'static str,
    reported: bool,
    description: &'static str,
) -> Parameter {
    param(name, default, Access::ReadWrite, reported, description)
}

const fn ro(
    name: &'static str,
    default: &'static str,
    reported: bool,
    description: &'static str,
) -> Parameter {
    param(name, default, Access::ReadOnly, reported, description)
}

const PARAMETERS: &[Parameter] = &[
    rw(
        "application_name",
        "",
        true,
        "Sets the application name to be reported in statistics and logs.",
    ),
    rw(
        "bytea_output",
        "hex",
        false,
        "Sets the output format for bytea.",
    ),
    rw(
        "client_encoding",
        "UTF8",
        true,
        "Sets the client's character set encoding (only UTF8).",
    ),
    rw(
        "client_min_messages",
        "notice",
        false,
        "Sets the message levels that are sent to the client.",
    ),
    rw(
        "DateStyle",
        "ISO, MDY",
        true,
        "Sets the display format for date and time values.",
    ),
    rw(
        "default_transaction_isolation",
        "read committed",
        false,
        "Sets the transaction isolation level of each new transaction.",
    ),
    rw(
        "default_transaction_read_only",
        "off",
        true,
        "Sets the default read-only status of new transactions.",
    ),
    rw(
        "extra_float_digits",
        "1",
        false,
        "Sets the number of digits displayed for floating-point values.",
    ),
    rw(
        "idle_in_transaction_session_timeout",
        "0",
        false,
        "Accepted for compatibility; Runnel does not time out idle sessions.",
    ),
    ro(
        "integer_datetimes",
        "on",
        true,
        "Shows whether datetimes are integer based.",
    ),
    rw(
        "IntervalStyle",
        "postgres",
        true,
        "Sets the display format for interval values.",
    ),
    ro(
        "is_superuser",
        "on",
        true,
        "Shows whether the current user is a superuser.",
    ),
    rw(
        "jit",
        "off",
        false,
        "Accepted for compatibility; Runnel has no JIT.",
    ),
    rw(
        "lock_timeout",
        "0",
        false,
        "Accepted for compatibility; Runnel takes no user-visible locks.",
    ),
    ro(
        "max_identifier_length",
        "63",
        false,
        "Shows the maximum identifier length.",
    ),
    rw(
        "search_path",
        "\"$user\", public",
        true,
        "Sets the schema search order for names that are not schema-qualified.",
    ),
    ro(
        "server_encoding",
        "UTF8",
        true,
        "Shows the server (database) character set encoding.",
    ),
    ro(
        "server_version",
        crate::PG_SERVER_VERSION,
        true,
        "Shows the PostgreSQL version Runnel presents.",
    ),
    ro(
        "server_version_num",
        "160006",
        false,
        "Shows the PostgreSQL version Runnel presents, as an integer.",
    ),
    rw(
        "session_authorization",
        "runnel",
        true,
        "Shows the session user name.",
    ),
    rw(
        "standard_conforming_strings",
        "on",
        true,
        "Causes '...' strings to treat backslashes literally (only on).",
    ),
    rw(
        "statement_timeout",
        "0",
        false,
        "Accepted for compatibility; not enforced yet (cancel requests work).",
    ),
    rw(
        "synchronous_commit",
        "on",
        false,
        "Runnel always syncs commits.",
    ),
    rw(
        "TimeZone",
        "UTC",
        true,
        "Sets the time zone for displaying and interpreting time stamps.",
    ),
    rw(
        "transaction_isolation",
        "read committed",
        false,
        "Shows the current transaction's isolation level.",
    ),
    rw(
        "transaction_read_only",
        "off",
        false,
        "Shows whether the current transaction is read-only.",
    ),
];

fn parameter(name: &str) -> Option<&'static Parameter> {
    PARAMETERS
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(name))
}

/// Values PostgreSQL accepts for a parameter Runnel can only honour in one way.
fn check_value(parameter: &Parameter, value: &str) -> Result<(), SqlError> {
    let only = |allowed: &[&str]| {
        if allowed.iter().any(|a| a.eq_ignore_ascii_case(value)) {
            Ok(())
        } else {
            Err(SqlError::new(
                SqlState::INVALID_PARAMETER_VALUE,
                format!(
                    "invalid value for parameter \"{}\": \"{value}\"",
                    parameter.name
                ),
            )
            .with_detail(format!("Runnel supports only {}", allowed.join(", "))))
        }
    };
    match parameter.name {
        "client_encoding" => only(&["UTF8", "UTF-8", "unicode"]),
        "standard_conforming_strings" => only(&["on", "true", "1"]),
        "bytea_output" => only(&["hex", "escape"]),
        "extra_float_digits" => match value.parse::<i8>() {
            Ok(-15..=3) => Ok(()),
            _ => Err(SqlError::new(
                SqlState::INVALID_PARAMETER_VALUE,
                format!(
                    "{value} is outside the valid range for parameter \"extra_float_digits\" (-15 .. 3)"
                ),
            )),
        },
        _ => Ok(()),
    }
}

/// What a `SET` or `RESET` changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SettingChange {
    /// Reported parameters whose value changed, to send as `ParameterStatus`.
    pub reported: Vec<(String, String)>,
    /// `datafusion.*` options to apply to the session's query engine.
    pub engine: Vec<(String, String)>,
}

/// The settings of one session.
#[derive(Debug, Default)]
pub struct Settings {
    /// Values that differ from the default, by lower-case name.
    values: BTreeMap<String, String>,
}

impl Settings {
    /// Current value of `name` (case-insensitive), or the error PostgreSQL gives for an unknown
    /// parameter.
    pub fn get(&self, name: &str) -> Result<String, SqlError> {
        let key = name.to_ascii_lowercase();
        if let Some(value) = self.values.get(&key) {
            return Ok(value.clone());
        }
        match parameter(name) {
            Some(p) => Ok(p.default.to_string()),
            None => Err(unrecognized(name)),
        }
    }

    /// The canonical spelling of a parameter name (`DateStyle` for `datestyle`).
    pub fn canonical_name(name: &str) -> String {
        parameter(name)
            .map(|p| p.name.to_string())
            .unwrap_or_else(|| name.to_ascii_lowercase())
    }

    /// `SET name = value`.
    pub fn set(&mut self, name: &str, value: &str) -> Result<SettingChange, SqlError> {
        let key = name.to_ascii_lowercase();
        let mut change = SettingChange::default();
        match parameter(name) {
            Some(p) if p.access == Access::ReadOnly => {
                return Err(SqlError::new(
                    SqlState::CANT_CHANGE_RUNTIME_PARAM,
                    format!("parameter \"{}\" cannot be changed", p.name),
                ));
            }
            Some(p) => {
                check_value(p, value)?;
                let value = if p.name == "client_encoding" {
                    "UTF8".to_string()
                } else {
                    value.to_string()
                };
                if p.reported && self.get(name)? != value {
                    change.reported.push((p.name.to_string(), value.clone()));
                }
                self.values.insert(key, value);
            }
            None if key.starts_with("datafusion.") => {
                change.engine.push((key.clone(), value.to_string()));
                self.values.insert(key, value.to_string());
            }
            None if key.contains('.') => {
                self.values.insert(key, value.to_string());
            }
            None => return Err(unrecognized(name)),
        }
        Ok(change)
    }

    /// `RESET name`.
    pub fn reset(&mut self, name: &str) -> Result<SettingChange, SqlError> {
        let key = name.to_ascii_lowercase();
        match parameter(name) {
            Some(p) if p.access == Access::ReadOnly => Err(SqlError::new(
                SqlState::CANT_CHANGE_RUNTIME_PARAM,
                format!("parameter \"{}\" cannot be changed", p.name),
            )),
            Some(p) => self.set(p.name, p.default),
            None if key.contains('.') => {
                self.values.remove(&key);
                Ok(SettingChange::default())
            }
            None => Err(unrecognized(name)),
        }
    }

    /// `RESET ALL`.
    pub fn reset_all(&mut self) -> SettingChange {
        let mut change = SettingChange::default();
        let keys: Vec<String> = self.values.keys().cloned().collect();
        for key in keys {
            if let Ok(mut one) = self.reset(&key) {
                change.reported.append(&mut one.reported);
            } else {
                self.values.remove(&key);
            }
        }
        change
    }

    /// `SHOW ALL`: every built-in parameter, then custom ones, with descriptions.
    pub fn all(&self) -> Vec<(String, String, String)> {
        let mut rows: Vec<(String, String, String)> = PARAMETERS
            .iter()
            .map(|p| {
                let value = self.get(p.name).unwrap_or_else(|_| p.default.to_string());
                (p.name.to_string(), value, p.description.to_string())
            })
            .collect();
        for (key, value) in &self.values {
            if parameter(key).is_none() {
                rows.push((key.clone(), value.clone(), String::new()));
            }
        }
        rows
    }

    /// Formatting options for result values, from `DateStyle`, `IntervalStyle`, `TimeZone`,
    /// `bytea_output` and `extra_float_digits`.
    pub fn format_options(&self) -> FormatOptions {
        let mut options = FormatOptions::default();
        let get = |name: &str| self.get(name).unwrap_or_default();
        options.date_style = get("DateStyle");
        options.interval_style = get("IntervalStyle");
        options.bytea_output = get("bytea_output");
        options.time_zone = get("TimeZone");
        options.extra_float_digits = get("extra_float_digits").parse().unwrap_or(1);
        options
    }
}

fn unrecognized(name: &str) -> SqlError {
    SqlError::new(
        SqlState::UNDEFINED_OBJECT,
        format!(
            "unrecognized configuration parameter \"{}\"",
            name.to_ascii_lowercase()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_show_reset_round_trip() {
        let mut settings = Settings::default();
        assert_eq!(settings.get("datestyle").expect("known"), "ISO, MDY");
        let change = settings.set("DATESTYLE", "ISO, DMY").expect("settable");
        assert_eq!(
            change.reported,
            vec![("DateStyle".to_string(), "ISO, DMY".to_string())]
        );
        assert_eq!(settings.get("DateStyle").expect("known"), "ISO, DMY");
        settings.reset("datestyle").expect("resettable");
        assert_eq!(settings.get("DateStyle").expect("known"), "ISO, MDY");
    }

    #[test]
    fn unknown_and_read_only_parameters_are_errors() {
        let mut settings = Settings::default();
        let error = settings.set("no_such_thing", "1").expect_err("unknown");
        assert_eq!(error.state, SqlState::UNDEFINED_OBJECT);
        let error = settings.set("server_version", "1").expect_err("read-only");
        assert_eq!(error.state, SqlState::CANT_CHANGE_RUNTIME_PARAM);
        assert!(settings.get("nope").is_err());
    }

    #[test]
    fn custom_and_engine_parameters() {
        let mut settings = Settings::default();
        settings.set("myapp.flag", "x").expect("custom");
        assert_eq!(settings.get("MYAPP.FLAG").expect("set"), "x");
        let change = settings
            .set("datafusion.execution.batch_size", "1024")
            .expect("engine");
        assert_eq!(change.engine.len(), 1);
    }

    #[test]
    fn only_utf8_client_encoding() {
        let mut settings = Settings::default();
        assert!(settings.set("client_encoding", "LATIN1").is_err());
        settings
            .set("client_encoding", "utf-8")
            .expect("utf8 spelling");
        assert_eq!(settings.get("client_encoding").expect("set"), "UTF8");
    }
}
