//! A timed run: the query's pipeline file run by `runnel run` in a child process, so that
//! its wall time, CPU time and peak memory are its own.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a timed run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    /// From start to exit.
    pub wall: Duration,
    /// User and system CPU time of the process.
    pub cpu: Duration,
    /// Peak resident memory, bytes.
    pub peak_memory: u64,
}

/// Linux reports CPU times in clock ticks of 1/100 s (`USER_HZ`).
const TICKS_PER_SECOND: u64 = 100;

/// Runs `file` with `runnel run --parallelism <parallelism>` (`runnel` at `binary`).
pub fn run(binary: &Path, file: &Path, parallelism: usize) -> Result<Measured, String> {
    let start = Instant::now();
    let mut child = Command::new(binary)
        .arg("run")
        .arg("--parallelism")
        .arg(parallelism.to_string())
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let pid = child.id();
    let mut peak_memory = 0;
    let mut cpu_ticks = 0;
    let status = loop {
        // Sampled while the process lives: the peak is the kernel's high-water mark, the CPU
        // time the last reading (at most one interval short).
        if let Some(hwm) = status_kib(pid, "VmHWM:") {
            peak_memory = peak_memory.max(hwm * 1024);
        }
        if let Some(ticks) = cpu_ticks_of(pid) {
            cpu_ticks = ticks;
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("waiting for runnel run: {e}")),
        }
    };
    let wall = start.elapsed();
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    if !status.success() {
        let message = stderr
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("runnel run failed")
            .to_string();
        return Err(message);
    }
    Ok(Measured {
        wall,
        cpu: Duration::from_millis(cpu_ticks * 1000 / TICKS_PER_SECOND),
        peak_memory,
    })
}

/// A `kB` field of `/proc/<pid>/status`.
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// User plus system time of a process, in clock ticks (`/proc/<pid>/stat` fields 14 and 15).
fn cpu_ticks_of(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    Some(user + system)
}
