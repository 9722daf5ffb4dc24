//! The broker side of SASL on one connection, without I/O: SaslHandshake (v0 with raw
//! tokens after it, v1 with SaslAuthenticate), PLAIN, SCRAM-SHA-256/512, OAUTHBEARER
//! (Kafka's unsecured validator) and re-authentication (KIP-368).
//!
//! Owns: the per-connection [`SaslSession`] state machine and the error codes and messages
//! Kafka answers with. Refusals never say whether a user exists: PLAIN and SCRAM give one
//! message for an unknown user and a wrong password, and SCRAM answers an unknown user with
//! a made-up salt derived from the name, so the exchange looks the same until the proof.

use std::collections::BTreeMap;
use std::sync::Arc;

use krafty_protocol::sasl::scram::{self, Mechanism, ScramCredential, ScramServer};
use krafty_protocol::sasl::{oauthbearer, plain};

use super::credentials::ScramStore;
use super::principal::Principal;

/// Kafka's error codes for SASL.
pub mod code {
    /// The mechanism is not enabled on this listener.
    pub const UNSUPPORTED_SASL_MECHANISM: i16 = 33;
    /// The request does not fit the state of the exchange.
    pub const ILLEGAL_SASL_STATE: i16 = 34;
    /// The credentials were refused.
    pub const SASL_AUTHENTICATION_FAILED: i16 = 58;
}

/// The SASL settings of one listener.
pub struct SaslConfig {
    /// `sasl.enabled.mechanisms`.
    pub mechanisms: Vec<String>,
    /// PLAIN users (`user_<name>="<password>"` of the PLAIN JAAS config).
    pub plain_users: BTreeMap<String, String>,
    /// `unsecuredValidatorRequiredScope` of the OAUTHBEARER JAAS config.
    pub oauth_required_scope: Vec<String>,
    /// `unsecuredValidatorAllowableClockSkewMs` (default 0).
    pub oauth_clock_skew_ms: u64,
    /// `connections.max.reauth.ms` (0: sessions never expire).
    pub reauth_ms: i64,
    /// The SCRAM credential store.
    pub scram: Arc<ScramStore>,
    /// Random bytes of this broker run, for made-up salts of unknown SCRAM users.
    pub decoy_key: Vec<u8>,
}

impl std::fmt::Debug for SaslConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaslConfig")
            .field("mechanisms", &self.mechanisms)
            .field("plain_users", &self.plain_users.keys().collect::<Vec<_>>())
            .field("reauth_ms", &self.reauth_ms)
            .finish_non_exhaustive()
    }
}

enum Stage {
    /// Waiting for SaslHandshake.
    Handshake,
    /// Handshake done; waiting for the first token.
    Mechanism { mechanism: String, raw: bool },
    /// SCRAM server-first sent.
    Scram { server: Box<ScramServer>, raw: bool },
    /// OAUTHBEARER error challenge sent; the client's acknowledgement ends the exchange.
    OauthRefused,
    /// Authenticated (and not re-authenticating).
    Done,
    /// Refused; the connection closes.
    Failed,
}

/// What to answer one SaslAuthenticate (or raw v0 token) with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthStep {
    /// The error code (0 on success or when the exchange continues).
    pub error_code: i16,
    /// The error message.
    pub error_message: Option<String>,
    /// The mechanism's bytes for the client.
    pub auth_bytes: Vec<u8>,
    /// `session_lifetime_ms` (0: no expiry).
    pub session_lifetime_ms: i64,
    /// Close the connection after the answer.
    pub close: bool,
}

impl AuthStep {
    fn fail(code: i16, message: impl Into<String>) -> Self {
        AuthStep {
            error_code: code,
            error_message: Some(message.into()),
            auth_bytes: Vec::new(),
            session_lifetime_ms: 0,
            close: true,
        }
    }

    fn more(bytes: Vec<u8>) -> Self {
        AuthStep {
            error_code: 0,
            error_message: None,
            auth_bytes: bytes,
            session_lifetime_ms: 0,
            close: false,
        }
    }
}

/// What to answer one SaslHandshake with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeStep {
    /// The error code.
    pub error_code: i16,
    /// The enabled mechanisms.
    pub mechanisms: Vec<String>,
    /// Close the connection after the answer.
    pub close: bool,
}

/// The authentication state of one connection on a SASL listener.
pub struct SaslSession {
    cfg: Arc<SaslConfig>,
    stage: Stage,
    principal: Option<Principal>,
    mechanism: Option<String>,
    expires_at_ms: Option<i64>,
}

impl std::fmt::Debug for SaslSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaslSession")
            .field("principal", &self.principal)
            .field("mechanism", &self.mechanism)
            .field("expires_at_ms", &self.expires_at_ms)
            .finish_non_exhaustive()
    }
}

fn failed_credentials(mechanism: &str) -> String {
    format!("Authentication failed during authentication due to invalid credentials with SASL mechanism {mechanism}")
}

impl SaslSession {
    /// A new connection: nothing but ApiVersions and SaslHandshake until authenticated.
    pub fn new(cfg: Arc<SaslConfig>) -> Self {
        SaslSession {
            cfg,
            stage: Stage::Handshake,
            principal: None,
            mechanism: None,
            expires_at_ms: None,
        }
    }

