//! Sinks: PostgreSQL and MySQL/MariaDB followers, Redis, OpenSearch.
//!
//! Each sink becomes one module (config, apply logic, tests) that applies
//! decoded [`rowlog_schemas::ChangeEvent`]s idempotently, using
//! [`rowlog_schemas::Position::row_version`] or transactional offsets so a
//! replay never moves a row backwards. The sink trait arrives with the first
//! sink (issue #6); nothing is implemented here yet.
