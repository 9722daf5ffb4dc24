//! SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) as Kafka uses them: no channel
//! binding, user names escaped as `saslname`, iteration counts within Kafka's bounds.
//!
//! Grammar (RFC 5802 section 7, the parts Kafka uses):
//! ```text
//! client-first  = gs2-header client-first-bare
//! gs2-header    = ("n" / "y") "," ["a=" saslname] ","
//! client-first-bare = "n=" saslname ",r=" c-nonce *("," extension)
//! server-first  = "r=" c-nonce s-nonce ",s=" base64(salt) ",i=" iterations *("," extension)
//! client-final  = "c=" base64(gs2-header) ",r=" nonce ",p=" base64(ClientProof)
//! server-final  = "v=" base64(ServerSignature) / "e=" server-error-value
//! saslname      = UTF-8 with "," written "=2C" and "=" written "=3D"
//! ```
//! Keys: `SaltedPassword = PBKDF2(HMAC-H, password, salt, i)`,
//! `ClientKey = HMAC(SaltedPassword, "Client Key")`, `StoredKey = H(ClientKey)`,
//! `ServerKey = HMAC(SaltedPassword, "Server Key")`,
//! `AuthMessage = client-first-bare "," server-first "," client-final-without-proof`,
//! `ClientProof = ClientKey XOR HMAC(StoredKey, AuthMessage)`,
//! `ServerSignature = HMAC(ServerKey, AuthMessage)`.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256, Sha512};

use super::SaslError;

/// Kafka's smallest allowed iteration count (both mechanisms).
pub const MIN_ITERATIONS: u32 = 4096;
/// The largest iteration count accepted. Kafka's AlterUserScramCredentials allows up to
/// 16384; older clusters could store more, so the client takes up to 65536 but no more (a
/// hostile server must not make the client spin).
pub const MAX_ITERATIONS: u32 = 65_536;

/// A SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// SCRAM-SHA-256.
    Sha256,
    /// SCRAM-SHA-512.
    Sha512,
}

impl Mechanism {
    /// The mechanism's SASL name, as in SaslHandshake and `sasl.mechanism`.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Sha256 => "SCRAM-SHA-256",
            Mechanism::Sha512 => "SCRAM-SHA-512",
        }
    }

    /// The mechanism named `name` (case-sensitive, as Kafka compares them).
    pub fn from_name(name: &str) -> Option<Mechanism> {
        match name {
            "SCRAM-SHA-256" => Some(Mechanism::Sha256),
            "SCRAM-SHA-512" => Some(Mechanism::Sha512),
            _ => None,
        }
    }

    /// Kafka's `ScramMechanism` type byte (DescribeUserScramCredentials): 1 for SHA-256,
    /// 2 for SHA-512.
    pub fn kafka_type(self) -> i8 {
        match self {
            Mechanism::Sha256 => 1,
            Mechanism::Sha512 => 2,
        }
    }

    /// The mechanism with Kafka's type byte `t`.
    pub fn from_kafka_type(t: i8) -> Option<Mechanism> {
        match t {
            1 => Some(Mechanism::Sha256),
            2 => Some(Mechanism::Sha512),
            _ => None,
        }
    }

    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            Mechanism::Sha256 => {
                let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key)
                    .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
            Mechanism::Sha512 => {
                let mut mac = <hmac::Hmac<Sha512> as KeyInit>::new_from_slice(key)
                    .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
        }
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            Mechanism::Sha256 => Sha256::digest(data).to_vec(),
            Mechanism::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            Mechanism::Sha256 => {
                let mut out = vec![0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
                out
            }
            Mechanism::Sha512 => {
                let mut out = vec![0u8; 64];
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
                out
            }
        }
    }
}

/// What a server stores for one user and mechanism (never the password).
#[derive(Clone, PartialEq, Eq)]
pub struct ScramCredential {
    /// The mechanism.
    pub mechanism: Mechanism,
    /// The salt.
    pub salt: Vec<u8>,
    /// `H(ClientKey)`.
    pub stored_key: Vec<u8>,
    /// `HMAC(SaltedPassword, "Server Key")`.
    pub server_key: Vec<u8>,
    /// The PBKDF2 iteration count.
    pub iterations: u32,
}

