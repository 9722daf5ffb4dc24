//! Arbitrary SaslHandshake / SaslAuthenticate / raw-frame sequences through the broker's
//! authentication gate and SASL state machine (`net::dispatch::dispatch_conn` on a fresh
//! connection of a SASL_PLAINTEXT listener with PLAIN, SCRAM-SHA-256/512 and OAUTHBEARER
//! enabled, and a SCRAM user). The input is a list of steps `[op][len u16][payload]`:
//! op % 4 = 0 a SaslHandshake (v0 or v1 by bit 2; mechanism from a list by the first payload
//! byte, or the payload itself when bit 3 is set), 1 a SaslAuthenticate v0/v1 with the
//! payload as the token, 2 the payload as a whole request frame, 3 a v1 SaslAuthenticate
//! with a well-formed PLAIN/SCRAM-first token made from the payload. After a Close the
//! sequence stops (the connection would be gone). Any answer is fine; a panic, a hang or
//! an unbounded allocation is a finding.

#![no_main]

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use bytes::{BufMut, Bytes, BytesMut};
use krafty_server::broker::BrokerState;
use krafty_server::net::dispatch::dispatch_conn;
use krafty_server::net::{Pending, Reply};
use krafty_server::security::principal::Principal;
use krafty_server::security::session::ConnSecurity;
use krafty_server::{Broker, BrokerConfig, BrokerHandle};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    _rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
    _broker: BrokerHandle,
    state: Arc<BrokerState>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = BrokerConfig::new(([127, 0, 0, 1], 0).into(), dir.path());
        for (k, v) in [
            ("listeners", "SASL_PLAINTEXT://127.0.0.1:0"),
            ("sasl.enabled.mechanisms", "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER"),
            ("sasl.jaas.config", r#"org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";"#),
            ("connections.max.reauth.ms", "60000"),
        ] {
            config.set(k, v).expect("config");
        }
        config.scram_seeds.push(
            krafty_server::security::credentials::parse_seed(
                "SCRAM-SHA-256=[name=alice,password=alice-secret]",
            )
            .expect("seed"),
        );
        let broker = rt.block_on(Broker::start(config)).expect("broker");
        let state = broker.state().clone();
        Fixture {
            _rt: rt,
            _dir: dir,
            _broker: broker,
            state,
        }
    })
}

const MECHANISMS: &[&str] = &["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "GSSAPI", ""];

fn header(out: &mut BytesMut, api: i16, version: i16) {
    out.put_i16(api);
    out.put_i16(version);
    out.put_i32(7);
    out.put_i16(-1); // null client id
}

fn handshake(version: i16, mechanism: &[u8]) -> Bytes {
    let mut out = BytesMut::new();
    header(&mut out, 17, version);
    out.put_i16(mechanism.len().min(i16::MAX as usize) as i16);
    out.put_slice(&mechanism[..mechanism.len().min(i16::MAX as usize)]);
    out.freeze()
}

fn authenticate(version: i16, token: &[u8]) -> Bytes {
    let mut out = BytesMut::new();
    header(&mut out, 36, version);
    out.put_i32(token.len() as i32);
    out.put_slice(token);
    out.freeze()
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let peer: SocketAddr = ([127, 0, 0, 1], 40001).into();
    let Some(listener) = f.state.listeners.first().cloned() else {
        return;
    };
    let mut conn = ConnSecurity::new(listener, peer, Principal::anonymous());
    let mut rest = data;
    while rest.len() >= 3 {
        let op = rest[0];
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]])).min(rest.len() - 3);
        let payload = &rest[3..3 + len];
        rest = &rest[3 + len..];
        let frame = match op % 4 {
            0 => {
                let version = i16::from(op >> 2 & 1);
                if op & 8 != 0 {
                    handshake(version, payload)
                } else {
                    let m = MECHANISMS[usize::from(payload.first().copied().unwrap_or(0)) % MECHANISMS.len()];
                    handshake(version, m.as_bytes())
                }
            }
            1 => authenticate(i16::from(op >> 2 & 1), payload),
            2 => Bytes::copy_from_slice(payload),
            _ => {
                let text = String::from_utf8_lossy(payload);
                let token = if op & 4 != 0 {
                    format!("\0alice\0{text}").into_bytes()
                } else {
                    format!("n,,n=alice,r={text}").into_bytes()
                };
                authenticate(1, &token)
            }
        };
        let pending = dispatch_conn(&f.state, frame, &mut conn);
        if matches!(pending, Pending::Ready(Reply::Close | Reply::FrameThenClose(_))) {
            break;
        }
    }
});
