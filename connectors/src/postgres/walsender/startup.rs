//! Opening the socket, the startup message and authentication.
//!
//! Invariants: the whole of it is bounded by the connect timeout; the
//! startup packet always asks for `replication=database` and carries the
//! session `options`; trust, cleartext, MD5 and SCRAM-SHA-256 (without
//! channel binding, as there is no TLS yet) are accepted, anything else is
//! a permanent [`ErrorKind::Auth`] error. The password is never logged.

use fallible_iterator::FallibleIterator;
use postgres_protocol::authentication::{md5_hash, sasl};
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;
use tokio::net::{TcpStream, UnixStream};

use super::config::{ConnectConfig, Host};
use super::error::{ErrorKind, ReplicationError, ServerError};
use super::wire::{Backend, Socket, Wire};

/// What the server told us during startup.
#[derive(Debug, Clone, Default)]
pub(super) struct ServerInfo {
    /// `server_version` (e.g. `15.8 (Debian 15.8-0+deb12u1)`).
    pub(super) version: String,
}

impl ServerInfo {
    /// The major version (15 for `15.8`), if it parses.
    pub(super) fn major(&self) -> Option<u32> {
        let digits: String = self
            .version
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        digits.parse().ok()
    }
}

/// Connects and authenticates, within the connect timeout.
pub(super) async fn connect(
    config: &ConnectConfig,
) -> Result<(Wire, ServerInfo), ReplicationError> {
    let endpoint = config.endpoint();
    match tokio::time::timeout(config.connect_timeout, connect_inner(config, &endpoint)).await {
        Ok(result) => result,
        Err(_) => Err(ReplicationError::new(
            ErrorKind::Timeout,
            format!("replication connection to {endpoint}: connect"),
            format!(
                "no answer within {:?} (connect_timeout)",
                config.connect_timeout
            ),
        )),
    }
}

async fn open_socket(
    config: &ConnectConfig,
    endpoint: &str,
) -> Result<Box<dyn Socket>, ReplicationError> {
    let context = || format!("replication connection to {endpoint}: connect");
    match &config.host {
        Host::Tcp(host) => {
            let stream = TcpStream::connect((host.as_str(), config.port))
                .await
                .map_err(|e| ReplicationError::io(context(), e))?;
            stream
                .set_nodelay(true)
                .map_err(|e| ReplicationError::io(context(), e))?;
            Ok(Box::new(stream))
        }
        Host::Unix(dir) => {
            let path = dir.join(format!(".s.PGSQL.{}", config.port));
            let stream = UnixStream::connect(&path)
                .await
                .map_err(|e| ReplicationError::io(context(), e))?;
            Ok(Box::new(stream))
        }
    }
}

async fn connect_inner(
    config: &ConnectConfig,
    endpoint: &str,
) -> Result<(Wire, ServerInfo), ReplicationError> {
    let socket = open_socket(config, endpoint).await?;
    let mut wire = Wire::new(socket, config.max_message_size, endpoint.to_owned());
    let params = [
        ("user", config.user.as_str()),
        ("database", config.dbname.as_str()),
        ("replication", "database"),
        ("options", config.options.as_str()),
        ("application_name", config.application_name.as_str()),
        ("client_encoding", "UTF8"),
    ];
    wire.send("startup", |buf| frontend::startup_message(params, buf))
        .await?;
    authenticate(&mut wire, config).await?;

    let mut info = ServerInfo::default();
    loop {
        match wire.read("startup").await? {
            Backend::Message(Message::ParameterStatus(body)) => {
                if body.name().ok() == Some("server_version") {
                    info.version = body.value().unwrap_or_default().to_owned();
                }
            }
            Backend::Message(Message::BackendKeyData(_) | Message::NoticeResponse(_)) => {}
            Backend::Message(Message::ReadyForQuery(_)) => return Ok((wire, info)),
            Backend::Message(Message::ErrorResponse(body)) => {
                return Err(ReplicationError::server(
                    wire.context("startup"),
                    ServerError::parse(&body),
                ));
            }
            _ => {
                return Err(wire.protocol_error("startup", "unexpected message".to_owned()));
            }
        }
    }
}

