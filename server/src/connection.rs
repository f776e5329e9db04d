//! One client connection, from the first byte to the last.
//!
//! The task owns the framed socket (`Framed<TcpStream, ServerCodec>`, pgwire's codec behind a
//! length guard, see `codec.rs`): pgwire decodes frontend messages and encodes backend ones,
//! and this module decides what happens.
//! We drive the loop ourselves rather than through `pgwire::tokio::process_socket` so that the
//! protocol semantics (see `handler.rs`), shutdown and cleanup are in one place:
//!
//! 1. **Negotiation.** SSLRequest and GSSENCRequest are answered 'N' (no TLS here); libpq's
//!    default `sslmode=prefer` then continues in plain text. A CancelRequest is served and
//!    the connection closed.
//! 2. **Startup.** The StartupMessage's user, database, application_name and options become
//!    the session's parameters (trust authentication: no password is asked). We answer
//!    AuthenticationOk, one ParameterStatus per `Session::initial_parameters()`,
//!    BackendKeyData (registered for CancelRequest) and ReadyForQuery.
//! 3. **Queries** until Terminate, EOF, a protocol error, or server shutdown.
//!
//! Bad input never reaches beyond this connection: a message pgwire cannot decode (garbage,
//! an oversized length) gets a FATAL 08P01 and ends this connection only. However the loop
//! ends, the session is closed, rolling back any open transaction.

use crate::cancel::CancelRegistry;
use crate::codec::ServerCodec;
use crate::error::{code, SqlError};
use crate::handler::{error_message, ready, Handler};
use crate::session_state::SessionHandle;
use futures::{SinkExt, StreamExt};
use pgwire::api::{DefaultClient, PgWireConnectionState};
use pgwire::error::PgWireError;
use pgwire::messages::response::{GssEncResponse, SslResponse, TransactionStatus};
use pgwire::messages::startup::{
    Authentication, BackendKeyData, NegotiateProtocolVersion, ParameterStatus, Startup,
};
use pgwire::messages::ProtocolVersion;
use pgwire::messages::SslNegotiationMetaMessage as SslNeg;
use pgwire::messages::{PgWireBackendMessage as Msg, PgWireFrontendMessage as Frontend};
use sledgres_planner::{Database, SessionParams};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_util::codec::Framed;

/// The framed client socket.
pub type Socket = Framed<TcpStream, ServerCodec>;

/// A client must finish startup within this time.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// What every connection task shares.
pub struct Shared {
    pub db: Database,
    pub cancel: CancelRegistry,
}

