//! Runs sqllogictest (`.slt`) files against a running Runnel server.
//!
//! Runnel speaks the Postgres wire protocol, so the runner is a plain
//! Postgres client ([`tokio_postgres`]) using the *simple* query protocol:
//! values come back as the text the server prints, and that text is what
//! `.slt` result blocks spell out. Conventions follow DataFusion's and
//! RisingWave's suites: `NULL` for SQL nulls, `(empty)` for empty strings,
//! and errors rendered as `db error: ERROR: <SQLSTATE>: <message>` so that
//! `statement error` / `query error` patterns can match either part.
//!
//! The library is used by the `runnel-slt` binary and can be called from
//! integration tests that start a server first.

mod client;
mod format;

use std::fmt;
use std::path::{Path, PathBuf};

use sqllogictest::Runner;

pub use client::{
    ClientError, ConnectConfig, DEFAULT_DATABASE, DEFAULT_HOST, DEFAULT_PORT, DEFAULT_USER,
    ENGINE_NAME, RunnelDb,
};
pub use format::{EMPTY_TEXT, NULL_TEXT, format_value};

/// One `.slt` file that did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFailure {
    /// The file, as it was given to the runner.
    pub path: PathBuf,
    /// sqllogictest's report: the failing record, what was expected and
    /// what came back, and its location (`file:line`).
    pub message: String,
}

impl fmt::Display for FileFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:\n{}", self.path.display(), self.message.trim_end())
    }
}

/// Why a run of `.slt` files did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// There was nothing to run. Almost always a wrong path or an empty
    /// directory, which should not pass silently.
    #[error("no .slt files to run")]
    NoFiles,
    /// A path given to [`expand_paths`] does not exist.
    #[error("no such file or directory: {}", .0.display())]
    MissingPath(PathBuf),
    /// At least one file failed; every failure is listed, not just the first.
    #[error("{}", render_failures(.total, .failures))]
    Failed {
        /// How many files were run.
        total: usize,
        /// The files that failed, in the order they were run.
        failures: Vec<FileFailure>,
    },
}

/// The text of [`RunError::Failed`]: a summary list, then each report.
fn render_failures(total: &usize, failures: &[FileFailure]) -> String {
    let mut text = format!("{} of {} .slt files failed:\n", failures.len(), total);
    for failure in failures {
        text.push_str(&format!("  {}\n", failure.path.display()));
    }
    for failure in failures {
        text.push_str(&format!("\n--- {failure}\n"));
    }
    text
}

/// Runs one `.slt` file on a fresh session (plus any sessions its
/// `connection` records open), closing them all afterwards.
///
/// A fresh session per file keeps files independent: session settings or
/// an aborted state left by one file cannot leak into the next.
pub async fn run_file(config: &ConnectConfig, path: &Path) -> Result<(), FileFailure> {
    let config = config.clone();
    let mut runner = Runner::new(move || {
        let config = config.clone();
        async move { RunnelDb::connect(&config).await }
    });
    let result = runner.run_file_async(path).await;
    runner.shutdown_async().await;
    result.map_err(|error| FileFailure {
        path: path.to_path_buf(),
        message: error.display(false).to_string(),
    })
}

/// Runs every file against `config`, each on a fresh session, and reports
/// all failures together.
///
/// Files run one after another, in the given order: they share the
/// server's catalog, so running them concurrently could make them interfere.
pub async fn run_files_with(config: &ConnectConfig, files: &[PathBuf]) -> Result<(), RunError> {
    if files.is_empty() {
        return Err(RunError::NoFiles);
    }
    let mut failures = Vec::new();
    for file in files {
        if let Err(failure) = run_file(config, file).await {
            failures.push(failure);
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(RunError::Failed {
            total: files.len(),
            failures,
        })
    }
}

/// Runs every file against the server at `host:port` with the default user
/// and database; see [`run_files_with`].
pub async fn run_files(host: &str, port: u16, files: &[PathBuf]) -> Result<(), RunError> {
    run_files_with(&ConnectConfig::new(host, port), files).await
}

/// Finds every `*.slt` file under `dir`, recursively, sorted by path.
///
/// Sorting makes runs reproducible, since files share server state.
/// Unreadable directories are skipped, and symbolic links to directories
/// are not followed (they could form cycles); links to files are kept.
pub fn slt_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    collect_slt_files(dir, &mut files);
    files.sort();
    files
}

