//! Typed rowlog configuration.