impl std::fmt::Debug for ScramCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramCredential")
            .field("mechanism", &self.mechanism)
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl ScramCredential {
    /// The credential for `password` with `salt` and `iterations`.
    pub fn new(mechanism: Mechanism, password: &str, salt: &[u8], iterations: u32) -> Self {
        let salted = mechanism.salted_password(password.as_bytes(), salt, iterations);
        Self::from_salted_password(mechanism, &salted, salt, iterations)
    }

    /// The credential for `password` with a fresh random 32-byte salt.
    pub fn generate(
        mechanism: Mechanism,
        password: &str,
        iterations: u32,
    ) -> Result<Self, SaslError> {
        let salt = super::random_bytes(32)?;
        Ok(Self::new(mechanism, password, &salt, iterations))
    }

    /// The credential from an already salted password (AlterUserScramCredentials carries
    /// `SaltedPassword`, never the password).
    pub fn from_salted_password(
        mechanism: Mechanism,
        salted_password: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> Self {
        let client_key = mechanism.hmac(salted_password, b"Client Key");
        ScramCredential {
            mechanism,
            salt: salt.to_vec(),
            stored_key: mechanism.hash(&client_key),
            server_key: mechanism.hmac(salted_password, b"Server Key"),
            iterations,
        }
    }
}

/// `name` as a saslname (`,` → `=2C`, `=` → `=3D`).
pub fn escape_username(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

/// A saslname back to the name; `None` when an `=` starts anything but `=2C` / `=3D`.
pub fn unescape_username(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        match rest.get(i..i + 3) {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return None,
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Some(out)
}

/// Splits `a=value` attributes at commas.
fn attributes(msg: &str) -> impl Iterator<Item = (char, &str)> {
    msg.split(',').map(|part| {
        let mut chars = part.chars();
        match (chars.next(), chars.next()) {
            (Some(k), Some('=')) => (k, &part[k.len_utf8() + 1..]),
            _ => ('\0', part),
        }
    })
}

fn utf8(bytes: &[u8], what: &str) -> Result<String, SaslError> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| SaslError::Malformed(format!("{what} is not UTF-8")))
}

fn valid_nonce(n: &str) -> bool {
    !n.is_empty() && n.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b',')
}

fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

/// A fresh nonce: 24 random bytes, base64 (printable, no commas).
fn new_nonce() -> Result<String, SaslError> {
    Ok(B64.encode(super::random_bytes(24)?))
}

/// Where a client exchange stands.
#[derive(Debug)]
enum ClientState {
    Initial,
    SentFirst,
    SentFinal { server_signature: Vec<u8> },
    Done,
}

/// The client side of one SCRAM exchange.
///
/// `first()` gives the first message; `handle_server_first` the final one; then
/// `handle_server_final` checks the server's signature.
pub struct ScramClient {
    mechanism: Mechanism,
    username: String,
    password: String,
    nonce: String,
    extensions: String,
    client_first_bare: String,
    state: ClientState,
}