/// Recursive worker of [`slt_files`].
fn collect_slt_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        if file_type.is_dir() {
            collect_slt_files(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "slt") && path.is_file() {
            files.push(path);
        }
    }
}

/// Turns command-line paths into the list of files to run: a file is taken
/// as given (whatever its extension), a directory contributes its
/// [`slt_files`]. Order is kept and duplicates are dropped.
pub fn expand_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>, RunError> {
    let mut files: Vec<PathBuf> = Vec::new();
    for path in paths {
        let found = if path.is_dir() {
            slt_files(path)
        } else if path.exists() {
            vec![path.clone()]
        } else {
            return Err(RunError::MissingPath(path.clone()));
        };
        for file in found {
            if !files.contains(&file) {
                files.push(file);
            }
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn touch(path: &Path) {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create parent directory");
        }
        fs::write(path, "statement ok\nSELECT 1\n").expect("write file");
    }

    #[test]
    fn slt_files_are_found_recursively_and_sorted() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        touch(&root.join("b.slt"));
        touch(&root.join("a.slt"));
        touch(&root.join("sub/c.slt"));
        touch(&root.join("sub/deeper/a.slt"));
        touch(&root.join("notes.txt"));
        touch(&root.join("sub/d.slt.bak"));
        fs::create_dir_all(root.join("empty")).expect("empty dir");
        fs::create_dir_all(root.join("dir.slt")).expect("dir named like a file");

        let found = slt_files(root);
        let relative: Vec<_> = found
            .iter()
            .map(|p| p.strip_prefix(root).expect("under root").to_path_buf())
            .collect();
        assert_eq!(
            relative,
            vec![
                PathBuf::from("a.slt"),
                PathBuf::from("b.slt"),
                PathBuf::from("sub/c.slt"),
                PathBuf::from("sub/deeper/a.slt"),
            ]
        );
    }

    #[test]
    fn slt_files_of_missing_dir_is_empty() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(slt_files(&dir.path().join("missing")).is_empty());
    }

    #[test]
    fn expand_paths_mixes_files_and_dirs_without_duplicates() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        touch(&root.join("suite/x.slt"));
        touch(&root.join("suite/y.slt"));
        touch(&root.join("single.test"));

        let files = expand_paths(&[
            root.join("single.test"),
            root.join("suite"),
            root.join("suite/x.slt"),
        ])
        .expect("paths exist");
        assert_eq!(
            files,
            vec![
                root.join("single.test"),
                root.join("suite/x.slt"),
                root.join("suite/y.slt"),
            ]
        );
    }

    #[test]
    fn expand_paths_rejects_missing_path() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = dir.path().join("nope.slt");
        match expand_paths(std::slice::from_ref(&missing)) {
            Err(RunError::MissingPath(path)) => assert_eq!(path, missing),
            other => panic!("unexpected result {other:?}"),
        }
    }

    #[test]
    fn failed_run_lists_every_file() {
        let error = RunError::Failed {
            total: 3,
            failures: vec![
                FileFailure {
                    path: PathBuf::from("a.slt"),
                    message: "query result mismatch\nat a.slt:3\n".to_owned(),
                },
                FileFailure {
                    path: PathBuf::from("b.slt"),
                    message: "statement failed\nat b.slt:7\n".to_owned(),
                },
            ],
        };
        let text = error.to_string();
        assert!(text.starts_with("2 of 3 .slt files failed:\n  a.slt\n  b.slt\n"));
        assert!(text.contains("\n--- a.slt:\nquery result mismatch\nat a.slt:3\n"));
        assert!(text.contains("\n--- b.slt:\nstatement failed\nat b.slt:7\n"));
    }

    #[tokio::test]
    async fn running_nothing_is_an_error() {
        assert!(matches!(
            run_files("127.0.0.1", 1, &[]).await,
            Err(RunError::NoFiles)
        ));
    }
}
