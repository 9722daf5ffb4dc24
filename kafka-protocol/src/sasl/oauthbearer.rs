//! SASL OAUTHBEARER (RFC 7628) as Kafka uses it, and Kafka's unsecured JWTs.
//!
//! Grammar of the client's initial response:
//! ```text
//! client-resp = gs2-header kvsep "auth=Bearer " token kvsep *(key "=" value kvsep) kvsep
//! gs2-header  = "n," ["a=" saslname] ","
//! kvsep       = %x01
//! ```
//! The server answers empty bytes on success. On failure it answers a JSON error
//! (`{"status":"invalid_token"}`), the client replies with a lone `kvsep`, and the server
//! then fails the authentication.
//!
//! An unsecured JWT (Kafka's `OAuthBearerUnsecuredLoginCallbackHandler`) is
//! `base64url({"alg":"none"}) "." base64url(claims) "."`: no signature, for tests and
//! development only.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;

use super::SaslError;

const KVSEP: char = '\u{1}';

/// The client's initial response carrying `token` and SASL extensions (`key=value`;
/// keys are letters, values printable ASCII).
pub fn client_initial_response(token: &str, extensions: &BTreeMap<String, String>) -> Vec<u8> {
    let mut s = format!("n,,{KVSEP}auth=Bearer {token}{KVSEP}");
    for (k, v) in extensions {
        s.push_str(&format!("{k}={v}{KVSEP}"));
    }
    s.push(KVSEP);
    s.into_bytes()
}

/// What a server reads from the initial response.
#[derive(Clone, PartialEq, Eq)]
pub struct InitialResponse {
    /// The bearer token.
    pub token: String,
    /// The SASL extensions (`auth` excluded).
    pub extensions: BTreeMap<String, String>,
}

impl std::fmt::Debug for InitialResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InitialResponse")
            .field("token", &"<redacted>")
            .field("extensions", &self.extensions)
            .finish()
    }
}

/// Parses a client's initial response (server side).
pub fn parse_client_initial_response(bytes: &[u8]) -> Result<InitialResponse, SaslError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| SaslError::Malformed("OAUTHBEARER response is not UTF-8".into()))?;
    let rest = text
        .strip_prefix("n,")
        .ok_or_else(|| SaslError::Malformed("OAUTHBEARER response lacks the gs2 header".into()))?;
    let sep = rest
        .find(',')
        .ok_or_else(|| SaslError::Malformed("OAUTHBEARER gs2 header is not closed".into()))?;
    let authzid = &rest[..sep];
    if !authzid.is_empty() && !authzid.starts_with("a=") {
        return Err(SaslError::Malformed("bad authzid in gs2 header".into()));
    }
    let body = rest[sep + 1..]
        .strip_prefix(KVSEP)
        .and_then(|b| b.strip_suffix(&format!("{KVSEP}{KVSEP}")))
        .ok_or_else(|| SaslError::Malformed("OAUTHBEARER key/values not framed by 0x01".into()))?;
    let mut token = None;
    let mut extensions = BTreeMap::new();
    for kv in body.split(KVSEP) {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| SaslError::Malformed("OAUTHBEARER key without value".into()))?;
        if k == "auth" {
            let t = v
                .strip_prefix("Bearer ")
                .ok_or_else(|| SaslError::Malformed("auth value is not `Bearer <token>`".into()))?;
            token = Some(t.trim().to_string());
        } else if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(SaslError::Malformed(format!("bad extension key {k:?}")));
        } else {
            extensions.insert(k.to_string(), v.to_string());
        }
    }
    let token = token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| SaslError::Malformed("no auth=Bearer token".into()))?;
    Ok(InitialResponse { token, extensions })
}

/// The server's error answer for a refused token (RFC 7628 section 3.2.2).
pub fn error_response(status: &str) -> Vec<u8> {
    serde_json::json!({ "status": status })
        .to_string()
        .into_bytes()
}

/// The client's reply to an error answer: a lone `kvsep`.
pub fn error_acknowledgement() -> Vec<u8> {
    vec![1]
}

/// The claims of an unsecured JWT the validator needs.
#[derive(Debug, Clone, PartialEq)]
pub struct UnsecuredClaims {
    /// The principal (`sub`).
    pub subject: String,
    /// Expiry, seconds since the epoch (`exp`).
    pub expires_at: f64,
    /// Issued at, seconds since the epoch (`iat`), when present.
    pub issued_at: Option<f64>,
    /// Scopes (`scope`: a string or an array of strings).
    pub scope: Vec<String>,
}

