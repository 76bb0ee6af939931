//! Server configuration: defaults, an optional TOML file, environment variables and flags.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Everything `runnel serve` needs to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Address to listen on.
    pub host: String,
    /// Port to listen on (0 picks a free port; the chosen one is logged).
    pub port: u16,
    /// Directory holding the store.
    pub data_dir: PathBuf,
    /// `tracing` log filter.
    pub log: String,
    /// Time between two checkpoints of a job (`checkpoint.interval`; a job may set its own with
    /// `SET 'execution.checkpointing.interval'`).
    pub checkpoint_interval: Duration,
    /// Bytes of operator state the jobs of the server may hold in memory together
    /// (`state.memory-budget`); beyond it, window state moves to the store.
    pub state_memory_budget: usize,
}

/// The default `state.memory-budget`: 1 GiB.
pub const DEFAULT_MEMORY_BUDGET: usize = 1 << 30;

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            host: "127.0.0.1".to_string(),
            port: 4566,
            data_dir: PathBuf::from("runnel-data"),
            log: "info".to_string(),
            checkpoint_interval: Duration::from_secs(1),
            state_memory_budget: DEFAULT_MEMORY_BUDGET,
        }
    }
}

/// Values given on the command line or in the environment; `None` means "not given".
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ConfigOverrides {
    /// Address to listen on.
    pub host: Option<String>,
    /// Port to listen on.
    pub port: Option<u16>,
    /// Data directory.
    pub data_dir: Option<PathBuf>,
    /// Log filter.
    pub log: Option<String>,
    /// Checkpoint interval, as Flink writes durations (`1s`, `500 ms`, `1 min`).
    pub checkpoint_interval: Option<String>,
    /// Memory budget for operator state, as Flink writes memory sizes (`512mb`, `2 gb`).
    pub state_memory_budget: Option<String>,
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown keys.
    #[error("invalid configuration file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A value has the wrong form.
    #[error("invalid {key}: {message}")]
    Value {
        /// The setting.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl ServerConfig {
    /// Builds the configuration: `overrides` (flags and environment) win over `file`, which
    /// wins over the defaults.
    pub fn load(file: Option<&Path>, overrides: ConfigOverrides) -> Result<Self, ConfigError> {
        let from_file = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })?;
                toml::from_str::<ConfigOverrides>(&text).map_err(|e| ConfigError::Parse {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                })?
            }
            None => ConfigOverrides::default(),
        };
        let defaults = ServerConfig::default();
        Ok(ServerConfig {
            host: overrides.host.or(from_file.host).unwrap_or(defaults.host),
            port: overrides.port.or(from_file.port).unwrap_or(defaults.port),
            data_dir: overrides
                .data_dir
                .or(from_file.data_dir)
                .unwrap_or(defaults.data_dir),
            log: overrides.log.or(from_file.log).unwrap_or(defaults.log),
            checkpoint_interval: match overrides
                .checkpoint_interval
                .or(from_file.checkpoint_interval)
            {
                Some(text) => parse_interval(&text)?,
                None => defaults.checkpoint_interval,
            },
            state_memory_budget: match overrides
                .state_memory_budget
                .or(from_file.state_memory_budget)
            {
                Some(text) => parse_budget(&text)?,
                None => defaults.state_memory_budget,
            },
        })
    }
}

/// A checkpoint interval: a Flink duration of at least 10 ms.
fn parse_interval(text: &str) -> Result<Duration, ConfigError> {
    let value = |message: String| ConfigError::Value {
        key: "checkpoint interval",
        message,
    };
    let interval = runnel_connectors::options::parse_duration(text).map_err(value)?;
    if interval < Duration::from_millis(10) {
        return Err(value(format!("'{text}' is below the minimum of 10 ms")));
    }
    Ok(interval)
}

/// A memory budget: a Flink memory size of at least 1 MiB.
fn parse_budget(text: &str) -> Result<usize, ConfigError> {
    let value = |message: String| ConfigError::Value {
        key: "state memory budget",
        message,
    };
    let bytes = runnel_connectors::options::parse_memory_size(text).map_err(value)?;
    if bytes < 1 << 20 {
        return Err(value(format!("'{text}' is below the minimum of 1 mb")));
    }
    Ok(usize::try_from(bytes).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_file_beat_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("runnel.toml");
        std::fs::write(&path, "port = 7000\ndata_dir = \"/srv/runnel\"\n").expect("write");
        let config = ServerConfig::load(
            Some(&path),
            ConfigOverrides {
                port: Some(7001),
                ..Default::default()
            },
        )
        .expect("loads");
        assert_eq!(config.port, 7001);
        assert_eq!(config.data_dir, PathBuf::from("/srv/runnel"));
        assert_eq!(config.host, "127.0.0.1");
        assert_eq!(config.checkpoint_interval, Duration::from_secs(1));
    }

    #[test]
    fn memory_budget_from_file_or_flag() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("runnel.toml");
        std::fs::write(&path, "state_memory_budget = \"64 mb\"\n").expect("write");
        let config = ServerConfig::load(Some(&path), ConfigOverrides::default()).expect("load");
        assert_eq!(config.state_memory_budget, 64 << 20);
        let config = ServerConfig::load(
            Some(&path),
            ConfigOverrides {
                state_memory_budget: Some("2gb".into()),
                ..Default::default()
            },
        )
        .expect("load");
        assert_eq!(config.state_memory_budget, 2 << 30);
        assert_eq!(
            ServerConfig::load(None, ConfigOverrides::default())
                .expect("load")
                .state_memory_budget,
            DEFAULT_MEMORY_BUDGET
        );
        for bad in ["lots", "100kb"] {
            let error = ServerConfig::load(
                None,
                ConfigOverrides {
                    state_memory_budget: Some(bad.into()),
                    ..Default::default()
                },
            )
            .expect_err("refused");
            assert!(error.to_string().contains("state memory budget"), "{error}");
        }
    }

    #[test]
    fn checkpoint_interval_from_file_or_flag() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("runnel.toml");
        std::fs::write(&path, "checkpoint_interval = \"5 s\"\n").expect("write");
        let config = ServerConfig::load(Some(&path), ConfigOverrides::default()).expect("loads");
        assert_eq!(config.checkpoint_interval, Duration::from_secs(5));
        let config = ServerConfig::load(
            Some(&path),
            ConfigOverrides {
                checkpoint_interval: Some("200ms".into()),
                ..Default::default()
            },
        )
        .expect("loads");
        assert_eq!(config.checkpoint_interval, Duration::from_millis(200));
        let error = ServerConfig::load(
            None,
            ConfigOverrides {
                checkpoint_interval: Some("1ms".into()),
                ..Default::default()
            },
        )
        .expect_err("too short");
        assert!(error.to_string().contains("10 ms"), "{error}");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("runnel.toml");
        std::fs::write(&path, "prot = 7000\n").expect("write");
        let error =
            ServerConfig::load(Some(&path), ConfigOverrides::default()).expect_err("must fail");
        assert!(error.to_string().contains("prot"), "{error}");
    }
}