    /// The authenticated principal (kept during a re-authentication).
    pub fn principal(&self) -> Option<&Principal> {
        self.principal.as_ref()
    }

    /// Whether the connection has authenticated at least once.
    pub fn authenticated(&self) -> bool {
        self.principal.is_some()
    }

    /// Whether the next frame is a raw SASL token (after a v0 SaslHandshake).
    pub fn expects_raw(&self) -> bool {
        matches!(
            self.stage,
            Stage::Mechanism { raw: true, .. } | Stage::Scram { raw: true, .. }
        )
    }

    /// Whether the session lifetime passed at `now_ms` (only when re-authentication is on);
    /// past it only SaslHandshake and SaslAuthenticate (a re-authentication) are served.
    pub fn expired(&self, now_ms: i64) -> bool {
        self.expires_at_ms.is_some_and(|t| now_ms >= t)
    }

    /// Whether a re-authentication is under way.
    pub fn reauthenticating(&self) -> bool {
        self.principal.is_some() && !matches!(self.stage, Stage::Done)
    }

    /// Answers SaslHandshake `version` for `mechanism`.
    pub fn handshake(&mut self, version: i16, mechanism: &str) -> HandshakeStep {
        let mechanisms = self.cfg.mechanisms.clone();
        let refuse = |code, mechanisms| HandshakeStep {
            error_code: code,
            mechanisms,
            close: true,
        };
        match self.stage {
            Stage::Handshake => {}
            Stage::Done if self.cfg.reauth_ms > 0 && version >= 1 => {
                if self.mechanism.as_deref() != Some(mechanism) {
                    tracing::info!(
                        mechanism,
                        "re-authentication with another mechanism; closing"
                    );
                    self.stage = Stage::Failed;
                    return refuse(code::ILLEGAL_SASL_STATE, mechanisms);
                }
            }
            Stage::Done => {
                return HandshakeStep {
                    error_code: code::ILLEGAL_SASL_STATE,
                    mechanisms,
                    close: false,
                }
            }
            _ => {
                self.stage = Stage::Failed;
                return refuse(code::ILLEGAL_SASL_STATE, mechanisms);
            }
        }
        if !self.cfg.mechanisms.iter().any(|m| m == mechanism) {
            tracing::info!(mechanism, "SASL mechanism not enabled; closing");
            self.stage = Stage::Failed;
            return refuse(code::UNSUPPORTED_SASL_MECHANISM, mechanisms);
        }
        self.stage = Stage::Mechanism {
            mechanism: mechanism.to_string(),
            raw: version == 0,
        };
        HandshakeStep {
            error_code: 0,
            mechanisms,
            close: false,
        }
    }

    /// Answers one SaslAuthenticate (or raw v0 token) carrying `bytes` at `now_ms`.
    pub fn authenticate(&mut self, bytes: &[u8], now_ms: i64) -> AuthStep {
        match std::mem::replace(&mut self.stage, Stage::Failed) {
            Stage::Handshake => AuthStep::fail(
                code::ILLEGAL_SASL_STATE,
                "Unexpected SaslAuthenticate request: no SaslHandshake before it",
            ),
            Stage::Done => {
                self.stage = Stage::Done;
                AuthStep {
                    close: false,
                    ..AuthStep::fail(
                        code::ILLEGAL_SASL_STATE,
                        "SaslAuthenticate request received after successful authentication",
                    )
                }
            }
            Stage::Failed | Stage::OauthRefused => AuthStep::fail(
                code::SASL_AUTHENTICATION_FAILED,
                failed_credentials(self.mechanism.as_deref().unwrap_or("OAUTHBEARER")),
            ),
            Stage::Mechanism { mechanism, raw } => match mechanism.as_str() {
                "PLAIN" => self.plain(bytes, now_ms),
                "OAUTHBEARER" => self.oauth(bytes, now_ms),
                m => match Mechanism::from_name(m) {
                    Some(sm) => self.scram_first(sm, bytes, raw),
                    None => AuthStep::fail(code::UNSUPPORTED_SASL_MECHANISM, m.to_string()),
                },
            },
            Stage::Scram { server, .. } => {
                let name = server.username().to_string();
                let known = self
                    .cfg
                    .scram
                    .get(&name, scram_mechanism(&server))
                    .is_some();
                match server.handle_client_final(bytes) {
                    Ok(final_msg) if known => {
                        let m = scram_mechanism(&server).name();
                        self.complete(Principal::user(&name), m, None, final_msg, now_ms)
                    }
                    Ok(_) | Err(_) => {
                        let m = scram_mechanism(&server).name();
                        tracing::info!(mechanism = m, "SCRAM authentication failed");
                        AuthStep::fail(code::SASL_AUTHENTICATION_FAILED, failed_credentials(m))
                    }
                }
            }
        }
    }

