//! Client for PostgreSQL's walsender: the replication protocol over a
//! connection opened with `replication=database`.
//!
//! Flow: [`ReplicationConnection::connect`] (trust, cleartext, MD5 or
//! SCRAM-SHA-256), then commands ([`ReplicationConnection::identify_system`],
//! [`ReplicationConnection::create_logical_slot`] with an exported snapshot
//! that lives while the connection idles, `DROP_REPLICATION_SLOT`, plain
//! SQL via [`ReplicationConnection::simple_query`]; `READ_REPLICATION_SLOT`
//! is left out as PostgreSQL 15 refuses it for logical slots), then
//! [`ReplicationConnection::start_replication`], which turns it into a
//! [`ReplicationStream`] of [`ReplicationEvent`]s answered with
//! [`StatusUpdate`]s, until [`ReplicationStream::finish`].
//!
//! Invariants: no background task and no read-ahead (backpressure reaches
//! the server through TCP, memory stays one message); nothing is
//! acknowledged unless the caller says so; every error is a
//! [`ReplicationError`] that carries the SQLSTATE and says whether a
//! reconnect can fix it. The public types mention no third-party crate but
//! `bytes`, so the implementation can be swapped.
//!
//! ## Why our own client on `postgres-protocol`
//!
//! Tried against PostgreSQL 15 before choosing (see the notes):
//! - `pgwire-replication` 0.5 hard-codes `proto_version '1'` and no
//!   `streaming` option in its START_REPLICATION, and replaces Begin/Commit
//!   payloads with its own events; server errors are strings without a
//!   SQLSTATE field. It cannot stream large transactions or give our
//!   decoder every message.
//! - `pg_walstream` does all of it (and decodes pgoutput itself), but 0.10
//!   does not resolve from crates.io here (it needs a `webpki-roots` release
//!   the index lacks), 0.9's native connection connects and runs commands
//!   with blocking calls on the async thread, errors are pre-formatted
//!   strings, and it is ~67k lines from one main author with breaking
//!   releases every few weeks, pulling in rustls/aws-lc and chrono.
//! - `postgres-protocol` (the rust-postgres project, the base of
//!   tokio-postgres, maintained for years) provides message encoding and
//!   parsing, MD5 and SCRAM-SHA-256; what it lacks is only CopyBothResponse
//!   and the session loop, a few hundred lines here. That gives full control
//!   of the command text (any proto_version and option), keeps the
//!   connection open while an exported snapshot is read, and leaves TLS to
//!   a later SSLRequest + `tokio-rustls` wrap of the socket (the framing is
//!   generic over the socket; SCRAM channel binding then comes with it).
//!
//! Not done yet: TLS, TCP keepalives (a silent network loss shows up as no
//! keepalive for `wal_sender_timeout`: the caller times out reads),
//! cancel requests, multiple hosts in one URL.

mod commands;
mod config;
mod connection;
mod error;
mod startup;
mod stream;
mod wire;

pub use commands::{SlotOptions, SnapshotAction, StartOptions, Streaming};
pub use config::{ConnectConfig, DEFAULT_SESSION_OPTIONS, Host};
pub use connection::{CreatedSlot, ReplicationConnection, SimpleRow, SystemIdentity};
pub use error::{ErrorKind, ReplicationError, ServerError};
pub use stream::{Keepalive, ReplicationEvent, ReplicationStream, StatusUpdate, XLogData};