impl std::fmt::Debug for ScramClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramClient")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl ScramClient {
    /// A client for `username` / `password` with a random nonce.
    pub fn new(mechanism: Mechanism, username: &str, password: &str) -> Result<Self, SaslError> {
        Ok(Self::with_nonce(
            mechanism,
            username,
            password,
            &new_nonce()?,
        ))
    }

    /// A client with a given nonce (tests, RFC vectors).
    pub fn with_nonce(mechanism: Mechanism, username: &str, password: &str, nonce: &str) -> Self {
        ScramClient {
            mechanism,
            username: username.to_string(),
            password: password.to_string(),
            nonce: nonce.to_string(),
            extensions: String::new(),
            client_first_bare: String::new(),
            state: ClientState::Initial,
        }
    }

    /// Adds Kafka's `tokenauth=true` extension (authenticating with a delegation token).
    pub fn token_auth(mut self) -> Self {
        self.extensions = ",tokenauth=true".to_string();
        self
    }

    /// The client-first message.
    pub fn first(&mut self) -> Result<Vec<u8>, SaslError> {
        if !matches!(self.state, ClientState::Initial) {
            return Err(SaslError::UnexpectedMessage);
        }
        self.client_first_bare = format!(
            "n={},r={}{}",
            escape_username(&self.username),
            self.nonce,
            self.extensions
        );
        self.state = ClientState::SentFirst;
        Ok(format!("n,,{}", self.client_first_bare).into_bytes())
    }

    /// Reads the server-first message and returns the client-final message.
    pub fn handle_server_first(&mut self, msg: &[u8]) -> Result<Vec<u8>, SaslError> {
        if !matches!(self.state, ClientState::SentFirst) {
            return Err(SaslError::UnexpectedMessage);
        }
        let server_first = utf8(msg, "server-first message")?;
        let (mut nonce, mut salt, mut iterations) = (None, None, None);
        for (i, (k, v)) in attributes(&server_first).enumerate() {
            match (i, k) {
                (0, 'm') => {
                    return Err(SaslError::Malformed(
                        "server requires an unsupported mandatory extension".into(),
                    ))
                }
                (0, 'e') => return Err(SaslError::ServerError(v.to_string())),
                (0, 'r') => nonce = Some(v),
                (1, 's') => salt = Some(v),
                (2, 'i') => iterations = Some(v),
                (0..=2, _) => {
                    return Err(SaslError::Malformed(format!(
                        "server-first message: unexpected attribute {k:?} at {i}"
                    )))
                }
                _ => {}
            }
        }
        let (Some(nonce), Some(salt), Some(iterations)) = (nonce, salt, iterations) else {
            return Err(SaslError::Malformed(
                "server-first message lacks r, s or i".into(),
            ));
        };
        if !nonce.starts_with(&self.nonce) || nonce.len() == self.nonce.len() || !valid_nonce(nonce)
        {
            return Err(SaslError::Malformed(
                "server nonce does not extend the client nonce".into(),
            ));
        }
        let salt = B64
            .decode(salt)
            .map_err(|_| SaslError::Malformed("salt is not base64".into()))?;
        let iterations: u32 = iterations
            .parse()
            .map_err(|_| SaslError::Malformed(format!("iteration count {iterations:?}")))?;
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
            return Err(SaslError::IterationsOutOfRange(iterations));
        }
        let m = self.mechanism;
        let salted = m.salted_password(self.password.as_bytes(), &salt, iterations);
        let client_key = m.hmac(&salted, b"Client Key");
        let stored_key = m.hash(&client_key);
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!(
            "{},{},{}",
            self.client_first_bare, server_first, without_proof
        );
        let proof = xor(&client_key, &m.hmac(&stored_key, auth_message.as_bytes()));
        let server_key = m.hmac(&salted, b"Server Key");
        self.state = ClientState::SentFinal {
            server_signature: m.hmac(&server_key, auth_message.as_bytes()),
        };
        Ok(format!("{without_proof},p={}", B64.encode(proof)).into_bytes())
    }

    /// Checks the server-final message: `Ok` when the server proved it knows the credential.
    pub fn handle_server_final(&mut self, msg: &[u8]) -> Result<(), SaslError> {
        let ClientState::SentFinal { server_signature } = &self.state else {
            return Err(SaslError::UnexpectedMessage);
        };
        let text = utf8(msg, "server-final message")?;
        let (k, v) = attributes(&text)
            .next()
            .ok_or_else(|| SaslError::Malformed("empty server-final message".into()))?;
        match k {
            'e' => Err(SaslError::ServerError(v.to_string())),
            'v' => {
                let got = B64
                    .decode(v)
                    .map_err(|_| SaslError::Malformed("server signature is not base64".into()))?;
                if &got == server_signature {
                    self.state = ClientState::Done;
                    Ok(())
                } else {
                    Err(SaslError::ServerSignatureMismatch)
                }
            }
            _ => Err(SaslError::Malformed(
                "server-final message lacks v or e".into(),
            )),
        }
    }
}

