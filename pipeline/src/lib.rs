//! The `rowlog` library half: the parts of the pipeline that integration tests
//! (and, later, benchmarks) reach directly. The binary (`main.rs`) is the CLI.

pub mod http;
pub mod log;
pub mod metrics;
pub mod runtime;
pub mod status;
pub mod wait;
