//! Benchmarks built into the binary (`runnel bench ...`), so that anyone can measure a build
//! the same way the figures in `docs/benchmarks.md` were measured.
//!
//! - [`nexmark`]: the Nexmark suite (q0-q22) over the built-in `nexmark` source.

pub mod nexmark;
