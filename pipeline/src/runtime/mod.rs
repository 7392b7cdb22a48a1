//! Running sources (and, later, sinks) inside the `rowlog` process.

pub mod emitter;
pub mod sink_worker;
pub mod state;
