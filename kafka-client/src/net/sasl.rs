//! SASL authentication of a fresh connection: SaslHandshake v1, then SaslAuthenticate
//! (v0-v2) rounds driven by the sans-IO mechanisms of `krafty_protocol::sasl`.
//!
//! Owns: the exchange for PLAIN, SCRAM-SHA-256/512 and OAUTHBEARER, mapping refusals to
//! [`AuthError`] (mechanism not enabled with the broker's list, bad credentials with the
//! broker's message), the session lifetime the broker grants (KIP-368), and process-wide
//! counters of authentications. Must not: open sockets or decide when to re-authenticate
//! (the connection and the pool do).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use krafty_protocol::generated::{ApiKey, SaslAuthenticateRequest, SaslHandshakeRequest};
use krafty_protocol::sasl::scram::{Mechanism, ScramClient};
use krafty_protocol::sasl::{oauthbearer, plain};
use krafty_protocol::wire::StrBytes;

use super::connection::Connection;
use crate::config::{SaslCredentials, SaslMechanism};
use crate::error::{AuthError, Error, KafkaCode, Result};

static AUTHENTICATIONS: AtomicU64 = AtomicU64::new(0);
static REAUTHENTICATIONS: AtomicU64 = AtomicU64::new(0);

/// How many SASL authentications succeeded in this process (every connection counts).
pub fn authentications() -> u64 {
    AUTHENTICATIONS.load(Ordering::Relaxed)
}

/// How many connections were replaced by a freshly authenticated one because their SASL
/// session neared the end of the lifetime the broker granted (KIP-368), in this process.
pub fn reauthentications() -> u64 {
    REAUTHENTICATIONS.load(Ordering::Relaxed)
}

pub(crate) fn count_reauthentication() {
    REAUTHENTICATIONS.fetch_add(1, Ordering::Relaxed);
}

fn protocol(why: impl Into<String>) -> Error {
    Error::Authentication(AuthError::SaslProtocol(why.into()))
}

/// One SaslAuthenticate round: sends `bytes`, returns the broker's bytes and session
/// lifetime, or the refusal.
async fn round(conn: &Connection, mech: SaslMechanism, bytes: Vec<u8>) -> Result<(Bytes, i64)> {
    let version = conn.version(ApiKey::SaslAuthenticate)?;
    let req = SaslAuthenticateRequest {
        auth_bytes: Bytes::from(bytes),
        ..Default::default()
    };
    let resp = conn.enqueue_raw(version, &req)?.wait().await?;
    if resp.error_code != 0 {
        let code = KafkaCode::from_code(resp.error_code);
        let message = resp
            .error_message
            .as_ref()
            .map(|m| m.to_string())
            .unwrap_or_else(|| code.name().to_string());
        return Err(Error::Authentication(AuthError::BadCredentials {
            mechanism: mech.name().to_string(),
            message: format!("{message} ({})", code.name()),
        }));
    }
    Ok((resp.auth_bytes, resp.session_lifetime_ms))
}

/// Authenticates `conn` with `creds`; returns the session lifetime the broker granted
/// (`None` when it set none, or with SaslAuthenticate v0).
pub async fn authenticate(conn: &Connection, creds: &SaslCredentials) -> Result<Option<Duration>> {
    let mech = match creds {
        SaslCredentials::Password { mechanism, .. } => *mechanism,
        SaslCredentials::OAuthBearer { .. } => SaslMechanism::OAuthBearer,
    };
    let hs_version = conn.version(ApiKey::SaslHandshake)?;
    if hs_version < 1 {
        return Err(protocol(
            "the broker offers only SaslHandshake v0 (raw SASL tokens), which this client \
             does not speak",
        ));
    }
    let hs = SaslHandshakeRequest {
        mechanism: StrBytes::from(mech.name().to_string()),
    };
    let resp = conn.enqueue_raw(hs_version, &hs)?.wait().await?;
    let enabled: Vec<String> = resp.mechanisms.iter().map(|m| m.to_string()).collect();
    match KafkaCode::from_code(resp.error_code) {
        KafkaCode::None => {}
        KafkaCode::UnsupportedSaslMechanism => {
            return Err(Error::Authentication(AuthError::MechanismNotEnabled {
                requested: mech.name().to_string(),
                enabled,
            }))
        }
        other => return Err(protocol(format!("SaslHandshake answered {other}"))),
    }
    let lifetime_ms = match creds {
        SaslCredentials::Password {
            mechanism: SaslMechanism::Plain,
            username,
            password,
        } => {
            round(
                conn,
                mech,
                plain::client_message(username, password.expose()),
            )
            .await?
            .1
        }
        SaslCredentials::Password {
            mechanism,
            username,
            password,
        } => {
            let m = if *mechanism == SaslMechanism::ScramSha512 {
                Mechanism::Sha512
            } else {
                Mechanism::Sha256
            };
            let mut scram = ScramClient::new(m, username, password.expose())
                .map_err(|e| protocol(e.to_string()))?;
            let first = scram.first().map_err(|e| protocol(e.to_string()))?;
            let (server_first, _) = round(conn, mech, first).await?;
            let last = scram
                .handle_server_first(&server_first)
                .map_err(|e| protocol(format!("server-first message: {e}")))?;
            let (server_final, lifetime) = round(conn, mech, last).await?;
            scram.handle_server_final(&server_final).map_err(|e| {
                Error::Authentication(AuthError::BadCredentials {
                    mechanism: mech.name().to_string(),
                    message: format!("server-final message: {e}"),
                })
            })?;
            lifetime
        }
        SaslCredentials::OAuthBearer {
            provider,
            extensions,
        } => {
            let token = provider
                .token()
                .map_err(|e| Error::Authentication(AuthError::TokenUnavailable(e)))?;
            let first = oauthbearer::client_initial_response(token.token.expose(), extensions);
            let (answer, lifetime) = round(conn, mech, first).await?;
            if !answer.is_empty() {
                // An error answer (JSON status): acknowledge it; the broker then fails the
                // exchange with its message.
                let status = String::from_utf8_lossy(&answer).into_owned();
                round(conn, mech, oauthbearer::error_acknowledgement()).await?;
                return Err(Error::Authentication(AuthError::BadCredentials {
                    mechanism: mech.name().to_string(),
                    message: status,
                }));
            }
            lifetime
        }
    };
    AUTHENTICATIONS.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(addr = %conn.addr(), mechanism = mech.name(), lifetime_ms, "authenticated");
    Ok((lifetime_ms > 0).then(|| Duration::from_millis(lifetime_ms.unsigned_abs())))
}
