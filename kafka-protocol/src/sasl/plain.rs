//! SASL PLAIN (RFC 4616).
//!
//! Grammar of the one client message:
//! ```text
//! message = [authzid] NUL authcid NUL passwd     ; UTF-8, each part without NUL
//! ```
//! The server answers with empty bytes on success. Kafka allows an authzid only when it
//! equals the authcid.

use super::SaslError;

/// What a PLAIN client sent.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainCredentials {
    /// The authorization identity (empty when absent).
    pub authzid: String,
    /// The user name.
    pub username: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for PlainCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlainCredentials")
            .field("authzid", &self.authzid)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The client's message for `username` / `password`, without an authzid (as Kafka's clients
/// send it).
pub fn client_message(username: &str, password: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(username.len() + password.len() + 2);
    out.push(0);
    out.extend_from_slice(username.as_bytes());
    out.push(0);
    out.extend_from_slice(password.as_bytes());
    out
}

/// Parses a client's message, checking the grammar and Kafka's rules (non-empty user name
/// and password; an authzid, if present, equal to the user name).
pub fn parse_client_message(bytes: &[u8]) -> Result<PlainCredentials, SaslError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| SaslError::Malformed("PLAIN message is not UTF-8".into()))?;
    let mut parts = text.split('\0');
    let (Some(authzid), Some(username), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SaslError::Malformed(
            "PLAIN message must have three NUL-separated parts".into(),
        ));
    };
    if username.is_empty() {
        return Err(SaslError::Malformed("PLAIN user name is empty".into()));
    }
    if password.is_empty() {
        return Err(SaslError::Malformed("PLAIN password is empty".into()));
    }
    if !authzid.is_empty() && authzid != username {
        return Err(SaslError::AuthenticationFailed(
            "authorization id differs from the user name".into(),
        ));
    }
    Ok(PlainCredentials {
        authzid: authzid.to_string(),
        username: username.to_string(),
        password: password.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rules() {
        let m = client_message("alice", "s3cret");
        assert_eq!(m, b"\0alice\0s3cret");
        let c = parse_client_message(&m).expect("valid");
        assert_eq!(c.username, "alice");
        assert_eq!(c.password, "s3cret");
        assert!(!format!("{c:?}").contains("s3cret"));
        assert!(parse_client_message(b"alice\0alice\0pw").is_ok());
        assert!(matches!(
            parse_client_message(b"bob\0alice\0pw"),
            Err(SaslError::AuthenticationFailed(_))
        ));
        assert!(parse_client_message(b"\0alice").is_err());
        assert!(parse_client_message(b"\0\0pw").is_err());
        assert!(parse_client_message(b"\0a\0b\0c").is_err());
        assert!(parse_client_message(&[0, 0xff, 0, b'p']).is_err());
    }
}
