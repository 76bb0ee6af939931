//! Failure injection for crash tests: named points in the commit path where a test build can
//! make the process die as `kill -9` would.
//!
//! Compiled in only with the `failpoints` feature, which the server enables for its own tests
//! (a dev-dependency on itself); release and ordinary builds have an empty [`hit`]. A test arms
//! points with the environment variable `RUNNEL_FAILPOINTS=<name>=<n>[,<name>=<n>...]`: the
//! process kills itself with SIGKILL the `n`-th time it reaches point `name`.

/// Reached before a checkpoint's store write: the epoch is not durable yet (commit step 1).
pub const BEFORE_CHECKPOINT_WRITE: &str = "checkpoint-before-write";
/// Reached by a transactional sink after its epoch is durable, before the external commit
/// (commit step 2).
pub const BEFORE_SINK_COMMIT: &str = "sink-before-commit";
/// Reached by a transactional sink right after the external commit, before anything else
/// records it (commit step 3).
pub const AFTER_SINK_COMMIT: &str = "sink-after-commit";

/// Kills the process if point `name` is armed and reached for the armed time.
#[cfg(feature = "failpoints")]
pub fn hit(name: &str) {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};

    static ARMED: OnceLock<HashMap<String, u64>> = OnceLock::new();
    static REACHED: OnceLock<Mutex<HashMap<String, u64>>> = OnceLock::new();
    let armed = ARMED.get_or_init(|| {
        std::env::var("RUNNEL_FAILPOINTS")
            .unwrap_or_default()
            .split(',')
            .filter_map(|point| {
                let (name, count) = point.split_once('=')?;
                Some((name.trim().to_string(), count.trim().parse().ok()?))
            })
            .collect()
    });
    let Some(&at) = armed.get(name) else {
        return;
    };
    let reached = {
        let mut reached = match REACHED.get_or_init(Default::default).lock() {
            Ok(reached) => reached,
            Err(poisoned) => poisoned.into_inner(),
        };
        let count = reached.entry(name.to_string()).or_insert(0);
        *count += 1;
        *count
    };
    if reached == at {
        eprintln!("failpoint {name} reached ({at}): killing the process");
        let _ = std::process::Command::new("kill")
            .args(["-9", &std::process::id().to_string()])
            .status();
        // `kill` is not there: die without unwinding all the same.
        std::process::abort();
    }
}

/// Failure injection is compiled out of this build.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_name: &str) {}