/// Serves one accepted socket until it closes. Never panics outward for client input: the
/// caller additionally runs it under `catch_unwind`.
pub async fn serve(tcp: TcpStream, shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let addr = match tcp.peer_addr() {
        Ok(a) => a,
        Err(_) => return,
    };
    let _ = tcp.set_nodelay(true);
    let mut socket: Socket = Framed::new(tcp, ServerCodec::new(DefaultClient::new(addr, false)));

    let startup = tokio::select! {
        r = tokio::time::timeout(STARTUP_TIMEOUT, negotiate(&mut socket, &shared)) => r.ok().flatten(),
        _ = shutdown.changed() => None,
    };
    let Some(startup) = startup else {
        return;
    };
    let Some((session, pid)) = start_session(&mut socket, &shared, startup).await else {
        return;
    };
    tracing::debug!(%addr, pid, "connection ready");

    let mut handler = Handler::new(session.clone());
    loop {
        if *shutdown.borrow() {
            let _ = send_fatal(&mut socket, &shutdown_error()).await;
            break;
        }
        let msg = tokio::select! {
            msg = socket.next() => msg,
            _ = shutdown.changed() => {
                let _ = send_fatal(&mut socket, &shutdown_error()).await;
                break;
            }
        };
        let msg = match msg {
            None => break,
            Some(Ok(msg)) => msg,
            Some(Err(e)) => {
                tracing::debug!(%addr, error = %e, "undecodable message; closing connection");
                let _ = send_fatal(&mut socket, &decode_error(&e)).await;
                break;
            }
        };
        let io = match msg {
            Frontend::Terminate(_) => break,
            // COPY FROM STDIN: its data, end and failure; Sync and Flush are ignored meanwhile
            // (PostgreSQL's copy-in sub-protocol); anything else fails the COPY.
            Frontend::CopyData(m) if handler.in_copy_in() => {
                handler.on_copy_data(&mut socket, m.data).await
            }
            Frontend::CopyDone(_) if handler.in_copy_in() => {
                handler.on_copy_done(&mut socket).await
            }
            Frontend::CopyFail(m) if handler.in_copy_in() => {
                handler.on_copy_fail(&mut socket, m.message).await
            }
            Frontend::Sync(_) | Frontend::Flush(_) if handler.in_copy_in() => Ok(()),
            ref other if handler.in_copy_in() && !matches!(other, Frontend::Terminate(_)) => {
                let what = copy_message_name(other);
                handler.on_unexpected_during_copy(&mut socket, what).await
            }
            Frontend::Query(q) => handler.on_query(&mut socket, q.query).await,
            Frontend::Parse(m) => handler.on_parse(&mut socket, m).await,
            Frontend::Bind(m) => handler.on_bind(&mut socket, m).await,
            Frontend::Describe(m) => handler.on_describe(&mut socket, m).await,
            Frontend::Execute(m) => handler.on_execute(&mut socket, m).await,
            Frontend::Close(m) => handler.on_close(&mut socket, m).await,
            Frontend::Sync(_) => handler.on_sync(&mut socket).await,
            Frontend::Flush(_) => handler.on_flush(&mut socket).await,
            // Outside COPY these are ignored, as PostgreSQL does.
            Frontend::CopyData(_) | Frontend::CopyDone(_) | Frontend::CopyFail(_) => Ok(()),
            other => {
                let e = SqlError::fatal(
                    code::PROTOCOL_VIOLATION,
                    format!("invalid frontend message: {}", message_name(&other)),
                );
                let _ = send_fatal(&mut socket, &e).await;
                break;
            }
        };
        if let Err(e) = io {
            tracing::debug!(%addr, error = %e, "connection write failed");
            break;
        }
    }
    shared.cancel.unregister(pid);
    session.close().await;
    tracing::debug!(%addr, pid, "connection closed");
}

/// PostgreSQL's wording for a message it cannot read; the connection ends after it.
fn decode_error(e: &PgWireError) -> SqlError {
    let message = match e {
        PgWireError::InvalidMessageType(t) => format!("invalid frontend message type {t}"),
        PgWireError::MessageTooLarge(..) => crate::codec::INVALID_LENGTH.to_string(),
        PgWireError::IoError(io) if io.kind() == std::io::ErrorKind::InvalidData => io.to_string(),
        other => format!("invalid message format: {other}"),
    };
    SqlError::fatal(code::PROTOCOL_VIOLATION, message)
}

fn shutdown_error() -> SqlError {
    SqlError::fatal(
        code::ADMIN_SHUTDOWN,
        "terminating connection due to administrator command",
    )
}

/// The type byte PostgreSQL names in "unexpected message type 0x%02X during COPY from stdin".
fn copy_message_name(m: &Frontend) -> &'static str {
    match m {
        Frontend::Query(_) => "0x51",
        Frontend::Parse(_) => "0x50",
        Frontend::Bind(_) => "0x42",
        Frontend::Describe(_) => "0x44",
        Frontend::Execute(_) => "0x45",
        Frontend::Close(_) => "0x43",
        _ => "0x00",
    }
}

fn message_name(m: &Frontend) -> &'static str {
    match m {
        Frontend::Startup(_) => "StartupMessage",
        Frontend::CancelRequest(_) => "CancelRequest",
        Frontend::PasswordMessageFamily(_) => "PasswordMessage",
        Frontend::SslNegotiation(_) => "SSLRequest",
        _ => "unexpected message type",
    }
}

async fn send_fatal(socket: &mut Socket, e: &SqlError) -> std::io::Result<()> {
    socket.send(error_message(e)).await?;
    socket.close().await
}

