//! The broker: shared state, startup (loading and recovering logs), background tasks and
//! clean shutdown (flush + checkpoints).
//!
//! Owns: [`Broker`], [`BrokerHandle`], [`BrokerState`] (topics, producer id allocation, the
//! group coordinator) and the topic registry. Must not: parse requests (see `handlers`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use krafty_protocol::wire::Uuid;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::config::BrokerConfig;
use crate::error::{code, BrokerError, Result};
use crate::group::coordinator::GroupCoordinator;
pub use crate::group::offsets::records::OFFSETS_TOPIC;
use crate::log::checkpoint::{self, Offsets};
use crate::log::{Log, LogConfig};
use crate::net::limits::ConnectionLimits;
use crate::net::listener::ListenerInfo;
use crate::partition::Partition;
use crate::security::credentials::ScramStore;
use crate::security::jaas;
use crate::security::sasl::SaslConfig;
use crate::topic_config::{self, TopicConfigs};
use krafty_protocol::sasl::scram::{Mechanism, ScramCredential};

/// A topic: its id and partitions.
#[derive(Debug)]
pub struct Topic {
    /// The name.
    pub name: String,
    /// The topic id (Metadata v10+, Fetch v13+).
    pub id: Uuid,
    /// The partitions, by index.
    pub partitions: Vec<Arc<Partition>>,
    /// Per-topic config overrides.
    pub configs: std::sync::Mutex<TopicConfigs>,
}

