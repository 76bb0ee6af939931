//! Whole-system tests: the real `runnel` binary, started on a free port with a fresh data
//! directory, driven by real clients (tokio-postgres, psql, Python drivers, the sqllogictest
//! runner). One test binary with modules keeps link time low.

mod checkpoints;
mod clients;
mod errors;
mod exactly_once;
mod harness;
mod kafka;
mod kafka_broker;
mod materialized_views;
mod nexmark;
mod pipeline_cli;
mod processing_time;
mod protocol;
mod restart;
mod savepoints;
mod sqllogictest;
mod streaming;
mod transactions;
