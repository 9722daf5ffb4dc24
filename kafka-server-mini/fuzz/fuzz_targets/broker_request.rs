//! Request frames (without the size prefix) through the broker's whole request path: the
//! frame goes to `net::dispatch::dispatch` of one in-process broker (started once, on a
//! temporary data directory), which decodes it, dispatches it and runs the handler against
//! the broker's real state (topics, logs, groups); a response that waits (long-poll fetch,
//! join) is awaited for at most 20 ms. `scripts/fuzz.sh` seeds the corpus with the golden
//! request frames, so mutations reach the handlers, not only the codec. Any answer is fine;
//! a panic, a hang or an unbounded allocation is a finding.

#![no_main]

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use krafty_server::broker::BrokerState;
use krafty_server::net::{dispatch::dispatch, Pending};
use krafty_server::{Broker, BrokerConfig, BrokerHandle};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    rt: tokio::runtime::Runtime,
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
            ("group.initial.rebalance.delay.ms", "0"),
            ("request.memory.budget.bytes", "33554432"),
            ("log.segment.bytes", "1048576"),
        ] {
            config.set(k, v).expect("config");
        }
        let broker = rt.block_on(Broker::start(config)).expect("broker");
        let state = broker.state().clone();
        Fixture {
            rt,
            _dir: dir,
            _broker: broker,
            state,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let peer: SocketAddr = ([127, 0, 0, 1], 40000).into();
    let pending = dispatch(&f.state, Bytes::copy_from_slice(data), peer);
    if let Pending::Later(fut) = pending {
        f.rt.block_on(async {
            let _ = tokio::time::timeout(Duration::from_millis(20), fut).await;
        });
    }
});