/// Phase 1: SSL/GSS refusal and CancelRequest; returns the StartupMessage, or `None` when
/// the connection is done (a cancel request, EOF, garbage).
async fn negotiate(socket: &mut Socket, shared: &Shared) -> Option<Startup> {
    loop {
        match socket.next().await? {
            Ok(Frontend::SslNegotiation(SslNeg::PostgresSsl(_))) => {
                socket
                    .send(Msg::SslResponse(SslResponse::Refuse))
                    .await
                    .ok()?;
            }
            Ok(Frontend::SslNegotiation(SslNeg::PostgresGss(_))) => {
                socket
                    .send(Msg::GssEncResponse(GssEncResponse::Refuse))
                    .await
                    .ok()?;
            }
            // Neither request: the next packet is a StartupMessage or CancelRequest.
            Ok(Frontend::SslNegotiation(SslNeg::None)) => {
                socket
                    .codec_mut()
                    .set_state(PgWireConnectionState::AwaitingStartup);
            }
            Ok(Frontend::CancelRequest(c)) => {
                let done = shared.cancel.cancel(c.pid, &c.secret_key);
                tracing::debug!(pid = c.pid, signalled = done, "cancel request");
                return None;
            }
            Ok(Frontend::Startup(s)) => return Some(s),
            Ok(_) => {
                let _ = send_fatal(
                    socket,
                    &SqlError::fatal(code::PROTOCOL_VIOLATION, "invalid startup packet layout"),
                )
                .await;
                return None;
            }
            Err(e) => {
                let _ = send_fatal(socket, &decode_error(&e)).await;
                return None;
            }
        }
    }
}

/// Startup parameters that PostgreSQL treats as settings (`SET name = value`); they reach the
/// session through its `options`, as `-c name=value`. Others (client_encoding: we only speak
/// UTF8; replication) are not forwarded.
const FORWARDED_SETTINGS: &[&str] = &[
    "DateStyle",
    "TimeZone",
    "IntervalStyle",
    "extra_float_digits",
    "search_path",
    "statement_timeout",
    "lock_timeout",
    "default_transaction_isolation",
    "default_transaction_read_only",
];

/// The session parameters a StartupMessage asks for.
pub fn session_params(startup: &Startup, backend_pid: i32) -> Result<SessionParams, SqlError> {
    let p = &startup.parameters;
    let user = p
        .get("user")
        .cloned()
        .filter(|u| !u.is_empty())
        .ok_or_else(|| {
            SqlError::fatal(
                code::INVALID_AUTHORIZATION,
                "no PostgreSQL user name specified in startup packet",
            )
        })?;
    let database = p
        .get("database")
        .cloned()
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| user.clone());
    let mut options: Vec<String> = p.get("options").cloned().into_iter().collect();
    for name in FORWARDED_SETTINGS {
        if let Some((_, value)) = p.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
            // `options` is split on whitespace; PostgreSQL escapes blanks in values with a
            // backslash, which the planner's option parser does not read (yet), so a value
            // with blanks is not forwarded rather than forwarded wrongly.
            if value.is_empty() || value.contains(|c: char| c.is_whitespace() || c == '\\') {
                tracing::debug!(name, value, "startup setting not forwarded");
                continue;
            }
            options.push(format!("-c {name}={value}"));
        }
    }
    Ok(SessionParams {
        user,
        database,
        application_name: p.get("application_name").cloned().unwrap_or_default(),
        options: if options.is_empty() {
            None
        } else {
            Some(options.join(" "))
        },
        backend_pid,
    })
}

