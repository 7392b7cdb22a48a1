//! A replication connection in command mode: identify, create, read or
//! drop slots, run simple queries, then start streaming.
//!
//! Invariants: one command at a time (`&mut self`); a server error in a
//! command is read through to ReadyForQuery, so the connection stays usable
//! after it; the snapshot exported by [`ReplicationConnection::create_logical_slot`]
//! lives until this connection runs its next command or closes, so read it
//! elsewhere before calling anything else here.

use std::sync::Arc;

use fallible_iterator::FallibleIterator;
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;
use rowlog_schemas::position::Lsn;

use super::commands::{self, SlotOptions, StartOptions};
use super::config::ConnectConfig;
use super::error::{ErrorKind, ReplicationError, ServerError};
use super::startup::{self, ServerInfo};
use super::stream::ReplicationStream;
use super::wire::{Backend, Wire};

/// One row of a simple query's result, all values in text form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleRow {
    columns: Arc<[String]>,
    values: Vec<Option<String>>,
}

impl SimpleRow {
    /// Column names, in order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Values, in column order (`None` = NULL).
    pub fn values(&self) -> &[Option<String>] {
        &self.values
    }

    /// The value of column `name` (`None` if NULL or no such column).
    pub fn get(&self, name: &str) -> Option<&str> {
        let i = self.columns.iter().position(|c| c == name)?;
        self.values.get(i)?.as_deref()
    }
}

/// `IDENTIFY_SYSTEM`'s answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemIdentity {
    /// The cluster's system identifier.
    pub system_id: String,
    /// Current timeline.
    pub timeline: u32,
    /// Current WAL flush location.
    pub xlogpos: Lsn,
    /// Database connected to.
    pub dbname: Option<String>,
}

/// A slot just created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedSlot {
    /// Slot name.
    pub slot_name: String,
    /// The LSN from which the slot decodes: every transaction committing
    /// after it is streamed, everything before it is in the snapshot.
    pub consistent_point: Lsn,
    /// The exported snapshot (with [`commands::SnapshotAction::Export`]).
    pub snapshot_name: Option<String>,
    /// Output plugin (`pgoutput`).
    pub output_plugin: Option<String>,
}

/// A connection opened with `replication=database`, in command mode.
#[derive(Debug)]
pub struct ReplicationConnection {
    wire: Wire,
    info: ServerInfo,
}

fn parse_lsn(context: &str, column: &str, text: &str) -> Result<Lsn, ReplicationError> {
    text.parse().map_err(|_| {
        ReplicationError::new(
            ErrorKind::Protocol,
            context,
            format!("{column} `{text}` is not an LSN"),
        )
    })
}

impl ReplicationConnection {
    /// Connects and authenticates (see [`ConnectConfig`]).
    pub async fn connect(
        config: &ConnectConfig,
    ) -> Result<ReplicationConnection, ReplicationError> {
        let (wire, info) = startup::connect(config).await?;
        Ok(ReplicationConnection { wire, info })
    }

    /// The server's `server_version` as reported at startup.
    pub fn server_version(&self) -> &str {
        &self.info.version
    }

    /// The server's major version (15 for 15.8).
    pub fn server_major_version(&self) -> Option<u32> {
        self.info.major()
    }

    pub(super) fn into_wire(self) -> (Wire, ServerInfo) {
        (self.wire, self.info)
    }

    pub(super) fn from_wire(wire: Wire, info: ServerInfo) -> ReplicationConnection {
        ReplicationConnection { wire, info }
    }

    fn config_error(&self, step: &str, what: String) -> ReplicationError {
        ReplicationError::new(ErrorKind::Config, self.wire.context(step), what)
    }

    /// Runs `sql` with the simple query protocol (a replication command or,
    /// with `replication=database`, plain SQL) and returns the rows of every
    /// statement in it, as text.
    pub async fn simple_query(&mut self, sql: &str) -> Result<Vec<SimpleRow>, ReplicationError> {
        let step = format!("query `{}`", sql.chars().take(80).collect::<String>());
        self.wire
            .send(&step, |buf| frontend::query(sql, buf))
            .await?;
        let mut rows = Vec::new();
        let mut columns: Arc<[String]> = Arc::from(Vec::new());
        let mut error = None;
        loop {
            let message = match self.wire.read(&step).await? {
                Backend::Message(m) => m,
                Backend::CopyBoth => {
                    return Err(self.wire.protocol_error(
                        &step,
                        "the command started a replication stream; use start_replication"
                            .to_owned(),
                    ));
                }
            };
            match message {
                Message::RowDescription(body) => {
                    let names: Result<Vec<String>, _> =
                        body.fields().map(|f| Ok(f.name().to_owned())).collect();
                    columns = names
                        .map_err(|e| {
                            self.wire
                                .protocol_error(&step, format!("bad RowDescription: {e}"))
                        })?
                        .into();
                }
                Message::DataRow(body) => {
                    let mut values = Vec::with_capacity(columns.len());
                    let mut ranges = body.ranges();
                    loop {
                        let range = ranges.next().map_err(|e| {
                            self.wire.protocol_error(&step, format!("bad DataRow: {e}"))
                        })?;
                        let Some(range) = range else { break };
                        values.push(match range {
                            None => None,
                            Some(r) => {
                                let bytes = body.buffer().get(r).unwrap_or_default();
                                Some(String::from_utf8_lossy(bytes).into_owned())
                            }
                        });
                    }
                    rows.push(SimpleRow {
                        columns: columns.clone(),
                        values,
                    });
                }
                Message::CommandComplete(_)
                | Message::EmptyQueryResponse
                | Message::NoticeResponse(_)
                | Message::ParameterStatus(_) => {}
                Message::ErrorResponse(body) => {
                    error = Some(ServerError::parse(&body));
                }
                Message::ReadyForQuery(_) => break,
                Message::CopyInResponse(_) | Message::CopyOutResponse(_) => {
                    return Err(self.wire.protocol_error(
                        &step,
                        "COPY is not supported on this connection".to_owned(),
                    ));
                }
                _ => {
                    return Err(self
                        .wire
                        .protocol_error(&step, "unexpected message".to_owned()));
                }
            }
        }
        match error {
            Some(e) => Err(ReplicationError::server(self.wire.context(&step), e)),
            None => Ok(rows),
        }
    }

