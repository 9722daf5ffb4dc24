//! SASL exchanges as Kafka runs them inside SaslAuthenticate, without I/O (feature `sasl`).
//!
//! Each mechanism is a small state machine over byte strings: the client side produces the
//! `auth_bytes` of its next SaslAuthenticate request from the server's last answer, and the
//! server side does the reverse. Sockets, SaslHandshake and re-authentication belong to the
//! client's and broker's connection code.
//!
//! - [`plain`]: RFC 4616, `[authzid] NUL authcid NUL passwd`.
//! - [`scram`]: SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677), with Kafka's
//!   iteration bounds and credential form (salt, stored key, server key, iterations).
//! - [`oauthbearer`]: RFC 7628's client initial response and Kafka's unsecured JWTs
//!   (`alg: none`), the form Kafka ships for tests and development.

pub mod oauthbearer;
pub mod plain;
pub mod scram;

/// Why a SASL exchange failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaslError {
    /// A message does not follow the mechanism's grammar.
    Malformed(String),
    /// The credentials were refused (wrong password, unknown user, bad proof).
    AuthenticationFailed(String),
    /// The server's final signature does not prove it knows the credential (SCRAM).
    ServerSignatureMismatch,
    /// The server asked for an iteration count outside what Kafka allows.
    IterationsOutOfRange(u32),
    /// The server ended the exchange with an error attribute (SCRAM `e=`).
    ServerError(String),
    /// An OAUTHBEARER token was refused, with the reason.
    InvalidToken(String),
    /// The operating system's random source failed (nonce generation).
    Random(String),
    /// A message arrived in a state that does not expect one.
    UnexpectedMessage,
}

impl std::fmt::Display for SaslError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SaslError::Malformed(m) => write!(f, "malformed SASL message: {m}"),
            SaslError::AuthenticationFailed(m) => write!(f, "authentication failed: {m}"),
            SaslError::ServerSignatureMismatch => {
                write!(f, "SCRAM server signature does not match: the server does not know the credential")
            }
            SaslError::IterationsOutOfRange(i) => write!(
                f,
                "SCRAM iteration count {i} outside [{}, {}]",
                scram::MIN_ITERATIONS,
                scram::MAX_ITERATIONS
            ),
            SaslError::ServerError(e) => write!(f, "SCRAM server error: {e}"),
            SaslError::InvalidToken(m) => write!(f, "invalid OAUTHBEARER token: {m}"),
            SaslError::Random(m) => write!(f, "random source failed: {m}"),
            SaslError::UnexpectedMessage => write!(f, "SASL message not expected in this state"),
        }
    }
}

impl std::error::Error for SaslError {}

/// `len` random bytes from the operating system.
fn random_bytes(len: usize) -> Result<Vec<u8>, SaslError> {
    let mut buf = vec![0u8; len];
    getrandom::fill(&mut buf).map_err(|e| SaslError::Random(e.to_string()))?;
    Ok(buf)
}