impl Topic {
    /// A copy of the topic's config overrides.
    pub fn configs(&self) -> TopicConfigs {
        self.configs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// One override parsed as an integer, read under the lock without copying the map
    /// (the produce path asks for `max.message.bytes` on every request).
    pub fn config_i64(&self, name: &str) -> Option<i64> {
        self.configs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .and_then(|v| v.trim().parse().ok())
    }

    /// One override as text, read under the lock without copying the map.
    pub fn config_str(&self, name: &str) -> Option<String> {
        self.configs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .map(|v| v.trim().to_string())
    }
}

/// State shared by every connection and background task.
#[derive(Debug)]
pub struct BrokerState {
    /// The configuration.
    pub config: BrokerConfig,
    /// The host and port advertised in Metadata and FindCoordinator.
    pub advertised: (String, i32),
    /// The cluster id.
    pub cluster_id: String,
    topics: RwLock<BTreeMap<String, Arc<Topic>>>,
    /// The memory pool for what requests decompress or convert
    /// (`request.memory.budget.bytes`).
    pub memory: Arc<crate::memory::MemoryPool>,
    /// Notified after every append (long-polling fetches wait on it).
    pub data_arrived: Notify,
    /// The group coordinator.
    pub groups: GroupCoordinator,
    /// The transaction coordinator.
    pub txns: crate::txn::TxnCoordinator,
    next_producer_id: AtomicI64,
    /// Becomes `true` when the broker shuts down.
    pub shutdown: watch::Receiver<bool>,
    /// The bound listeners, in `listeners` order.
    pub listeners: Vec<Arc<ListenerInfo>>,
    /// `max.connections` / `max.connections.per.ip`, over every listener.
    pub connection_limits: Arc<ConnectionLimits>,
    /// SCRAM credentials (`scram-credentials` in the data directory).
    pub scram: Arc<ScramStore>,
    /// The authorizer and its ACLs (`acls` in the data directory).
    pub authorizer: crate::authorizer::Authorizer,
}

/// Whether `name` is one of the broker's internal topics (`__consumer_offsets`,
/// `__transaction_state`): clients may not produce to, delete or trim them.
pub fn is_internal_topic(name: &str) -> bool {
    name == OFFSETS_TOPIC || name == crate::txn::log::TXN_TOPIC
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Whether `name` is a legal Kafka topic name.
pub fn valid_topic_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

fn partition_dir(data_dir: &Path, topic: &str, index: i32) -> PathBuf {
    data_dir.join(format!("{topic}-{index}"))
}

fn new_topic_id(name: &str) -> Uuid {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut h: u128 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ u128::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let v = (nanos ^ h.rotate_left(64)).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835);
    let mut bytes = v.to_be_bytes();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    Uuid(bytes)
}

fn uuid_hex(id: &Uuid) -> String {
    id.0.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_uuid_hex(s: &str) -> Option<Uuid> {
    let s = s.trim();
    if s.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(Uuid(out))
}

impl BrokerState {
    /// The first listener (the one `local_addr` reports).
    pub fn first_listener(&self) -> Arc<ListenerInfo> {
        match self.listeners.first() {
            Some(l) => l.clone(),
            None => Arc::new(ListenerInfo::plaintext(
                ([127, 0, 0, 1], 0).into(),
                self.advertised.clone(),
            )),
        }
    }

    /// A topic by name.
    pub fn topic(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    /// A topic by id.
    pub fn topic_by_id(&self, id: &Uuid) -> Option<Arc<Topic>> {
        self.topics
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .find(|t| t.id == *id)
            .cloned()
    }

    /// Every topic, by name.
    pub fn topics(&self) -> Vec<Arc<Topic>> {
        self.topics
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// A partition by topic name and index.
    pub fn partition(&self, topic: &str, index: i32) -> Option<Arc<Partition>> {
        let t = self.topic(topic)?;
        usize::try_from(index)
            .ok()
            .and_then(|i| t.partitions.get(i).cloned())
    }

    /// Creates a topic with `partitions` partitions; Kafka error codes for a bad name
    /// (17), a bad count (37) or an existing topic (36).
    pub fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        validate_only: bool,
    ) -> std::result::Result<Arc<Topic>, i16> {
        self.create_topic_with(name, partitions, validate_only, TopicConfigs::new())
    }

    /// [`Self::create_topic`] with config overrides (already validated).
    pub fn create_topic_with(
        &self,
        name: &str,
        partitions: i32,
        validate_only: bool,
        configs: TopicConfigs,
    ) -> std::result::Result<Arc<Topic>, i16> {
        if !valid_topic_name(name) {
            return Err(code::INVALID_TOPIC_EXCEPTION);
        }
        if !(1..=10_000).contains(&partitions) {
            return Err(code::INVALID_PARTITIONS);
        }
        let mut topics = self.topics.write().unwrap_or_else(|p| p.into_inner());
        if topics.contains_key(name) {
            return Err(code::TOPIC_ALREADY_EXISTS);
        }
        let id = new_topic_id(name);
        let mut parts = Vec::new();
        if !validate_only {
            for i in 0..partitions {
                match self.open_partition(name, i, id, None, None, &configs) {
                    Ok(p) => parts.push(Arc::new(p)),
                    Err(e) => {
                        tracing::error!(topic = name, partition = i, error = %e, "create partition failed");
                        return Err(code::UNKNOWN_SERVER_ERROR);
                    }
                }
            }
        }
        let topic = Arc::new(Topic {
            name: name.to_string(),
            id,
            partitions: parts,
            configs: std::sync::Mutex::new(configs),
        });
        if !validate_only {
            topics.insert(name.to_string(), topic.clone());
            tracing::info!(topic = name, partitions, "created topic");
        }
        Ok(topic)
    }

    /// Adds partitions to a topic up to `count`.
    pub fn create_partitions(
        &self,
        name: &str,
        count: i32,
        validate_only: bool,
    ) -> std::result::Result<(), i16> {
        let mut topics = self.topics.write().unwrap_or_else(|p| p.into_inner());
        let Some(t) = topics.get(name).cloned() else {
            return Err(code::UNKNOWN_TOPIC_OR_PARTITION);
        };
        let have = t.partitions.len() as i32;
        if count <= have || count > 10_000 {
            return Err(code::INVALID_PARTITIONS);
        }
        if validate_only {
            return Ok(());
        }
        let mut parts = t.partitions.clone();
        for i in have..count {
            let p = self.open_partition(name, i, t.id, None, None, &t.configs()).map_err(|e| {
                tracing::error!(topic = name, partition = i, error = %e, "create partition failed");
                code::UNKNOWN_SERVER_ERROR
            })?;
            parts.push(Arc::new(p));
        }
        topics.insert(
            name.to_string(),
            Arc::new(Topic {
                name: t.name.clone(),
                id: t.id,
                partitions: parts,
                configs: std::sync::Mutex::new(t.configs()),
            }),
        );
        Ok(())
    }

    /// Deletes a topic and its logs.
    pub fn delete_topic(&self, name: &str) -> std::result::Result<(), i16> {
        if is_internal_topic(name) {
            return Err(code::INVALID_TOPIC_EXCEPTION);
        }
        let removed = self
            .topics
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
        let Some(t) = removed else {
            return Err(code::UNKNOWN_TOPIC_OR_PARTITION);
        };
        for p in &t.partitions {
            let dir = p.lock().log.dir().to_path_buf();
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                tracing::warn!(dir = %dir.display(), error = %e, "could not delete partition dir");
            }
        }
        tracing::info!(topic = name, "deleted topic");
        Ok(())
    }

    fn open_partition(
        &self,
        topic: &str,
        index: i32,
        id: Uuid,
        rp: Option<i64>,
        ls: Option<i64>,
        configs: &TopicConfigs,
    ) -> Result<Partition> {
        let dir = partition_dir(&self.config.data_dir, topic, index);
        let log = Log::open_with(
            &dir,
            self.log_config(configs),
            rp,
            ls,
            self.config.disk.clone(),
        )?;
        if !configs.is_empty() {
            topic_config::write(&dir, configs)?;
        }
        let meta = dir.join("partition.metadata");
        if !meta.exists() {
            std::fs::write(&meta, format!("version: 0\ntopic_id: {}\n", uuid_hex(&id)))
                .map_err(|e| BrokerError::io("write partition.metadata", e))?;
        }
        Ok(Partition::new(topic.to_string(), index, log))
    }

    /// The log settings of a topic with `overrides`.
    pub fn log_config(&self, overrides: &TopicConfigs) -> LogConfig {
        topic_config::apply(LogConfig::from_broker(&self.config), overrides)
    }

    /// Replaces a topic's config overrides (already validated): persists them in every
    /// partition directory and applies them to the logs.
    pub fn set_topic_configs(&self, name: &str, configs: TopicConfigs) -> Result<()> {
        let Some(t) = self.topic(name) else {
            return Err(BrokerError::Corrupt(format!("no topic {name}")));
        };
        let mut current = t.configs.lock().unwrap_or_else(|p| p.into_inner());
        let log_config = self.log_config(&configs);
        for p in &t.partitions {
            let mut st = p.lock();
            topic_config::write(st.log.dir(), &configs)?;
            st.log.set_config(log_config.clone());
        }
        *current = configs;
        Ok(())
    }

    /// Allocates a new producer id.
    pub fn allocate_producer_id(&self) -> i64 {
        self.next_producer_id.fetch_add(1, Ordering::SeqCst)
    }

    /// Flushes every log and writes both checkpoint files.
    pub fn checkpoint(&self, flush: bool) -> Result<()> {
        let mut rp = Offsets::new();
        let mut ls = Offsets::new();
        for t in self.topics() {
            for p in &t.partitions {
                let mut st = p.lock();
                if flush && st.log.offline_reason().is_none() {
                    if let Err(e) = st.log.flush() {
                        tracing::error!(topic = %t.name, partition = p.index, error = %e, "flush failed; log offline");
                    }
                }
                rp.insert((t.name.clone(), p.index), st.log.recovery_point());
                ls.insert((t.name.clone(), p.index), st.log.log_start_offset());
            }
        }
        let disk = &self.config.disk;
        checkpoint::write(
            disk,
            &self.config.data_dir.join(checkpoint::RECOVERY_POINT_FILE),
            &rp,
        )?;
        checkpoint::write(
            disk,
            &self.config.data_dir.join(checkpoint::LOG_START_FILE),
            &ls,
        )
    }

    fn load(&self) -> Result<()> {
        let dir = &self.config.data_dir;
        let rp = checkpoint::read(&dir.join(checkpoint::RECOVERY_POINT_FILE))?;
        let ls = checkpoint::read(&dir.join(checkpoint::LOG_START_FILE))?;
        let mut found: BTreeMap<String, Vec<i32>> = BTreeMap::new();
        let entries = std::fs::read_dir(dir)
            .map_err(|e| BrokerError::io(format!("list {}", dir.display()), e))?;
        for entry in entries {
            let entry = entry.map_err(|e| BrokerError::io("list data dir", e))?;
            if !entry.path().is_dir() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().to_string();
            if let Some((topic, idx)) = name.rsplit_once('-') {
                if let Ok(i) = idx.parse::<i32>() {
                    if valid_topic_name(topic) && i >= 0 {
                        found.entry(topic.to_string()).or_default().push(i);
                    }
                }
            }
        }
        let mut max_pid = -1;
        let mut topics = BTreeMap::new();
        for (name, mut idxs) in found {
            idxs.sort_unstable();
            if idxs.iter().enumerate().any(|(n, i)| *i != n as i32) {
                tracing::warn!(topic = %name, "partition directories are not contiguous; skipping topic");
                continue;
            }
            let meta = partition_dir(dir, &name, 0).join("partition.metadata");
            let id = std::fs::read_to_string(&meta)
                .ok()
                .and_then(|t| {
                    t.lines()
                        .find_map(|l| l.strip_prefix("topic_id:").and_then(parse_uuid_hex))
                })
                .unwrap_or_else(|| new_topic_id(&name));
            let configs = topic_config::read(&partition_dir(dir, &name, 0));
            let mut parts = Vec::new();
            for i in idxs {
                let key = (name.clone(), i);
                let p = self.open_partition(
                    &name,
                    i,
                    id,
                    rp.get(&key).copied(),
                    ls.get(&key).copied(),
                    &configs,
                )?;
                max_pid = max_pid.max(p.lock().producers.max_producer_id());
                parts.push(Arc::new(p));
            }
            tracing::info!(topic = %name, partitions = parts.len(), "loaded topic");
            topics.insert(
                name.clone(),
                Arc::new(Topic {
                    name,
                    id,
                    partitions: parts,
                    configs: std::sync::Mutex::new(configs),
                }),
            );
        }
        *self.topics.write().unwrap_or_else(|p| p.into_inner()) = topics;
        if max_pid >= self.next_producer_id.load(Ordering::SeqCst) {
            self.next_producer_id.store(max_pid + 1, Ordering::SeqCst);
        }
        Ok(())
    }
}

/// The configs `__consumer_offsets` is created with, as Kafka does: compacted (never
/// time-retained, so committed offsets live as long as their group) with 100 MiB segments
/// (`offsets.topic.segment.bytes`).
pub fn offsets_topic_configs() -> TopicConfigs {
    let mut c = TopicConfigs::new();
    c.insert("cleanup.policy".into(), "compact".into());
    c.insert("segment.bytes".into(), "104857600".into());
    c
}

/// Starts brokers.
#[derive(Debug)]
pub struct Broker;

/// A running broker.
#[derive(Debug)]
pub struct BrokerHandle {
    local_addr: SocketAddr,
    state: Arc<BrokerState>,
    shutdown_tx: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Broker {
    /// Loads and recovers the logs in the data directory, binds the listener and starts
    /// serving.
    pub async fn start(config: BrokerConfig) -> Result<BrokerHandle> {
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| BrokerError::io(format!("create {}", config.data_dir.display()), e))?;
        let scram = Arc::new(ScramStore::open(&config.data_dir)?);
        if !config.scram_seeds.is_empty() {
            let mut upserts = Vec::new();
            for seed in &config.scram_seeds {
                let c = ScramCredential::generate(seed.mechanism, &seed.password, seed.iterations)
                    .map_err(|e| BrokerError::Config(format!("--add-scram: {e}")))?;
                upserts.push((seed.name.clone(), c));
            }
            scram.apply(upserts, &[])?;
        }
        let authorizer = crate::authorizer::Authorizer::open(&config.authorizer, &config.data_dir)?;
        let (listeners, bound) = bind_listeners(&config, &scram).await?;
        let local_addr = listeners
            .first()
            .map(|l| l.local_addr)
            .ok_or_else(|| BrokerError::Config("no listener".into()))?;
        let advertised = listeners
            .first()
            .map(|l| l.advertised.clone())
            .ok_or_else(|| BrokerError::Config("no listener".into()))?;
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let state = Arc::new(BrokerState {
            groups: GroupCoordinator::new(&config),
            txns: crate::txn::TxnCoordinator::default(),
            memory: crate::memory::MemoryPool::new(config.request_memory_budget_bytes),
            connection_limits: ConnectionLimits::new(
                config.max_connections,
                config.max_connections_per_ip,
            ),
            config,
            advertised,
            cluster_id: "kafka-server-mini-cluster".to_string(),
            topics: RwLock::new(BTreeMap::new()),
            data_arrived: Notify::new(),
            next_producer_id: AtomicI64::new(now_ms().max(1) * 1000),
            shutdown: shutdown_rx,
            listeners: listeners.clone(),
            scram,
            authorizer,
        });
        state.load()?;
        let offsets_topic = match state.topic(OFFSETS_TOPIC) {
            Some(t) => {
                let mut configs = t.configs();
                if configs.get("cleanup.policy").map(String::as_str) != Some("compact") {
                    // logs written before compaction existed: compact from now on
                    configs.insert("cleanup.policy".into(), "compact".into());
                    state.set_topic_configs(OFFSETS_TOPIC, configs)?;
                }
                t
            }
            None => state
                .create_topic_with(OFFSETS_TOPIC, 1, false, offsets_topic_configs())
                .map_err(|code| {
                    BrokerError::Corrupt(format!("cannot create {OFFSETS_TOPIC}: error {code}"))
                })?,
        };
        if let Some(p) = offsets_topic.partitions.first() {
            state.groups.attach_store(p.clone());
        }
        if let Some(p) = state
            .topic(crate::txn::log::TXN_TOPIC)
            .and_then(|t| t.partitions.first().cloned())
        {
            state.txns.attach_store(p);
            state.txns.complete_pending(&state);
        }
        crate::txn::coordinator::abort_orphans(&state);
        state.checkpoint(false)?;
        let mut tasks = Vec::new();
        for (socket, info) in bound.into_iter().zip(listeners) {
            tracing::info!(listener = %info.name, protocol = info.protocol.name(), addr = %info.local_addr, "listening");
            tasks.push(tokio::spawn(crate::net::listener::accept_loop(
                socket,
                info,
                state.clone(),
            )));
        }
        tasks.extend([
            tokio::spawn(background(state.clone())),
            tokio::spawn(crate::group::coordinator::sweeper(state.clone())),
            tokio::spawn(crate::log::cleaner::scheduler::run(state.clone())),
            tokio::spawn(crate::txn::coordinator::expirer(state.clone())),
        ]);
        tracing::info!(%local_addr, data_dir = %state.config.data_dir.display(), "broker started");
        Ok(BrokerHandle {
            local_addr,
            state,
            shutdown_tx,
            tasks,
        })
    }
}

/// Binds every listener and builds its TLS and SASL settings (typed config errors).
async fn bind_listeners(
    config: &BrokerConfig,
    scram: &Arc<ScramStore>,
) -> Result<(Vec<Arc<ListenerInfo>>, Vec<TcpListener>)> {
    let decoy_key = ScramCredential::generate(Mechanism::Sha256, "decoy", 4096)
        .map_err(|e| BrokerError::Config(format!("random source: {e}")))?
        .salt;
    let mut infos = Vec::new();
    let mut sockets = Vec::new();
    for spec in config.effective_listeners() {
        let protocol = config.protocol_of(&spec.name)?;
        let tls = if protocol.tls() {
            Some(crate::net::tls::acceptor(&config.security, &spec.name)?)
        } else {
            None
        };
        let sasl = if protocol.sasl() {
            Some(Arc::new(sasl_config(
                config, &spec.name, scram, &decoy_key,
            )?))
        } else {
            None
        };
        let host = if spec.host.is_empty() {
            "0.0.0.0"
        } else {
            spec.host.as_str()
        };
        let socket = TcpListener::bind((host, spec.port)).await.map_err(|e| {
            BrokerError::io(format!("bind {}://{host}:{}", spec.name, spec.port), e)
        })?;
        let local_addr = socket
            .local_addr()
            .map_err(|e| BrokerError::io("local address", e))?;
        let advertised = match config
            .advertised_listeners
            .iter()
            .find(|a| a.name == spec.name)
        {
            Some(a) => (a.host.clone(), i32::from(a.port)),
            None => match (
                &config.advertised_listener,
                infos.is_empty() && config.advertised_listeners.is_empty(),
            ) {
                (Some((h, p)), true) => (h.clone(), i32::from(*p)),
                _ => {
                    let host = if local_addr.ip().is_unspecified() {
                        "localhost".to_string()
                    } else {
                        local_addr.ip().to_string()
                    };
                    (host, i32::from(local_addr.port()))
                }
            },
        };
        infos.push(Arc::new(ListenerInfo {
            name: spec.name.clone(),
            protocol,
            local_addr,
            advertised,
            tls,
            sasl,
        }));
        sockets.push(socket);
    }
    Ok((infos, sockets))
}

/// The SASL settings of `listener`: enabled mechanisms, PLAIN users and OAUTHBEARER
/// validator options from the JAAS configs, `connections.max.reauth.ms`.
fn sasl_config(
    config: &BrokerConfig,
    listener: &str,
    scram: &Arc<ScramStore>,
    decoy_key: &[u8],
) -> Result<SaslConfig> {
    let s = &config.security;
    let mechanisms = s.enabled_mechanisms(listener)?;
    let mut plain_users = BTreeMap::new();
    let mut oauth_required_scope = Vec::new();
    let mut oauth_clock_skew_ms = 0;
    if mechanisms.iter().any(|m| m == "PLAIN") {
        let text = s.jaas(listener, "PLAIN").ok_or_else(|| {
            BrokerError::Config(format!(
                "listener {listener}: PLAIN needs listener.name.{}.plain.sasl.jaas.config (or sasl.jaas.config) with user_<name>=\"<password>\"",
                listener.to_ascii_lowercase()
            ))
        })?;
        plain_users = jaas::parse(text)?.plain_users();
    }
    if mechanisms.iter().any(|m| m == "OAUTHBEARER") {
        if let Some(text) = s.jaas(listener, "OAUTHBEARER") {
            let j = jaas::parse(text)?;
            if let Some(v) = j.options.get("unsecuredValidatorRequiredScope") {
                oauth_required_scope = v.split_whitespace().map(str::to_string).collect();
            }
            if let Some(v) = j.options.get("unsecuredValidatorAllowableClockSkewMs") {
                oauth_clock_skew_ms = v.parse().map_err(|_| {
                    BrokerError::Config(format!(
                        "unsecuredValidatorAllowableClockSkewMs `{v}` is not a number"
                    ))
                })?;
            }
        }
    }
    let reauth_ms = match s.get(listener, "connections.max.reauth.ms") {
        Some(v) => v
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|ms| *ms >= 0)
            .ok_or_else(|| {
                BrokerError::Config(format!(
                    "listener.name.{}.connections.max.reauth.ms `{v}` is not a non-negative number",
                    listener.to_ascii_lowercase()
                ))
            })?,
        None => config.connections_max_reauth_ms,
    };
    Ok(SaslConfig {
        mechanisms,
        plain_users,
        oauth_required_scope,
        oauth_clock_skew_ms,
        reauth_ms,
        scram: scram.clone(),
        decoy_key: decoy_key.to_vec(),
    })
}

async fn background(state: Arc<BrokerState>) {
    let mut shutdown = state.shutdown.clone();
    let retention_every = Duration::from_millis(state.config.log_retention_check_interval_ms);
    let mut retention = tokio::time::interval(retention_every);
    let mut checkpoint = tokio::time::interval(Duration::from_secs(60));
    let mut flusher = tokio::time::interval(Duration::from_secs(1));
    retention.tick().await;
    checkpoint.tick().await;
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = retention.tick() => {
                let now = now_ms();
                for t in state.topics() {
                    for p in &t.partitions {
                        let mut st = p.lock();
                        if let Err(e) = st.log.enforce_retention(now) {
                            tracing::warn!(topic = %t.name, partition = p.index, error = %e, "retention failed");
                        }
                        let start = st.log.log_start_offset();
                        st.txns.prune_below(start);
                    }
                }
            }
            _ = flusher.tick(), if state.config.log_flush_interval_ms >= 0 => {
                for t in state.topics() {
                    for p in &t.partitions {
                        if let Err(e) = p.lock().log.flush_if_due() {
                            tracing::warn!(topic = %t.name, partition = p.index, error = %e, "flush failed");
                        }
                    }
                }
            }
            _ = checkpoint.tick() => {
                if let Err(e) = state.checkpoint(false) {
                    tracing::warn!(error = %e, "checkpoint failed");
                }
            }
        }
    }
}

impl BrokerHandle {
    /// The address the broker listens on (its first listener).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The bound address of listener `name` (`SASL_SSL`, `CLIENT`).
    pub fn listener_addr(&self, name: &str) -> Option<SocketAddr> {
        self.state
            .listeners
            .iter()
            .find(|l| l.name.eq_ignore_ascii_case(name))
            .map(|l| l.local_addr)
    }

    /// Every listener's name and bound address, in `listeners` order.
    pub fn listener_addrs(&self) -> Vec<(String, SocketAddr)> {
        self.state
            .listeners
            .iter()
            .map(|l| (l.name.clone(), l.local_addr))
            .collect()
    }

    /// The shared state (for tests and embedding).
    pub fn state(&self) -> &Arc<BrokerState> {
        &self.state
    }

    /// Stops accepting, closes connections, flushes every log and writes the checkpoints.
    pub async fn shutdown(self) -> Result<()> {
        let _ = self.shutdown_tx.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        let state = self.state.clone();
        tokio::task::spawn_blocking(move || state.checkpoint(true))
            .await
            .map_err(|e| BrokerError::Corrupt(format!("shutdown task failed: {e}")))??;
        tracing::info!("broker stopped cleanly");
        Ok(())
    }
}
