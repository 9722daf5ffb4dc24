//! The connection layer against scripted (mis)behaving brokers: version negotiation
//! fallback, pipelining with out-of-order responses, request timeouts, oversized frames and
//! disconnects must give errors, never panics or hangs.

use std::time::Duration;

use bytes::BytesMut;
use krafty_client::net::{Connection, ConnectionConfig};
use krafty_client::Error;
use krafty_protocol::frame::{decode_request, split_frame, write_typed_response};
use krafty_protocol::generated::api_versions_response::ApiVersion;
use krafty_protocol::generated::{
    ApiKey, ApiVersionsResponse, MetadataRequest, MetadataResponse, RequestBody,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn cfg(timeout_ms: u64) -> ConnectionConfig {
    ConnectionConfig {
        client_id: "test".into(),
        request_timeout: Duration::from_millis(timeout_ms),
        setup_timeout: Duration::from_secs(5),
        tls: None,
        sasl: None,
    }
}

fn versions() -> ApiVersionsResponse {
    ApiVersionsResponse {
        api_keys: [(ApiKey::ApiVersions, 0, 3), (ApiKey::Metadata, 0, 9)]
            .iter()
            .map(|(k, min, max)| ApiVersion {
                api_key: k.key(),
                min_version: *min,
                max_version: *max,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// Reads one request: (correlation id, api version, body).
async fn read_request(s: &mut TcpStream, buf: &mut BytesMut) -> Option<(i32, i16, RequestBody)> {
    loop {
        if let Ok(Some(frame)) = split_frame(buf, 1 << 20) {
            let req = decode_request(frame.freeze()).ok()?;
            return Some((
                req.header.correlation_id,
                req.header.request_api_version,
                req.body,
            ));
        }
        if s.read_buf(buf).await.ok()? == 0 {
            return None;
        }
    }
}

/// A server that handles ApiVersions itself and passes every other request to `script`.
async fn serve<F, Fut>(script: F) -> u16
where
    F: FnOnce(TcpStream, BytesMut, Vec<(i32, i16, RequestBody)>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let Ok((mut s, _)) = listener.accept().await else {
            return;
        };
        let mut buf = BytesMut::new();
        let Some((id, v, RequestBody::ApiVersions(_))) = read_request(&mut s, &mut buf).await
        else {
            return;
        };
        let mut out = BytesMut::new();
        write_typed_response(&mut out, id, v, &versions()).expect("encode");
        s.write_all(&out).await.expect("write");
        script(s, buf, Vec::new()).await;
    });
    port
}

fn metadata_response(controller: i32) -> MetadataResponse {
    MetadataResponse {
        controller_id: controller,
        ..Default::default()
    }
}

#[tokio::test]
async fn unsupported_apiversions_falls_back_to_v0() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let Ok((mut s, _)) = listener.accept().await else {
            return;
        };
        let mut buf = BytesMut::new();
        // First try: answer UNSUPPORTED_VERSION in the v0 layout, as Apache Kafka does.
        let Some((id, v, _)) = read_request(&mut s, &mut buf).await else {
            return;
        };
        assert_eq!(v, 3);
        let mut out = BytesMut::new();
        let mut err = versions();
        err.error_code = 35;
        err.api_keys
            .retain(|k| k.api_key == ApiKey::ApiVersions.key());
        err.api_keys[0].max_version = 0;
        write_typed_response(&mut out, id, 0, &err).expect("encode");
        s.write_all(&out).await.expect("write");
        let Some((id, v, _)) = read_request(&mut s, &mut buf).await else {
            return;
        };
        assert_eq!(v, 0);
        out.clear();
        write_typed_response(&mut out, id, 0, &versions()).expect("encode");
        s.write_all(&out).await.expect("write");
        let Some((id, v, RequestBody::Metadata(_))) = read_request(&mut s, &mut buf).await else {
            return;
        };
        assert_eq!(v, 9, "highest common Metadata version");
        out.clear();
        write_typed_response(&mut out, id, v, &metadata_response(7)).expect("encode");
        s.write_all(&out).await.expect("write");
        let _ = read_request(&mut s, &mut buf).await;
    });
    let conn = Connection::connect("127.0.0.1", port, &cfg(2000))
        .await
        .expect("connect");
    assert_eq!(conn.version(ApiKey::Metadata).ok(), Some(9));
    assert!(matches!(
        conn.version(ApiKey::Produce),
        Err(Error::UnsupportedApi(_))
    ));
    let resp = conn
        .send(&MetadataRequest::default())
        .await
        .expect("metadata");
    assert_eq!(resp.controller_id, 7);
}

