//! Security of the in-process broker over the raw protocol: SASL refusals counted (`tried
//! N, let in 0`), successful PLAIN / SCRAM / OAUTHBEARER exchanges, SaslHandshake v0 raw
//! tokens, re-authentication (KIP-368), hostile SASL input, SCRAM credential admin APIs,
//! per-listener advertised addresses, and TLS with required client certificates.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use krafty_protocol::frame::{decode_typed_response, split_frame, write_typed_request};
use krafty_protocol::generated::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use krafty_protocol::generated::describe_user_scram_credentials_request::UserName;
use krafty_protocol::generated::{
    AlterUserScramCredentialsRequest, DescribeUserScramCredentialsRequest, MetadataRequest,
    SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
};
use krafty_protocol::message::ClientRequest;
use krafty_protocol::sasl::scram::{Mechanism, ScramClient};
use krafty_protocol::sasl::{oauthbearer, plain};
use krafty_protocol::wire::StrBytes;
use krafty_server::security::credentials::parse_seed;
use krafty_server::{Broker, BrokerConfig, BrokerHandle};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

struct Conn {
    io: Box<dyn Io>,
    buf: BytesMut,
    corr: i32,
}

impl Conn {
    async fn tcp(addr: SocketAddr) -> Conn {
        Conn::over(Box::new(TcpStream::connect(addr).await.unwrap()))
    }

    fn over(io: Box<dyn Io>) -> Conn {
        Conn {
            io,
            buf: BytesMut::new(),
            corr: 0,
        }
    }

    async fn send<R: ClientRequest>(&mut self, version: i16, body: &R) -> bool {
        self.corr += 1;
        let mut out = BytesMut::new();
        write_typed_request(
            &mut out,
            self.corr,
            Some(&StrBytes::from("sec-test")),
            version,
            body,
        )
        .unwrap();
        self.io.write_all(&out).await.is_ok()
    }

    async fn write_raw(&mut self, bytes: &[u8]) -> bool {
        self.io.write_all(bytes).await.is_ok()
    }