fn auth_error(wire: &Wire, what: impl Into<String>) -> ReplicationError {
    ReplicationError::new(ErrorKind::Auth, wire.context("authentication"), what)
}

fn password<'a>(wire: &Wire, config: &'a ConnectConfig) -> Result<&'a [u8], ReplicationError> {
    config
        .password
        .as_deref()
        .map(str::as_bytes)
        .ok_or_else(|| {
            auth_error(
                wire,
                format!(
                    "the server asks for a password for role `{}` but the URL has none",
                    config.user
                ),
            )
        })
}

/// Runs the authentication exchange until AuthenticationOk.
async fn authenticate(wire: &mut Wire, config: &ConnectConfig) -> Result<(), ReplicationError> {
    const STEP: &str = "authentication";
    let mut scram: Option<sasl::ScramSha256> = None;
    loop {
        let message = match wire.read(STEP).await? {
            Backend::Message(m) => m,
            Backend::CopyBoth => {
                return Err(wire.protocol_error(STEP, "unexpected CopyBothResponse".to_owned()));
            }
        };
        match message {
            Message::AuthenticationOk => return Ok(()),
            Message::AuthenticationCleartextPassword => {
                let pw = password(wire, config)?;
                wire.send(STEP, |buf| frontend::password_message(pw, buf))
                    .await?;
            }
            Message::AuthenticationMd5Password(body) => {
                let pw = password(wire, config)?;
                let hash = md5_hash(config.user.as_bytes(), pw, body.salt());
                wire.send(STEP, |buf| frontend::password_message(hash.as_bytes(), buf))
                    .await?;
            }
            Message::AuthenticationSasl(body) => {
                let mut offered = Vec::new();
                let mut mechanisms = body.mechanisms();
                while let Some(m) = mechanisms
                    .next()
                    .map_err(|e| wire.protocol_error(STEP, format!("bad SASL mechanisms: {e}")))?
                {
                    offered.push(m.to_owned());
                }
                if !offered.iter().any(|m| m == sasl::SCRAM_SHA_256) {
                    return Err(auth_error(
                        wire,
                        format!(
                            "the server offers SASL mechanisms {offered:?}; only {} is supported \
                             without TLS",
                            sasl::SCRAM_SHA_256
                        ),
                    ));
                }
                let pw = password(wire, config)?;
                let state = sasl::ScramSha256::new(pw, sasl::ChannelBinding::unsupported());
                let first = state.message().to_vec();
                scram = Some(state);
                wire.send(STEP, |buf| {
                    frontend::sasl_initial_response(sasl::SCRAM_SHA_256, &first, buf)
                })
                .await?;
            }
            Message::AuthenticationSaslContinue(body) => {
                let Some(state) = scram.as_mut() else {
                    return Err(wire.protocol_error(STEP, "SASL continue before start".to_owned()));
                };
                state
                    .update(body.data())
                    .map_err(|e| auth_error(wire, format!("SCRAM exchange failed: {e}")))?;
                let next = state.message().to_vec();
                wire.send(STEP, |buf| frontend::sasl_response(&next, buf))
                    .await?;
            }
            Message::AuthenticationSaslFinal(body) => {
                let Some(state) = scram.as_mut() else {
                    return Err(wire.protocol_error(STEP, "SASL final before start".to_owned()));
                };
                state.finish(body.data()).map_err(|e| {
                    auth_error(
                        wire,
                        format!("the server's SCRAM signature did not verify: {e}"),
                    )
                })?;
            }
            Message::ErrorResponse(body) => {
                return Err(ReplicationError::server(
                    wire.context(STEP),
                    ServerError::parse(&body),
                ));
            }
            Message::NoticeResponse(_) => {}
            Message::AuthenticationKerberosV5
            | Message::AuthenticationGss
            | Message::AuthenticationGssContinue(_)
            | Message::AuthenticationSspi
            | Message::AuthenticationScmCredential => {
                return Err(auth_error(
                    wire,
                    "the server asks for GSS/SSPI/Kerberos authentication, which is not \
                     supported; use scram-sha-256 (or md5) in pg_hba.conf",
                ));
            }
            _ => {
                return Err(wire.protocol_error(STEP, "unexpected message".to_owned()));
            }
        }
    }
}