#[tokio::test]
async fn pipelined_responses_matched_by_correlation_id() {
    let port = serve(|mut s, mut buf, _| async move {
        let mut reqs = Vec::new();
        for _ in 0..3 {
            let Some(r) = read_request(&mut s, &mut buf).await else {
                return;
            };
            reqs.push(r);
        }
        // Answer in reverse order, tagging each with its correlation id.
        for (id, v, _) in reqs.into_iter().rev() {
            let mut out = BytesMut::new();
            write_typed_response(&mut out, id, v, &metadata_response(id)).expect("encode");
            s.write_all(&out).await.expect("write");
        }
        let _ = read_request(&mut s, &mut buf).await;
    })
    .await;
    let conn = Connection::connect("127.0.0.1", port, &cfg(2000))
        .await
        .expect("connect");
    let a = conn.enqueue(&MetadataRequest::default()).expect("a");
    let b = conn.enqueue(&MetadataRequest::default()).expect("b");
    let c = conn.enqueue(&MetadataRequest::default()).expect("c");
    let (a, b, c) = tokio::join!(a.wait(), b.wait(), c.wait());
    let ids = [a, b, c].map(|r| r.expect("response").controller_id);
    assert!(ids[0] < ids[1] && ids[1] < ids[2], "{ids:?}");
}

#[tokio::test]
async fn silent_broker_times_out_and_closes() {
    let port = serve(|mut s, mut buf, _| async move {
        while read_request(&mut s, &mut buf).await.is_some() {}
    })
    .await;
    let conn = Connection::connect("127.0.0.1", port, &cfg(300))
        .await
        .expect("connect");
    let started = std::time::Instant::now();
    let r = conn.send(&MetadataRequest::default()).await;
    assert!(matches!(r, Err(Error::Timeout(_))), "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(conn.is_closed());
    assert!(matches!(
        conn.send(&MetadataRequest::default()).await,
        Err(Error::Disconnected(_))
    ));
}

#[tokio::test]
async fn oversized_or_garbage_frames_are_errors() {
    let port = serve(|mut s, mut buf, _| async move {
        let _ = read_request(&mut s, &mut buf).await;
        s.write_all(&[0x7f, 0xff, 0xff, 0xff, 1, 2, 3])
            .await
            .expect("write");
        let _ = read_request(&mut s, &mut buf).await;
    })
    .await;
    let conn = Connection::connect("127.0.0.1", port, &cfg(5000))
        .await
        .expect("connect");
    let r = conn.send(&MetadataRequest::default()).await;
    assert!(matches!(r, Err(Error::Disconnected(_))), "{r:?}");

    let port = serve(|mut s, mut buf, _| async move {
        let Some((id, _, _)) = read_request(&mut s, &mut buf).await else {
            return;
        };
        // A frame with the right correlation id and a truncated body.
        let mut frame = vec![0, 0, 0, 6];
        frame.extend_from_slice(&id.to_be_bytes());
        frame.extend_from_slice(&[0, 0]);
        s.write_all(&frame).await.expect("write");
        let _ = read_request(&mut s, &mut buf).await;
    })
    .await;
    let conn = Connection::connect("127.0.0.1", port, &cfg(5000))
        .await
        .expect("connect");
    let r = conn.send(&MetadataRequest::default()).await;
    assert!(matches!(r, Err(Error::Codec(_))), "{r:?}");
}

#[tokio::test]
async fn disconnect_mid_request_fails_in_flight() {
    let port = serve(|mut s, mut buf, _| async move {
        let _ = read_request(&mut s, &mut buf).await;
        drop(s);
    })
    .await;
    let conn = Connection::connect("127.0.0.1", port, &cfg(5000))
        .await
        .expect("connect");
    let r = conn.send(&MetadataRequest::default()).await;
    assert!(matches!(r, Err(Error::Disconnected(_))), "{r:?}");
    assert!(r.as_ref().is_err_and(Error::is_retriable));
}

#[tokio::test]
async fn refused_connection_is_an_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let r = Connection::connect("127.0.0.1", port, &cfg(1000)).await;
    assert!(matches!(r, Err(Error::Io(_))), "{r:?}");
}

#[tokio::test]
async fn pool_backs_off_exponentially_between_reconnects() {
    use krafty_client::config::CommonConfig;
    use krafty_client::net::Pool;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let cfg = CommonConfig {
        reconnect_backoff: Duration::from_millis(100),
        reconnect_backoff_max: Duration::from_millis(250),
        ..Default::default()
    };
    let pool = Pool::new(&cfg);
    let addr = ("127.0.0.1".to_string(), port);
    let started = std::time::Instant::now();
    assert!(pool.get_addr(&addr).await.is_err(), "first attempt at once");
    assert!(started.elapsed() < Duration::from_millis(90));
    assert!(pool.get_addr(&addr).await.is_err());
    let second = started.elapsed();
    assert!(
        second >= Duration::from_millis(100),
        "waited reconnect.backoff.ms: {second:?}"
    );
    assert!(pool.get_addr(&addr).await.is_err());
    let third = started.elapsed() - second;
    assert!(
        third >= Duration::from_millis(200),
        "backoff doubled: {third:?}"
    );
    assert!(pool.get_addr(&addr).await.is_err());
    let fourth = started.elapsed() - second - third;
    assert!(
        fourth >= Duration::from_millis(250) && fourth < Duration::from_millis(400),
        "capped at reconnect.backoff.max.ms: {fourth:?}"
    );
}