    fn one_row(&self, step: &str, mut rows: Vec<SimpleRow>) -> Result<SimpleRow, ReplicationError> {
        match rows.len() {
            1 => rows.pop().ok_or_else(|| unreachable_row(&self.wire, step)),
            n => Err(self
                .wire
                .protocol_error(step, format!("expected one row, got {n}"))),
        }
    }

    fn column<'r>(
        &self,
        step: &str,
        row: &'r SimpleRow,
        name: &str,
    ) -> Result<&'r str, ReplicationError> {
        row.get(name).ok_or_else(|| {
            self.wire
                .protocol_error(step, format!("no value in column `{name}`"))
        })
    }

    /// `IDENTIFY_SYSTEM`.
    pub async fn identify_system(&mut self) -> Result<SystemIdentity, ReplicationError> {
        const STEP: &str = "IDENTIFY_SYSTEM";
        let rows = self.simple_query(STEP).await?;
        let row = self.one_row(STEP, rows)?;
        let context = self.wire.context(STEP);
        let timeline = self.column(STEP, &row, "timeline")?;
        Ok(SystemIdentity {
            system_id: self.column(STEP, &row, "systemid")?.to_owned(),
            timeline: timeline.parse().map_err(|_| {
                self.wire
                    .protocol_error(STEP, format!("timeline `{timeline}` is not a number"))
            })?,
            xlogpos: parse_lsn(&context, "xlogpos", self.column(STEP, &row, "xlogpos")?)?,
            dbname: row.get("dbname").map(str::to_owned),
        })
    }

    /// `CREATE_REPLICATION_SLOT name [TEMPORARY] LOGICAL pgoutput (...)`.
    /// With [`commands::SnapshotAction::Export`] the snapshot stays usable
    /// until the next command on this connection.
    pub async fn create_logical_slot(
        &mut self,
        name: &str,
        options: &SlotOptions,
    ) -> Result<CreatedSlot, ReplicationError> {
        let step = format!("create replication slot {name}");
        let sql = commands::create_slot(name, options, self.info.major().unwrap_or(15))
            .map_err(|e| self.config_error(&step, e))?;
        let rows = self
            .simple_query(&sql)
            .await
            .map_err(|e| e.with_context(self.wire.context(&step)))?;
        let row = self.one_row(&step, rows)?;
        let context = self.wire.context(&step);
        Ok(CreatedSlot {
            slot_name: self.column(&step, &row, "slot_name")?.to_owned(),
            consistent_point: parse_lsn(
                &context,
                "consistent_point",
                self.column(&step, &row, "consistent_point")?,
            )?,
            snapshot_name: row.get("snapshot_name").map(str::to_owned),
            output_plugin: row.get("output_plugin").map(str::to_owned),
        })
    }

    /// `DROP_REPLICATION_SLOT name [WAIT]`.
    pub async fn drop_replication_slot(
        &mut self,
        name: &str,
        wait: bool,
    ) -> Result<(), ReplicationError> {
        let step = format!("drop replication slot {name}");
        let sql = commands::drop_slot(name, wait).map_err(|e| self.config_error(&step, e))?;
        self.simple_query(&sql)
            .await
            .map(|_| ())
            .map_err(|e| e.with_context(self.wire.context(&step)))
    }

    /// `START_REPLICATION SLOT slot LOGICAL start (options)`: from here on
    /// the connection streams until [`ReplicationStream::finish`].
    pub async fn start_replication(
        mut self,
        slot: &str,
        start: Lsn,
        options: &StartOptions,
    ) -> Result<ReplicationStream, ReplicationError> {
        let step = format!("start replication from slot {slot} at {start}");
        let sql = commands::start_replication(slot, start, options)
            .map_err(|e| self.config_error(&step, e))?;
        self.wire
            .send(&step, |buf| frontend::query(&sql, buf))
            .await?;
        loop {
            match self.wire.read(&step).await? {
                Backend::CopyBoth => return Ok(ReplicationStream::new(self)),
                Backend::Message(Message::ErrorResponse(body)) => {
                    let error = ServerError::parse(&body);
                    // ReadyForQuery follows the error; the connection is lost
                    // with `self` anyway.
                    return Err(ReplicationError::server(self.wire.context(&step), error));
                }
                Backend::Message(Message::NoticeResponse(_) | Message::ParameterStatus(_)) => {}
                Backend::Message(_) => {
                    return Err(self
                        .wire
                        .protocol_error(&step, "unexpected message".to_owned()));
                }
            }
        }
    }

    /// Ends the session (Terminate) and closes the socket.
    pub async fn close(mut self) -> Result<(), ReplicationError> {
        let result = self
            .wire
            .send("close", |buf| {
                frontend::terminate(buf);
                Ok(())
            })
            .await;
        self.wire.shutdown().await;
        result
    }
}

fn unreachable_row(wire: &Wire, step: &str) -> ReplicationError {
    wire.protocol_error(step, "row vanished".to_owned())
}