    fn complete(
        &mut self,
        principal: Principal,
        mechanism: &str,
        credential_expiry_ms: Option<i64>,
        bytes: Vec<u8>,
        now_ms: i64,
    ) -> AuthStep {
        if let Some(old) = &self.principal {
            if *old != principal {
                tracing::info!(%old, new = %principal, "re-authentication changed the principal; closing");
                return AuthStep::fail(
                    code::SASL_AUTHENTICATION_FAILED,
                    "Cannot change principals during re-authentication",
                );
            }
        }
        let mut lifetime = 0;
        self.expires_at_ms = None;
        if self.cfg.reauth_ms > 0 {
            lifetime = self.cfg.reauth_ms;
            if let Some(exp) = credential_expiry_ms {
                lifetime = lifetime.min((exp - now_ms).max(1));
            }
            self.expires_at_ms = Some(now_ms.saturating_add(lifetime));
        }
        tracing::debug!(%principal, mechanism, lifetime, "SASL authentication succeeded");
        self.principal = Some(principal);
        self.mechanism = Some(mechanism.to_string());
        self.stage = Stage::Done;
        AuthStep {
            session_lifetime_ms: lifetime,
            ..AuthStep::more(bytes)
        }
    }

    fn plain(&mut self, bytes: &[u8], now_ms: i64) -> AuthStep {
        self.mechanism.get_or_insert_with(|| "PLAIN".into());
        let refused = || {
            AuthStep::fail(
                code::SASL_AUTHENTICATION_FAILED,
                "Authentication failed: Invalid username or password",
            )
        };
        let creds = match plain::parse_client_message(bytes) {
            Ok(c) => c,
            Err(e) => {
                tracing::info!(error = %e, "malformed PLAIN message");
                return AuthStep::fail(code::SASL_AUTHENTICATION_FAILED, e.to_string());
            }
        };
        let expected = self.cfg.plain_users.get(&creds.username);
        let ok =
            expected.is_some_and(|p| constant_time_eq(p.as_bytes(), creds.password.as_bytes()));
        if !ok {
            tracing::info!("PLAIN authentication failed");
            return refused();
        }
        self.complete(
            Principal::user(&creds.username),
            "PLAIN",
            None,
            Vec::new(),
            now_ms,
        )
    }

    fn scram_first(&mut self, m: Mechanism, bytes: &[u8], raw: bool) -> AuthStep {
        let first = match scram::parse_client_first(bytes) {
            Ok(f) => f,
            Err(e) => {
                tracing::info!(error = %e, "malformed SCRAM client-first message");
                return AuthStep::fail(code::SASL_AUTHENTICATION_FAILED, e.to_string());
            }
        };
        if first.token_auth {
            return AuthStep::fail(
                code::SASL_AUTHENTICATION_FAILED,
                failed_credentials(m.name()),
            );
        }
        let credential = self
            .cfg
            .scram
            .get(&first.username, m)
            .unwrap_or_else(|| self.decoy(m, &first.username));
        match ScramServer::start(credential, first) {
            Ok((server, msg)) => {
                self.stage = Stage::Scram {
                    server: Box::new(server),
                    raw,
                };
                AuthStep::more(msg)
            }
            Err(e) => AuthStep::fail(code::SASL_AUTHENTICATION_FAILED, e.to_string()),
        }
    }

    /// A credential no password matches, with a salt that depends only on the name.
    fn decoy(&self, m: Mechanism, name: &str) -> ScramCredential {
        let mut key = self.cfg.decoy_key.clone();
        key.extend_from_slice(name.as_bytes());
        let salt = ScramCredential::from_salted_password(m, &key, b"", 4096).stored_key;
        let mut server_key = self.cfg.decoy_key.clone();
        server_key.push(1);
        ScramCredential::from_salted_password(m, &server_key, &salt, 4096)
    }

    fn oauth(&mut self, bytes: &[u8], now_ms: i64) -> AuthStep {
        self.mechanism.get_or_insert_with(|| "OAUTHBEARER".into());
        let initial = match oauthbearer::parse_client_initial_response(bytes) {
            Ok(i) => i,
            Err(e) => {
                tracing::info!(error = %e, "malformed OAUTHBEARER initial response");
                return AuthStep::fail(code::SASL_AUTHENTICATION_FAILED, e.to_string());
            }
        };
        let scope: Vec<&str> = self
            .cfg
            .oauth_required_scope
            .iter()
            .map(String::as_str)
            .collect();
        let now_secs = now_ms as f64 / 1000.0;
        let skew = self.cfg.oauth_clock_skew_ms as f64 / 1000.0;
        match oauthbearer::validate_unsecured_jwt(&initial.token, now_secs, skew, &scope) {
            Ok(claims) => {
                let exp_ms = (claims.expires_at * 1000.0) as i64;
                self.complete(
                    Principal::user(&claims.subject),
                    "OAUTHBEARER",
                    Some(exp_ms),
                    Vec::new(),
                    now_ms,
                )
            }
            Err(e) => {
                tracing::info!(error = %e, "OAUTHBEARER token refused");
                self.stage = Stage::OauthRefused;
                AuthStep::more(oauthbearer::error_response("invalid_token"))
            }
        }
    }
}

fn scram_mechanism(server: &ScramServer) -> Mechanism {
    server.mechanism()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(!x));
    }
    diff == 0
}
