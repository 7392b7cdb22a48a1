//! rowlog-schemas
