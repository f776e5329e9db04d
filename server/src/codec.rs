//! The socket codec: pgwire's message codec behind a length guard.
//!
//! pgwire decodes and encodes the messages; this wrapper only refuses frames whose length
//! field cannot be right before pgwire sees them. pgwire rejects lengths that are too large,
//! but a typed message whose length is below 4 (the length field counts itself) would be
//! decoded as an empty message and the connection would carry on reading garbage. PostgreSQL
//! ends the connection with "invalid message length"; so do we. The same holds for a startup
//! packet shorter than its 8-byte header ("invalid length of startup packet").
//!
//! Frame layouts the guard reads (big-endian `i32` lengths, counting themselves):
//! - before startup: `[length][protocol code][…]`, length ≥ 8;
//! - after startup: `[type byte][length][…]`, length ≥ 4.

use bytes::BytesMut;
use pgwire::api::{ClientInfo, DefaultClient, PgWireConnectionState};
use pgwire::error::PgWireError;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage, ProtocolVersion};
use pgwire::tokio::server::PgWireMessageServerCodec;
use std::io;
use tokio_util::codec::{Decoder, Encoder};

/// pgwire's server codec plus the length guard.
pub struct ServerCodec {
    inner: PgWireMessageServerCodec<()>,
}

/// The message of the error the guard raises; `connection.rs` turns it into PostgreSQL's text.
pub const INVALID_LENGTH: &str = "invalid message length";
/// Same for a short startup packet.
pub const INVALID_STARTUP_LENGTH: &str = "invalid length of startup packet";

impl ServerCodec {
    pub fn new(client: DefaultClient<()>) -> Self {
        ServerCodec {
            inner: PgWireMessageServerCodec::new(client),
        }
    }

    pub fn state(&self) -> PgWireConnectionState {
        self.inner.client_info.state()
    }

    pub fn set_state(&mut self, state: PgWireConnectionState) {
        self.inner.client_info.set_state(state);
    }

    pub fn protocol_version(&self) -> ProtocolVersion {
        self.inner.client_info.protocol_version()
    }

    pub fn set_protocol_version(&mut self, version: ProtocolVersion) {
        self.inner.client_info.set_protocol_version(version);
    }

    pub fn set_pid_and_secret_key(&mut self, pid: i32, key: pgwire::messages::startup::SecretKey) {
        self.inner.client_info.set_pid_and_secret_key(pid, key);
    }
}

/// Reads the big-endian i32 at `at`, if the buffer holds it.
fn length_at(buf: &BytesMut, at: usize) -> Option<i32> {
    let bytes = buf.get(at..at + 4)?;
    Some(i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

fn invalid(message: &str) -> PgWireError {
    PgWireError::IoError(io::Error::new(io::ErrorKind::InvalidData, message))
}

impl Decoder for ServerCodec {
    type Item = PgWireFrontendMessage;
    type Error = PgWireError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, Self::Error> {
        match self.state() {
            PgWireConnectionState::AwaitingSslRequest | PgWireConnectionState::AwaitingStartup => {
                if matches!(length_at(src, 0), Some(len) if len < 8) {
                    return Err(invalid(INVALID_STARTUP_LENGTH));
                }
            }
            _ => {
                if matches!(length_at(src, 1), Some(len) if len < 4) {
                    return Err(invalid(INVALID_LENGTH));
                }
            }
        }
        self.inner.decode(src)
    }
}

impl Encoder<PgWireBackendMessage> for ServerCodec {
    type Error = io::Error;

    fn encode(&mut self, item: PgWireBackendMessage, dst: &mut BytesMut) -> io::Result<()> {
        self.inner.encode(item, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codec(state: PgWireConnectionState) -> ServerCodec {
        let addr = "127.0.0.1:1".parse().expect("address");
        let mut c = ServerCodec::new(DefaultClient::new(addr, false));
        c.set_state(state);
        c
    }

    #[test]
    fn a_typed_message_shorter_than_its_length_field_is_refused() {
        let mut c = codec(PgWireConnectionState::ReadyForQuery);
        let mut buf = BytesMut::from(&[b'Q', 0, 0, 0, 2][..]);
        let err = c.decode(&mut buf).expect_err("length 2 must be refused");
        assert!(err.to_string().contains(INVALID_LENGTH), "{err}");
        let mut buf = BytesMut::from(&[b'Q', 0xff, 0xff, 0xff, 0xff][..]);
        assert!(c.decode(&mut buf).is_err(), "a negative length is refused");
    }

    #[test]
    fn a_well_formed_query_still_decodes() {
        let mut c = codec(PgWireConnectionState::ReadyForQuery);
        let mut buf = BytesMut::from(&[b'Q', 0, 0, 0, 7, b'S', b'1', 0][..]);
        let msg = c.decode(&mut buf).expect("decodes").expect("complete");
        assert!(matches!(msg, PgWireFrontendMessage::Query(q) if q.query == "S1"));
        // A partial header is simply "not yet".
        let mut buf = BytesMut::from(&[b'Q', 0, 0][..]);
        assert!(c.decode(&mut buf).expect("no error").is_none());
    }

    #[test]
    fn a_startup_packet_shorter_than_its_header_is_refused() {
        let mut c = codec(PgWireConnectionState::AwaitingStartup);
        let mut buf = BytesMut::from(&[0, 0, 0, 4, 0, 3, 0, 0][..]);
        let err = c.decode(&mut buf).expect_err("length 4 must be refused");
        assert!(err.to_string().contains(INVALID_STARTUP_LENGTH), "{err}");
    }
}