/// An unsecured JWT for `subject`, issued at `now_secs` and valid for `lifetime_secs`,
/// with `scope` (as Kafka's unsecured login callback handler makes them).
pub fn unsecured_jwt(subject: &str, now_secs: u64, lifetime_secs: u64, scope: &[&str]) -> String {
    let header = B64URL.encode(br#"{"alg":"none"}"#);
    let mut claims = serde_json::json!({
        "sub": subject,
        "iat": now_secs,
        "exp": now_secs.saturating_add(lifetime_secs),
    });
    if !scope.is_empty() {
        claims["scope"] = serde_json::json!(scope);
    }
    format!("{header}.{}.", B64URL.encode(claims.to_string()))
}

/// Validates an unsecured JWT as Kafka's `OAuthBearerUnsecuredValidatorCallbackHandler`
/// does: `alg` is `none`, the signature is empty, `sub` is a non-empty string, `exp` is in
/// the future (within `clock_skew_secs`), `iat` (when present) is not in the future, and
/// every scope in `required_scope` is granted.
pub fn validate_unsecured_jwt(
    token: &str,
    now_secs: f64,
    clock_skew_secs: f64,
    required_scope: &[&str],
) -> Result<UnsecuredClaims, SaslError> {
    let bad = |m: &str| SaslError::InvalidToken(m.to_string());
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("not three dot-separated parts"));
    };
    if !sig.is_empty() {
        return Err(bad("an unsecured JWT has an empty signature"));
    }
    let json = |part: &str, what: &str| -> Result<serde_json::Value, SaslError> {
        let raw = B64URL
            .decode(part)
            .map_err(|_| SaslError::InvalidToken(format!("{what} is not base64url")))?;
        serde_json::from_slice(&raw)
            .map_err(|_| SaslError::InvalidToken(format!("{what} is not JSON")))
    };
    let header = json(h, "header")?;
    if header.get("alg").and_then(|a| a.as_str()) != Some("none") {
        return Err(bad("alg is not \"none\""));
    }
    let claims = json(p, "claims")?;
    let subject = claims
        .get("sub")
        .and_then(|s| s.as_str())
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| bad("no sub claim"))?
        .to_string();
    let expires_at = claims
        .get("exp")
        .and_then(|e| e.as_f64())
        .ok_or_else(|| bad("no numeric exp claim"))?;
    if expires_at + clock_skew_secs <= now_secs {
        return Err(bad("expired"));
    }
    let issued_at = claims.get("iat").and_then(|i| i.as_f64());
    if let Some(iat) = issued_at {
        if iat - clock_skew_secs > now_secs {
            return Err(bad("issued in the future"));
        }
    }
    let scope: Vec<String> = match claims.get("scope") {
        None => Vec::new(),
        Some(serde_json::Value::String(s)) => s.split_whitespace().map(str::to_string).collect(),
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| bad("scope entry is not a string"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(bad("scope is neither a string nor an array")),
    };
    if let Some(missing) = required_scope
        .iter()
        .find(|r| !scope.iter().any(|s| s == *r))
    {
        return Err(SaslError::InvalidToken(format!(
            "scope {missing:?} not granted"
        )));
    }
    Ok(UnsecuredClaims {
        subject,
        expires_at,
        issued_at,
        scope,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_response_round_trip() {
        let mut ext = BTreeMap::new();
        ext.insert("traceId".to_string(), "123".to_string());
        let m = client_initial_response("tok.en.", &ext);
        assert_eq!(m, b"n,,\x01auth=Bearer tok.en.\x01traceId=123\x01\x01");
        let r = parse_client_initial_response(&m).expect("parse");
        assert_eq!(r.token, "tok.en.");
        assert_eq!(r.extensions, ext);
        assert!(!format!("{r:?}").contains("tok.en."));
        for bad in [
            &b"y,,\x01auth=Bearer t\x01\x01"[..],
            b"n,,auth=Bearer t\x01\x01",
            b"n,,\x01auth=Bearer t\x01",
            b"n,,\x01auth=Basic t\x01\x01",
            b"n,,\x01x=1\x01\x01",
            b"n,,\x01auth=Bearer t\x01k-1=v\x01\x01",
            b"n,,\x01auth=Bearer \x01\x01",
        ] {
            assert!(
                parse_client_initial_response(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn unsecured_jwt_validation() {
        let t = unsecured_jwt("alice", 1_000, 3_600, &["kafka"]);
        let c = validate_unsecured_jwt(&t, 1_500.0, 30.0, &["kafka"]).expect("valid");
        assert_eq!(c.subject, "alice");
        assert_eq!(c.expires_at, 4_600.0);
        assert!(
            validate_unsecured_jwt(&t, 5_000.0, 30.0, &[]).is_err(),
            "expired"
        );
        assert!(
            validate_unsecured_jwt(&t, 500.0, 30.0, &[]).is_err(),
            "issued in the future"
        );
        assert!(
            validate_unsecured_jwt(&t, 1_500.0, 30.0, &["admin"]).is_err(),
            "scope"
        );
        assert!(validate_unsecured_jwt(&format!("{t}sig"), 1_500.0, 30.0, &[]).is_err());
        let signed = format!(
            "{}.{}.",
            B64URL.encode(br#"{"alg":"HS256"}"#),
            t.split('.').nth(1).expect("claims")
        );
        assert!(
            validate_unsecured_jwt(&signed, 1_500.0, 30.0, &[]).is_err(),
            "alg"
        );
        let no_sub = format!(
            "{}.{}.",
            B64URL.encode(br#"{"alg":"none"}"#),
            B64URL.encode(br#"{"exp":9999}"#)
        );
        assert!(validate_unsecured_jwt(&no_sub, 1.0, 0.0, &[]).is_err());
        assert!(validate_unsecured_jwt("a.b", 1.0, 0.0, &[]).is_err());
        assert!(validate_unsecured_jwt("!.!.", 1.0, 0.0, &[]).is_err());
    }
}