/// What the server learned from a client-first message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFirst {
    /// The user name (unescaped).
    pub username: String,
    /// The client's nonce.
    pub nonce: String,
    /// Whether the client asked for delegation-token authentication (`tokenauth=true`).
    pub token_auth: bool,
    gs2_header: String,
    bare: String,
}

/// Parses a client-first message (server side). Channel binding (`p=`) is refused, as Kafka
/// does; an authzid must equal the user name.
pub fn parse_client_first(msg: &[u8]) -> Result<ClientFirst, SaslError> {
    let text = utf8(msg, "client-first message")?;
    let mut parts = text.splitn(3, ',');
    let (Some(cb), Some(authzid), Some(bare)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(SaslError::Malformed(
            "client-first message lacks the gs2 header".into(),
        ));
    };
    match cb {
        "n" | "y" => {}
        _ if cb.starts_with("p=") => {
            return Err(SaslError::Malformed(
                "channel binding is not supported".into(),
            ))
        }
        _ => return Err(SaslError::Malformed(format!("gs2 flag {cb:?}"))),
    }
    let (mut username, mut nonce, mut token_auth) = (None, None, false);
    for (i, (k, v)) in attributes(bare).enumerate() {
        match (i, k) {
            (0, 'n') => {
                username = Some(
                    unescape_username(v)
                        .ok_or_else(|| SaslError::Malformed("bad saslname escape".into()))?,
                )
            }
            (1, 'r') => nonce = Some(v.to_string()),
            (0 | 1, _) => {
                return Err(SaslError::Malformed(format!(
                    "client-first message: unexpected attribute {k:?} at {i}"
                )))
            }
            _ => {
                let part = bare.split(',').nth(i).unwrap_or_default();
                match part.split_once('=') {
                    Some((key, _))
                        if !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphabetic()) =>
                    {
                        token_auth |= part == "tokenauth=true"
                    }
                    _ => return Err(SaslError::Malformed(format!("bad extension {part:?}"))),
                }
            }
        }
    }
    let (Some(username), Some(nonce)) = (username, nonce) else {
        return Err(SaslError::Malformed(
            "client-first message lacks n or r".into(),
        ));
    };
    if username.is_empty() || !valid_nonce(&nonce) {
        return Err(SaslError::Malformed(
            "empty user name or invalid nonce".into(),
        ));
    }
    if let Some(a) = authzid.strip_prefix("a=") {
        if unescape_username(a).as_deref() != Some(username.as_str()) {
            return Err(SaslError::AuthenticationFailed(
                "authorization id differs from the user name".into(),
            ));
        }
    } else if !authzid.is_empty() {
        return Err(SaslError::Malformed("bad authzid in gs2 header".into()));
    }
    Ok(ClientFirst {
        username,
        nonce,
        token_auth,
        gs2_header: format!("{cb},{authzid},"),
        bare: bare.to_string(),
    })
}

/// The server side of one SCRAM exchange, after [`parse_client_first`] and the credential
/// lookup.
pub struct ScramServer {
    credential: ScramCredential,
    client_first: ClientFirst,
    nonce: String,
    server_first: String,
}

impl std::fmt::Debug for ScramServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramServer")
            .field("username", &self.client_first.username)
            .finish_non_exhaustive()
    }
}

impl ScramServer {
    /// Starts the exchange for `client_first` against the user's `credential`, with a
    /// random server nonce; returns the server and its server-first message.
    pub fn start(
        credential: ScramCredential,
        client_first: ClientFirst,
    ) -> Result<(Self, Vec<u8>), SaslError> {
        let server_nonce = new_nonce()?;
        Ok(Self::start_with_nonce(
            credential,
            client_first,
            &server_nonce,
        ))
    }