/// Accepts protocol 3.x: a minor version we do not know is answered with
/// NegotiateProtocolVersion naming the newest we speak, as PostgreSQL does; another major
/// version is refused with PostgreSQL's message.
async fn negotiate_protocol_version(
    socket: &mut Socket,
    startup: &Startup,
) -> Result<(), SqlError> {
    let (major, minor) = (startup.protocol_number_major, startup.protocol_number_minor);
    if let Some(version) = ProtocolVersion::from_version_number(major, minor) {
        socket.codec_mut().set_protocol_version(version);
        return Ok(());
    }
    let newest = ProtocolVersion::default();
    if newest.version_number().0 != major {
        return Err(SqlError::fatal(
            code::FEATURE_NOT_SUPPORTED,
            format!(
                "unsupported frontend protocol {major}.{minor}: server supports 3.0 to 3.{}",
                newest.version_number().1
            ),
        ));
    }
    let answer = NegotiateProtocolVersion::new(newest.into(), vec![]);
    socket
        .send(Msg::NegotiateProtocolVersion(answer))
        .await
        .map_err(|e| SqlError::fatal(code::PROTOCOL_VIOLATION, e.to_string()))?;
    socket.codec_mut().set_protocol_version(newest);
    Ok(())
}

/// Phase 2: opens the session and sends the startup replies.
async fn start_session(
    socket: &mut Socket,
    shared: &Arc<Shared>,
    startup: Startup,
) -> Option<(SessionHandle, i32)> {
    if let Err(e) = negotiate_protocol_version(socket, &startup).await {
        let _ = send_fatal(socket, &e).await;
        return None;
    }
    let (pid, key) = shared.cancel.new_key(socket.codec().protocol_version());
    let params = match session_params(&startup, pid) {
        Ok(p) => p,
        Err(e) => {
            let _ = send_fatal(socket, &e).await;
            return None;
        }
    };
    let session = match SessionHandle::open(shared.db.clone(), params).await {
        Ok(s) => s,
        Err(mut e) => {
            e.severity = crate::error::Severity::Fatal;
            let _ = send_fatal(socket, &e).await;
            return None;
        }
    };
    let initial = session
        .run(|core| Ok(core.session()?.initial_parameters()))
        .await;
    let initial = match initial {
        Ok(p) => p,
        Err(mut e) => {
            e.severity = crate::error::Severity::Fatal;
            let _ = send_fatal(socket, &e).await;
            session.close().await;
            return None;
        }
    };
    shared.cancel.register(pid, &key, session.cancel_handle());
    socket.codec_mut().set_pid_and_secret_key(pid, key.clone());
    let mut msgs = vec![Msg::Authentication(Authentication::Ok)];
    msgs.extend(
        initial
            .into_iter()
            .map(|(k, v)| Msg::ParameterStatus(ParameterStatus::new(k, v))),
    );
    msgs.push(Msg::BackendKeyData(BackendKeyData::new(pid, key)));
    msgs.push(ready(TransactionStatus::Idle));
    for m in msgs {
        if socket.feed(m).await.is_err() {
            shared.cancel.unregister(pid);
            session.close().await;
            return None;
        }
    }
    if socket.flush().await.is_err() {
        shared.cancel.unregister(pid);
        session.close().await;
        return None;
    }
    // From here on the decoder reads regular (typed) frontend messages.
    socket
        .codec_mut()
        .set_state(PgWireConnectionState::ReadyForQuery);
    Some((session, pid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn startup(pairs: &[(&str, &str)]) -> Startup {
        let mut parameters = BTreeMap::new();
        for (k, v) in pairs {
            parameters.insert(k.to_string(), v.to_string());
        }
        let mut s = Startup::new();
        s.protocol_number_major = 3;
        s.parameters = parameters;
        s
    }

    #[test]
    fn database_defaults_to_user_and_settings_become_options() {
        let p = session_params(
            &startup(&[
                ("user", "alice"),
                ("extra_float_digits", "3"),
                ("DateStyle", "ISO"),
                ("TimeZone", "Europe/Paris x"),
            ]),
            7,
        )
        .unwrap();
        assert_eq!(p.user, "alice");
        assert_eq!(p.database, "alice");
        assert_eq!(p.backend_pid, 7);
        assert_eq!(
            p.options.as_deref(),
            Some("-c DateStyle=ISO -c extra_float_digits=3")
        );
    }

    #[test]
    fn startup_without_user_is_refused() {
        let e = session_params(&startup(&[("database", "x")]), 1).unwrap_err();
        assert_eq!(e.code, "28000");
        assert_eq!(e.severity, crate::error::Severity::Fatal);
    }
}
