//! Running sources (and, later, sinks) inside the `rowlog` process.

pub mod emitter;
pub mod lag;
pub mod sink_worker;
pub mod state;
