//! Source connectors.