    /// [`ScramServer::start`] with a given server nonce (tests).
    pub fn start_with_nonce(
        credential: ScramCredential,
        client_first: ClientFirst,
        server_nonce: &str,
    ) -> (Self, Vec<u8>) {
        let nonce = format!("{}{}", client_first.nonce, server_nonce);
        let server_first = format!(
            "r={nonce},s={},i={}",
            B64.encode(&credential.salt),
            credential.iterations
        );
        let msg = server_first.clone().into_bytes();
        (
            ScramServer {
                credential,
                client_first,
                nonce,
                server_first,
            },
            msg,
        )
    }

    /// The mechanism of this exchange.
    pub fn mechanism(&self) -> Mechanism {
        self.credential.mechanism
    }

    /// The user this exchange authenticates.
    pub fn username(&self) -> &str {
        &self.client_first.username
    }

    /// Checks the client-final message; on success returns the server-final message.
    /// A wrong proof is [`SaslError::AuthenticationFailed`].
    pub fn handle_client_final(&self, msg: &[u8]) -> Result<Vec<u8>, SaslError> {
        let text = utf8(msg, "client-final message")?;
        let proof_at = text
            .rfind(",p=")
            .ok_or_else(|| SaslError::Malformed("client-final message lacks p".into()))?;
        let without_proof = &text[..proof_at];
        let proof = B64
            .decode(&text[proof_at + 3..])
            .map_err(|_| SaslError::Malformed("proof is not base64".into()))?;
        let mut attrs = attributes(without_proof);
        let (Some(('c', cb)), Some(('r', nonce))) = (attrs.next(), attrs.next()) else {
            return Err(SaslError::Malformed(
                "client-final message must start with c and r".into(),
            ));
        };
        let cb = B64
            .decode(cb)
            .map_err(|_| SaslError::Malformed("channel binding is not base64".into()))?;
        if cb != self.client_first.gs2_header.as_bytes() {
            return Err(SaslError::Malformed(
                "channel binding differs from the gs2 header".into(),
            ));
        }
        if nonce != self.nonce {
            return Err(SaslError::Malformed("nonce differs".into()));
        }
        let m = self.credential.mechanism;
        let auth_message = format!(
            "{},{},{}",
            self.client_first.bare, self.server_first, without_proof
        );
        let client_signature = m.hmac(&self.credential.stored_key, auth_message.as_bytes());
        if proof.len() != client_signature.len() {
            return Err(SaslError::AuthenticationFailed(
                "invalid credentials".into(),
            ));
        }
        let client_key = xor(&proof, &client_signature);
        if m.hash(&client_key) != self.credential.stored_key {
            return Err(SaslError::AuthenticationFailed(
                "invalid credentials".into(),
            ));
        }
        let signature = m.hmac(&self.credential.server_key, auth_message.as_bytes());
        Ok(format!("v={}", B64.encode(signature)).into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677 section 3's SCRAM-SHA-256 exchange, byte for byte.
    #[test]
    fn rfc7677_vector() {
        let mut c =
            ScramClient::with_nonce(Mechanism::Sha256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO");
        assert_eq!(
            c.first().expect("first"),
            b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
        );
        let server_first = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let fin = c.handle_server_first(server_first).expect("final");
        assert_eq!(
            String::from_utf8(fin).expect("utf8"),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        c.handle_server_final(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .expect("server signature");

        // The server side reproduces the same messages from the stored credential.
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").expect("salt");
        let cred = ScramCredential::new(Mechanism::Sha256, "pencil", &salt, 4096);
        let first = parse_client_first(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO").expect("parse");
        let (server, sf) =
            ScramServer::start_with_nonce(cred, first, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
        assert_eq!(sf, server_first);
        let v = server
            .handle_client_final(b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
            .expect("proof accepted");
        assert_eq!(v, b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    }

    fn exchange(
        m: Mechanism,
        user: &str,
        client_pw: &str,
        server_pw: &str,
    ) -> Result<(), SaslError> {
        let cred = ScramCredential::generate(m, server_pw, 4096)?;
        let mut c = ScramClient::new(m, user, client_pw)?;
        let first = parse_client_first(&c.first()?)?;
        assert_eq!(first.username, user);
        let (server, sf) = ScramServer::start(cred, first)?;
        let cf = c.handle_server_first(&sf)?;
        let f = server.handle_client_final(&cf)?;
        c.handle_server_final(&f)
    }

    #[test]
    fn both_mechanisms_round_trip_and_refuse_wrong_passwords() {
        for m in [Mechanism::Sha256, Mechanism::Sha512] {
            exchange(m, "al,i=ce", "pw", "pw").expect("right password");
            assert!(matches!(
                exchange(m, "alice", "wrong", "pw"),
                Err(SaslError::AuthenticationFailed(_))
            ));
            assert_eq!(Mechanism::from_name(m.name()), Some(m));
            assert_eq!(Mechanism::from_kafka_type(m.kafka_type()), Some(m));
        }
    }

    #[test]
    fn client_refuses_hostile_servers() {
        let mut c = ScramClient::with_nonce(Mechanism::Sha512, "u", "p", "abc");
        c.first().expect("first");
        for bad in [
            &b"r=abc,s=AAAA,i=4096"[..],     // nonce not extended
            b"r=xyzdef,s=AAAA,i=4096",       // a different nonce
            b"r=abcdef,s=!!,i=4096",         // salt not base64
            b"r=abcdef,s=AAAA,i=lots",       // iterations not a number
            b"m=ext,r=abcdef,s=AAAA,i=4096", // mandatory extension
            b"r=abcdef,s=AAAA",              // no iterations
            &[0xff, 0xfe],
        ] {
            assert!(
                c.handle_server_first(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(
            c.handle_server_first(b"r=abcdef,s=AAAA,i=4294967295"),
            Err(SaslError::IterationsOutOfRange(u32::MAX))
        );
        assert_eq!(
            c.handle_server_first(b"r=abcdef,s=AAAA,i=1024"),
            Err(SaslError::IterationsOutOfRange(1024))
        );
        assert_eq!(
            c.handle_server_first(b"e=other-error"),
            Err(SaslError::ServerError("other-error".into()))
        );
        let fin = c
            .handle_server_first(b"r=abcdef,s=AAAA,i=4096")
            .expect("valid");
        assert!(fin.starts_with(b"c=biws,r=abcdef,p="));
        assert_eq!(
            c.handle_server_final(b"v=AAAA"),
            Err(SaslError::ServerSignatureMismatch)
        );
        assert!(c.handle_server_final(b"e=invalid-proof").is_err());
    }

    #[test]
    fn server_refuses_malformed_clients() {
        for bad in [
            &b""[..],
            b"n,",
            b"p=tls-unique,,n=u,r=abc",
            b"x,,n=u,r=abc",
            b"n,,r=abc,n=u",
            b"n,,n=u",
            b"n,,n=,r=abc",
            b"n,,n=a=4,r=abc",
            b"n,a=other,n=u,r=abc",
            b"n,,n=u,r=a,bc",
        ] {
            assert!(
                parse_client_first(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let f = parse_client_first(b"n,a=u,n=u,r=abc,tokenauth=true").expect("valid");
        assert!(f.token_auth);
        let cred = ScramCredential::new(Mechanism::Sha256, "pw", b"salt", 4096);
        let (server, _) = ScramServer::start_with_nonce(cred, f, "srv");
        for bad in [
            &b"c=biws,r=abcsrv"[..],       // no proof
            b"c=biws,r=abcsrv,p=!!",       // proof not base64
            b"c=biws,r=other,p=AAAA",      // wrong nonce
            b"c=eSwsCg==,r=abcsrv,p=AAAA", // wrong channel binding
            b"r=abcsrv,c=biws,p=AAAA",     // wrong order
            b"c=bixhPXUs,r=abcsrv,p=AAAA", // right binding, short proof
        ] {
            assert!(
                server.handle_client_final(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn saslname_escaping() {
        assert_eq!(escape_username("a,b=c"), "a=2Cb=3Dc");
        assert_eq!(unescape_username("a=2Cb=3Dc").as_deref(), Some("a,b=c"));
        assert_eq!(unescape_username("a=2"), None);
        assert_eq!(unescape_username("a=41"), None);
    }
}