    /// The next frame; `None` at EOF (or a reset) within 10 s.
    async fn frame(&mut self) -> Option<Bytes> {
        let read = async {
            loop {
                if let Some(f) = split_frame(&mut self.buf, 1 << 26).ok()? {
                    return Some(f.freeze());
                }
                match self.io.read_buf(&mut self.buf).await {
                    Ok(0) | Err(_) => return None,
                    Ok(_) => {}
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), read)
            .await
            .expect("no answer and no close within 10 s")
    }

    async fn call<R: ClientRequest>(&mut self, version: i16, body: &R) -> Option<R::Response> {
        if !self.send(version, body).await {
            return None;
        }
        let f = self.frame().await?;
        Some(decode_typed_response::<R::Response>(f, version).unwrap().1)
    }

    async fn handshake(&mut self, version: i16, mechanism: &str) -> Option<(i16, Vec<String>)> {
        let r = self
            .call(
                version,
                &SaslHandshakeRequest {
                    mechanism: StrBytes::from(mechanism.to_string()),
                },
            )
            .await?;
        Some((
            r.error_code,
            r.mechanisms.iter().map(|m| m.to_string()).collect(),
        ))
    }

    async fn authenticate(&mut self, bytes: Vec<u8>) -> Option<SaslAuthenticateResponse> {
        self.call(
            2,
            &SaslAuthenticateRequest {
                auth_bytes: Bytes::from(bytes),
                ..Default::default()
            },
        )
        .await
    }

    /// Whether a Metadata request is answered (the connection is let in), with the port
    /// the broker advertises.
    async fn metadata_port(&mut self) -> Option<i32> {
        let r = self
            .call(
                12,
                &MetadataRequest {
                    topics: Some(vec![]),
                    ..Default::default()
                },
            )
            .await?;
        Some(r.brokers.first()?.port)
    }

    /// Whether the broker closes the connection (EOF, nothing else).
    async fn closed(&mut self) -> bool {
        self.frame().await.is_none()
    }
}

const MECHS: &str = "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER";

async fn start(dir: &std::path::Path, extra: &[(&str, &str)]) -> BrokerHandle {
    let mut c = BrokerConfig::new(([127, 0, 0, 1], 0).into(), dir);
    for (k, v) in [
        ("listeners", "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0"),
        ("sasl.enabled.mechanisms", MECHS),
        ("listener.name.sasl_plaintext.plain.sasl.jaas.config", r#"org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret" user_bob="bob-secret";"#),
        ("listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config", r#"org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredValidatorRequiredScope="kafka" unsecuredValidatorAllowableClockSkewMs="5000";"#),
        ("group.initial.rebalance.delay.ms", "0"),
    ]
    .iter()
    .chain(extra)
    {
        c.set(k, v).unwrap();
    }
    c.scram_seeds
        .push(parse_seed("SCRAM-SHA-512=[name=carol,password=carol-secret]").unwrap());
    c.scram_seeds.push(
        parse_seed("SCRAM-SHA-256=[name=carol,password=carol-secret,iterations=8192]").unwrap(),
    );
    Broker::start(c).await.unwrap()
}

fn sasl_addr(b: &BrokerHandle) -> SocketAddr {
    b.listener_addr("SASL_PLAINTEXT").unwrap()
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn scram_login(
    c: &mut Conn,
    m: Mechanism,
    user: &str,
    password: &str,
) -> Option<SaslAuthenticateResponse> {
    let (code, _) = c.handshake(1, m.name()).await?;
    assert_eq!(code, 0);
    let mut client = ScramClient::new(m, user, password).unwrap();
    let first = c.authenticate(client.first().unwrap()).await?;
    if first.error_code != 0 {
        return Some(first);
    }
    let final_msg = client.handle_server_first(&first.auth_bytes).unwrap();
    let last = c.authenticate(final_msg).await?;
    if last.error_code == 0 {
        client
            .handle_server_final(&last.auth_bytes)
            .expect("the broker proves it knows the credential");
    }
    Some(last)
}

#[tokio::test]
async fn refusals_are_counted_and_nobody_gets_in() {
    let dir = tempfile::tempdir().unwrap();
    let b = start(dir.path(), &[("connections.max.idle.ms", "1500")]).await;
    let addr = sasl_addr(&b);
    let mut tried = 0;
    let mut let_in = Vec::new();
    let mut check = |name: &str, c_let_in: bool| {
        tried += 1;
        if c_let_in {
            let_in.push(name.to_string());
        }
    };

    // a Metadata request before authenticating: closed without an answer
    let mut c = Conn::tcp(addr).await;
    assert!(
        c.send(
            12,
            &MetadataRequest {
                topics: Some(vec![]),
                ..Default::default()
            }
        )
        .await
    );
    check("metadata-before-auth", !c.closed().await);

    // PLAIN: wrong password and unknown user, one message for both
    let mut msgs = Vec::new();
    for (name, user, pass) in [
        ("plain-wrong-password", "alice", "nope"),
        ("plain-unknown-user", "mallory", "alice-secret"),
    ] {
        let mut c = Conn::tcp(addr).await;
        assert_eq!(c.handshake(1, "PLAIN").await.unwrap().0, 0);
        let r = c
            .authenticate(plain::client_message(user, pass))
            .await
            .unwrap();
        assert_eq!(r.error_code, 58, "{name}");
        msgs.push(r.error_message.map(|m| m.to_string()));
        check(name, !c.closed().await);
    }
    assert_eq!(
        msgs[0], msgs[1],
        "PLAIN must not say whether the user exists"
    );

    // SCRAM: wrong password and unknown user, one message for both
    let mut msgs = Vec::new();
    for (name, user, pass) in [
        ("scram-wrong-password", "carol", "nope"),
        ("scram-unknown-user", "mallory", "x"),
    ] {
        let mut c = Conn::tcp(addr).await;
        let r = scram_login(&mut c, Mechanism::Sha512, user, pass)
            .await
            .unwrap();
        assert_eq!(r.error_code, 58, "{name}");
        msgs.push(r.error_message.map(|m| m.to_string()));
        check(name, !c.closed().await);
    }
    assert_eq!(
        msgs[0], msgs[1],
        "SCRAM must not say whether the user exists"
    );

    // a disabled mechanism: UNSUPPORTED_SASL_MECHANISM with the enabled list, then closed
    let mut c = Conn::tcp(addr).await;
    let (code, mechs) = c.handshake(1, "GSSAPI").await.unwrap();
    assert_eq!(code, 33);
    assert_eq!(mechs.join(","), MECHS);
    check("disabled-mechanism", !c.closed().await);

    // an expired OAUTHBEARER token (and one without the required scope)
    for (name, token) in [
        (
            "oauth-expired",
            oauthbearer::unsecured_jwt("dave", now_secs() - 3600, 60, &["kafka"]),
        ),
        (
            "oauth-missing-scope",
            oauthbearer::unsecured_jwt("dave", now_secs(), 600, &["other"]),
        ),
    ] {
        let mut c = Conn::tcp(addr).await;
        assert_eq!(c.handshake(1, "OAUTHBEARER").await.unwrap().0, 0);
        let r = c
            .authenticate(oauthbearer::client_initial_response(
                &token,
                &Default::default(),
            ))
            .await
            .unwrap();
        assert_eq!(r.error_code, 0, "the refusal is an error challenge first");
        assert!(String::from_utf8_lossy(&r.auth_bytes).contains("invalid_token"));
        let r = c
            .authenticate(oauthbearer::error_acknowledgement())
            .await
            .unwrap();
        assert_eq!(r.error_code, 58, "{name}");
        check(name, !c.closed().await);
    }

    // SaslAuthenticate before SaslHandshake: ILLEGAL_SASL_STATE, closed
    let mut c = Conn::tcp(addr).await;
    let r = c
        .authenticate(plain::client_message("alice", "alice-secret"))
        .await
        .unwrap();
    assert_eq!(r.error_code, 34);
    check("authenticate-before-handshake", !c.closed().await);

    // a second handshake in the middle of an exchange: ILLEGAL_SASL_STATE, closed
    let mut c = Conn::tcp(addr).await;
    assert_eq!(c.handshake(1, "PLAIN").await.unwrap().0, 0);
    assert_eq!(c.handshake(1, "PLAIN").await.unwrap().0, 34);
    check("handshake-twice", !c.closed().await);

    // a client that never authenticates (sends ApiVersions, then nothing): closed after
    // connections.max.idle.ms even though it sent a request
    let mut c = Conn::tcp(addr).await;
    assert!(c
        .call(
            3,
            &krafty_protocol::generated::ApiVersionsRequest::default()
        )
        .await
        .is_some());
    check("never-authenticates", !c.closed().await);

    eprintln!("tried {tried}, let in {}", let_in.len());
    assert!(tried >= 11);
    assert!(let_in.is_empty(), "let in: {let_in:?}");
    b.shutdown().await.unwrap();
}

#[tokio::test]
async fn each_mechanism_lets_the_right_user_in_and_metadata_advertises_the_listener() {
    let dir = tempfile::tempdir().unwrap();
    let b = start(dir.path(), &[]).await;
    let addr = sasl_addr(&b);
    // PLAINTEXT: advertises its own port
    let mut c = Conn::tcp(b.local_addr()).await;
    assert_eq!(
        c.metadata_port().await,
        Some(i32::from(b.local_addr().port()))
    );
    // SASL on PLAINTEXT: ILLEGAL_SASL_STATE, connection kept
    assert_eq!(c.handshake(1, "PLAIN").await.unwrap().0, 34);
    assert!(c.metadata_port().await.is_some());

    let port = Some(i32::from(addr.port()));
    let mut c = Conn::tcp(addr).await;
    assert_eq!(c.handshake(1, "PLAIN").await.unwrap().0, 0);
    let r = c
        .authenticate(plain::client_message("alice", "alice-secret"))
        .await
        .unwrap();
    assert_eq!((r.error_code, r.session_lifetime_ms), (0, 0));
    assert_eq!(
        c.metadata_port().await,
        port,
        "SASL listener advertises its own port"
    );
    // SaslAuthenticate after success: ILLEGAL_SASL_STATE, connection kept
    assert_eq!(c.authenticate(vec![1]).await.unwrap().error_code, 34);
    assert_eq!(c.metadata_port().await, port);

    for m in [Mechanism::Sha256, Mechanism::Sha512] {
        let mut c = Conn::tcp(addr).await;
        let r = scram_login(&mut c, m, "carol", "carol-secret")
            .await
            .unwrap();
        assert_eq!(r.error_code, 0, "{m:?}: {:?}", r.error_message);
        assert_eq!(c.metadata_port().await, port);
    }

    let mut c = Conn::tcp(addr).await;
    assert_eq!(c.handshake(1, "OAUTHBEARER").await.unwrap().0, 0);
    let token = oauthbearer::unsecured_jwt("dave", now_secs(), 600, &["kafka"]);
    let r = c
        .authenticate(oauthbearer::client_initial_response(
            &token,
            &Default::default(),
        ))
        .await
        .unwrap();
    assert_eq!(r.error_code, 0);
    assert_eq!(c.metadata_port().await, port);

    // SaslHandshake v0: the tokens that follow are raw (size prefix, no Kafka header)
    let mut c = Conn::tcp(addr).await;
    assert_eq!(c.handshake(0, "PLAIN").await.unwrap().0, 0);
    let token = plain::client_message("bob", "bob-secret");
    let mut raw = (token.len() as i32).to_be_bytes().to_vec();
    raw.extend_from_slice(&token);
    assert!(c.write_raw(&raw).await);
    assert_eq!(
        c.frame().await.map(|f| f.len()),
        Some(0),
        "an empty raw answer"
    );
    assert_eq!(c.metadata_port().await, port);
    // v0 with a wrong password: closed (v0 has no error answer)
    let mut c = Conn::tcp(addr).await;
    assert_eq!(c.handshake(0, "PLAIN").await.unwrap().0, 0);
    let token = plain::client_message("bob", "nope");
    let mut raw = (token.len() as i32).to_be_bytes().to_vec();
    raw.extend_from_slice(&token);
    assert!(c.write_raw(&raw).await);
    assert!(c.closed().await);
    b.shutdown().await.unwrap();
}

#[tokio::test]
async fn reauthentication_within_the_session_lifetime_and_close_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let b = start(dir.path(), &[("connections.max.reauth.ms", "1500")]).await;
    let addr = sasl_addr(&b);
    let login = |user: &'static str, pass: &'static str| plain::client_message(user, pass);
    let mut c = Conn::tcp(addr).await;
    assert_eq!(c.handshake(1, "PLAIN").await.unwrap().0, 0);
    let r = c
        .authenticate(login("alice", "alice-secret"))
        .await
        .unwrap();
    assert_eq!((r.error_code, r.session_lifetime_ms), (0, 1500));
    assert!(c.metadata_port().await.is_some());
    // re-authenticate as the same user: a new lifetime
    assert_eq!(c.handshake(1, "PLAIN").await.unwrap().0, 0);
    let r = c
        .authenticate(login("alice", "alice-secret"))
        .await
        .unwrap();
    assert_eq!((r.error_code, r.session_lifetime_ms), (0, 1500));
    assert!(c.metadata_port().await.is_some());
    // re-authenticating as someone else is refused
    assert_eq!(c.handshake(1, "PLAIN").await.unwrap().0, 0);
    assert_eq!(
        c.authenticate(login("bob", "bob-secret"))
            .await
            .unwrap()
            .error_code,
        58
    );
    assert!(c.closed().await);

    // an OAUTHBEARER token expiring before connections.max.reauth.ms bounds the lifetime
    let mut c = Conn::tcp(addr).await;
    assert_eq!(c.handshake(1, "OAUTHBEARER").await.unwrap().0, 0);
    let token = oauthbearer::unsecured_jwt("dave", now_secs(), 1, &["kafka"]);
    let r = c
        .authenticate(oauthbearer::client_initial_response(
            &token,
            &Default::default(),
        ))
        .await
        .unwrap();
    assert_eq!(r.error_code, 0);
    // (at most the token's remaining second, or 1 ms when within the allowed clock skew)
    assert!(
        r.session_lifetime_ms > 0 && r.session_lifetime_ms <= 1000,
        "{}",
        r.session_lifetime_ms
    );

    // a session that expired: the next request closes the connection
    let mut c = Conn::tcp(addr).await;
    assert_eq!(c.handshake(1, "PLAIN").await.unwrap().0, 0);
    assert_eq!(
        c.authenticate(login("alice", "alice-secret"))
            .await
            .unwrap()
            .error_code,
        0
    );
    tokio::time::sleep(Duration::from_millis(3000)).await;
    assert_eq!(c.metadata_port().await, None, "expired session closed");
    b.shutdown().await.unwrap();
}

#[tokio::test]
async fn hostile_sasl_input_gets_errors_never_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let b = start(dir.path(), &[]).await;
    let addr = sasl_addr(&b);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("PLAIN", b"no-nuls".to_vec()),
        ("PLAIN", vec![0, 0, 0]),
        ("PLAIN", vec![0xff, 0, 0xfe, 0, 0xfd]),
        ("SCRAM-SHA-512", b"p=tls-unique,,n=a,r=b".to_vec()),
        ("SCRAM-SHA-512", b"n,,".to_vec()),
        ("SCRAM-SHA-256", vec![0xc3; 4000]),
        ("OAUTHBEARER", b"n,,\x01auth=Bearer x.y.z\x01\x01".to_vec()),
        ("OAUTHBEARER", b"garbage".to_vec()),
    ];
    for (mech, token) in cases {
        let mut c = Conn::tcp(addr).await;
        assert_eq!(c.handshake(1, mech).await.unwrap().0, 0);
        let r = c.authenticate(token.clone()).await.unwrap();
        if mech == "OAUTHBEARER" && r.error_code == 0 {
            // invalid token: error challenge, then the failure
            let r = c.authenticate(vec![1]).await.unwrap();
            assert_eq!(r.error_code, 58);
        } else {
            assert_eq!(r.error_code, 58, "{mech} {token:?}");
        }
        assert!(c.closed().await);
    }
    // a SCRAM client-final that is garbage after a valid first message
    let mut c = Conn::tcp(addr).await;
    assert_eq!(c.handshake(1, "SCRAM-SHA-512").await.unwrap().0, 0);
    let mut client = ScramClient::new(Mechanism::Sha512, "carol", "x").unwrap();
    assert_eq!(
        c.authenticate(client.first().unwrap())
            .await
            .unwrap()
            .error_code,
        0
    );
    assert_eq!(
        c.authenticate(b"c=biws,r=wrong,p=AAAA".to_vec())
            .await
            .unwrap()
            .error_code,
        58
    );
    assert!(c.closed().await);
    // a token larger than sasl.server.max.receive.size before authentication: closed unread
    let mut c = Conn::tcp(addr).await;
    assert_eq!(c.handshake(1, "PLAIN").await.unwrap().0, 0);
    let _ = c
        .send(
            2,
            &SaslAuthenticateRequest {
                auth_bytes: Bytes::from(vec![b'a'; 600_000]),
                ..Default::default()
            },
        )
        .await;
    assert!(c.closed().await);
    // a size prefix claiming 2 GiB before authentication: closed
    let mut c = Conn::tcp(addr).await;
    assert!(c.write_raw(&[0x7f, 0xff, 0xff, 0xff, 1, 2, 3]).await);
    assert!(c.closed().await);
    // the broker still serves
    let mut c = Conn::tcp(addr).await;
    assert_eq!(c.handshake(1, "PLAIN").await.unwrap().0, 0);
    assert_eq!(
        c.authenticate(plain::client_message("alice", "alice-secret"))
            .await
            .unwrap()
            .error_code,
        0
    );
    assert!(c.metadata_port().await.is_some());
    b.shutdown().await.unwrap();
}

#[tokio::test]
async fn scram_credentials_are_administered_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let b = start(dir.path(), &[]).await;
    let mut c = Conn::tcp(b.local_addr()).await;
    let upsert = |name: &str, mechanism: i8, iterations: i32| ScramCredentialUpsertion {
        name: StrBytes::from(name.to_string()),
        mechanism,
        iterations,
        salt: Bytes::from_static(b"0123456789abcdef"),
        salted_password: Bytes::from(vec![7u8; 64]),
        ..Default::default()
    };
    let r = c
        .call(
            0,
            &AlterUserScramCredentialsRequest {
                upsertions: vec![
                    upsert("erin", 2, 8192),
                    upsert("frank", 1, 100),
                    upsert("gina", 9, 4096),
                    upsert("hal", 1, 20000),
                ],
                deletions: vec![ScramCredentialDeletion {
                    name: StrBytes::from("nobody".to_string()),
                    mechanism: 1,
                    ..Default::default()
                }],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let codes: Vec<(String, i16)> = r
        .results
        .iter()
        .map(|r| (r.user.to_string(), r.error_code))
        .collect();
    assert_eq!(
        codes,
        vec![
            ("nobody".into(), 91),
            ("erin".into(), 0),
            ("frank".into(), 93),
            ("gina".into(), 33),
            ("hal".into(), 93)
        ]
    );
    let describe = |users: Option<Vec<&str>>| DescribeUserScramCredentialsRequest {
        users: users.map(|u| {
            u.into_iter()
                .map(|n| UserName {
                    name: StrBytes::from(n.to_string()),
                    ..Default::default()
                })
                .collect()
        }),
        ..Default::default()
    };
    let r = c.call(0, &describe(None)).await.unwrap();
    let all: Vec<(String, Vec<(i8, i32)>)> = r
        .results
        .iter()
        .map(|r| {
            (
                r.user.to_string(),
                r.credential_infos
                    .iter()
                    .map(|i| (i.mechanism, i.iterations))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        all,
        vec![
            ("carol".into(), vec![(1, 8192), (2, 4096)]),
            ("erin".into(), vec![(2, 8192)])
        ]
    );
    let r = c
        .call(0, &describe(Some(vec!["erin", "zed", "erin2", "erin2"])))
        .await
        .unwrap();
    let codes: Vec<(String, i16)> = r
        .results
        .iter()
        .map(|r| (r.user.to_string(), r.error_code))
        .collect();
    assert_eq!(
        codes,
        vec![("erin".into(), 0), ("erin2".into(), 92), ("zed".into(), 91)]
    );
    b.shutdown().await.unwrap();

    // durable, and deletable
    let text = std::fs::read_to_string(dir.path().join("scram-credentials")).unwrap();
    assert!(!text.contains("carol-secret"), "never the password");
    let b = start(dir.path(), &[]).await;
    let mut c = Conn::tcp(b.local_addr()).await;
    let r = c.call(0, &describe(Some(vec!["erin"]))).await.unwrap();
    assert_eq!(r.results[0].error_code, 0);
    let r = c
        .call(
            0,
            &AlterUserScramCredentialsRequest {
                deletions: vec![ScramCredentialDeletion {
                    name: StrBytes::from("erin".to_string()),
                    mechanism: 2,
                    ..Default::default()
                }],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(r.results[0].error_code, 0);
    let r = c.call(0, &describe(Some(vec!["erin"]))).await.unwrap();
    assert_eq!(r.results[0].error_code, 91);
    b.shutdown().await.unwrap();
}

#[tokio::test]
async fn mutual_tls_required_principal_and_refusals() {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    let dir = tempfile::tempdir().unwrap();
    let pki = common::certs::make(dir.path());
    let mut cfg = BrokerConfig::new(([127, 0, 0, 1], 0).into(), dir.path().join("data"));
    for (k, v) in [
        ("listeners", "CLIENT://127.0.0.1:0".to_string()),
        ("listener.security.protocol.map", "CLIENT:SSL".to_string()),
        (
            "listener.name.client.ssl.keystore.certificate.chain",
            std::fs::read_to_string(&pki.server_cert).unwrap(),
        ),
        (
            "listener.name.client.ssl.keystore.key",
            std::fs::read_to_string(&pki.server_key).unwrap(),
        ),
        ("ssl.truststore.certificates", pki.ca_pem.clone()),
        ("ssl.client.auth", "required".to_string()),
    ] {
        cfg.set(k, &v).unwrap();
    }
    let b = Broker::start(cfg).await.unwrap();
    let addr = b.listener_addr("CLIENT").unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(&pki.ca).unwrap())
        .unwrap();
    let connect = |cert: Option<(&std::path::Path, &std::path::Path)>| {
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots.clone());
        let config = match cert {
            Some((c, k)) => builder
                .with_client_auth_cert(
                    vec![CertificateDer::from_pem_file(c).unwrap()],
                    PrivateKeyDer::from_pem_file(k).unwrap(),
                )
                .unwrap(),
            None => builder.with_no_client_auth(),
        };
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        async move {
            let tcp = TcpStream::connect(addr).await.unwrap();
            connector
                .connect(ServerName::try_from("localhost").unwrap(), tcp)
                .await
                .ok()
        }
    };
    let tls = connect(Some((&pki.client_cert, &pki.client_key)))
        .await
        .expect("handshake with a trusted certificate");
    let mut c = Conn::over(Box::new(tls));
    assert_eq!(c.metadata_port().await, Some(i32::from(addr.port())));

    let mut tried = 0;
    let mut let_in = 0;
    for cert in [
        None,
        Some((pki.rogue_cert.as_path(), pki.rogue_key.as_path())),
    ] {
        tried += 1;
        // TLS 1.3: the client may finish its handshake before the server refuses; the
        // refusal shows on the first read
        if let Some(tls) = connect(cert).await {
            let mut c = Conn::over(Box::new(tls));
            if c.metadata_port().await.is_some() {
                let_in += 1;
            }
        }
    }
    eprintln!("mTLS: tried {tried}, let in {let_in}");
    assert_eq!(let_in, 0);
    b.shutdown().await.unwrap();

    // the principal of the client certificate, as Java's X500Principal.getName() writes it
    let der = CertificateDer::from_pem_file(&pki.client_cert).unwrap();
    assert_eq!(
        krafty_server::security::principal::certificate_subject(&der).as_deref(),
        Some("O=krafty,CN=client")
    );
}

#[tokio::test]
async fn bad_security_config_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    for sets in [
        vec![("listeners", "SSL://127.0.0.1:0")],
        vec![
            ("listeners", "SSL://127.0.0.1:0"),
            ("ssl.keystore.location", "/nonexistent.pem"),
        ],
        vec![("ssl.keystore.pasword", "typo")],
        vec![("listeners", "X://127.0.0.1:0")],
        vec![("listeners", "SASL_PLAINTEXT://127.0.0.1:0")],
        vec![
            ("listeners", "SASL_PLAINTEXT://127.0.0.1:0"),
            ("sasl.enabled.mechanisms", "SCRAM-SHA-512"),
            ("connections.max.reauth.ms", "-1"),
        ],
    ] {
        let mut c = BrokerConfig::new(([127, 0, 0, 1], 0).into(), dir.path());
        let set: Result<(), _> = sets.iter().try_for_each(|(k, v)| c.set(k, v));
        let started = match set {
            Err(e) => Err(e),
            Ok(()) => Broker::start(c).await.map(|_| ()),
        };
        let e = started.expect_err(&format!("{sets:?} must be refused"));
        assert!(matches!(e, krafty_server::BrokerError::Config(_)), "{e}");
    }
}

#[tokio::test]
async fn advertised_listeners_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = BrokerConfig::new(([127, 0, 0, 1], 0).into(), dir.path());
    for (k, v) in [
        ("listeners", "INTERNAL://127.0.0.1:0,EXTERNAL://127.0.0.1:0"),
        (
            "listener.security.protocol.map",
            "INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT",
        ),
        (
            "advertised.listeners",
            "INTERNAL://internal.example:1111,EXTERNAL://external.example:2222",
        ),
    ] {
        c.set(k, v).unwrap();
    }
    let b = Broker::start(c).await.unwrap();
    for (name, host, port) in [
        ("INTERNAL", "internal.example", 1111),
        ("EXTERNAL", "external.example", 2222),
    ] {
        let mut conn = Conn::tcp(b.listener_addr(name).unwrap()).await;
        let r = conn
            .call(
                12,
                &MetadataRequest {
                    topics: Some(vec![]),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            (r.brokers[0].host.as_str(), r.brokers[0].port),
            (host, port),
            "{name}"
        );
    }
    assert_eq!(b.local_addr(), b.listener_addr("INTERNAL").unwrap());
    b.shutdown().await.unwrap();
}
