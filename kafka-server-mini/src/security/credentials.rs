//! SCRAM credentials, stored as Kafka stores them: per user and mechanism the salt, the
//! stored key, the server key and the iteration count, never the password. Kept in
//! `scram-credentials` in the data directory, rewritten atomically (temp file + fsync +
//! rename + directory fsync) on every change.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use krafty_protocol::sasl::scram::{Mechanism, ScramCredential};

/// The iteration counts the broker accepts, as Kafka's (4096..=16384).
pub const ITERATIONS: std::ops::RangeInclusive<u32> = 4096..=16384;

use crate::error::{BrokerError, Result};

/// The file name in the data directory.
pub const FILE: &str = "scram-credentials";

/// A user to create at start (`--add-scram 'SCRAM-SHA-512=[name=alice,password=secret]'`).
#[derive(Clone, PartialEq, Eq)]
pub struct ScramSeed {
    /// The mechanism.
    pub mechanism: Mechanism,
    /// The user name.
    pub name: String,
    /// The password.
    pub password: String,
    /// The iteration count (Kafka's default 4096).
    pub iterations: u32,
}

impl std::fmt::Debug for ScramSeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramSeed")
            .field("mechanism", &self.mechanism)
            .field("name", &self.name)
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

/// Parses Kafka's `kafka-storage format --add-scram` syntax:
/// `SCRAM-SHA-256=[name=alice,password=alice-secret,iterations=8192]`.
pub fn parse_seed(text: &str) -> Result<ScramSeed> {
    let bad = |why: &str| BrokerError::Config(format!("--add-scram `{text}`: {why}"));
    let (mech, rest) = text
        .trim()
        .split_once('=')
        .ok_or_else(|| bad("expected MECHANISM=[name=...,password=...]"))?;
    let mechanism = Mechanism::from_name(mech.trim()).ok_or_else(|| bad("unknown mechanism"))?;
    let inner = rest
        .trim()
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .ok_or_else(|| bad("the attributes must be in [...]"))?;
    let (mut name, mut password, mut iterations) = (None, None, 4096u32);
    for attr in inner.split(',').filter(|a| !a.trim().is_empty()) {
        let (k, v) = attr
            .split_once('=')
            .ok_or_else(|| bad("attribute without `=`"))?;
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v);
        match k.trim() {
            "name" => name = Some(v.to_string()),
            "password" => password = Some(v.to_string()),
            "iterations" => iterations = v.parse().map_err(|_| bad("bad iterations"))?,
            other => return Err(bad(&format!("unsupported attribute `{other}`"))),
        }
    }
    if !ITERATIONS.contains(&iterations) {
        return Err(bad("iterations must be within 4096..=16384"));
    }
    match (name, password) {
        (Some(name), Some(password)) if !name.is_empty() && !password.is_empty() => Ok(ScramSeed {
            mechanism,
            name,
            password,
            iterations,
        }),
        _ => Err(bad("name and password are required")),
    }
}

/// The credential store.
#[derive(Debug)]
pub struct ScramStore {
    path: PathBuf,
    users: RwLock<BTreeMap<(String, i8), ScramCredential>>,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|p| u8::from_str_radix(p, 16).ok()))
        .collect()
}

fn parse_line(line: &str) -> Option<(String, ScramCredential)> {
    let f: Vec<&str> = line.split(' ').collect();
    let [name, mech, iterations, salt, stored, server] = f.as_slice() else {
        return None;
    };
    let name = String::from_utf8(unhex(name)?).ok()?;
    Some((
        name,
        ScramCredential {
            mechanism: Mechanism::from_name(mech)?,
            iterations: iterations.parse().ok()?,
            salt: unhex(salt)?,
            stored_key: unhex(stored)?,
            server_key: unhex(server)?,
        },
    ))
}

impl ScramStore {
    /// Opens (or starts) the store in `data_dir`; unreadable lines are an error naming the
    /// line (a corrupt credential file must not silently drop users).
    pub fn open(data_dir: &Path) -> Result<Self> {
        let path = data_dir.join(FILE);
        let mut users = BTreeMap::new();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                for (n, line) in text.lines().enumerate().skip(1) {
                    if line.trim().is_empty() {
                        continue;
                    }
                    let (name, c) = parse_line(line).ok_or_else(|| {
                        BrokerError::Corrupt(format!("{} line {}", path.display(), n + 1))
                    })?;
                    users.insert((name, c.mechanism.kafka_type()), c);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(BrokerError::io(format!("read {}", path.display()), e)),
        }
        Ok(ScramStore {
            path,
            users: RwLock::new(users),
        })
    }

    /// The credential of `name` for `mechanism`.
    pub fn get(&self, name: &str, mechanism: Mechanism) -> Option<ScramCredential> {
        self.users
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(name.to_string(), mechanism.kafka_type()))
            .cloned()
    }

    /// Every user with their mechanisms and iteration counts.
    pub fn describe(&self) -> BTreeMap<String, Vec<(Mechanism, u32)>> {
        let mut out: BTreeMap<String, Vec<(Mechanism, u32)>> = BTreeMap::new();
        for ((name, _), c) in self.users.read().unwrap_or_else(|p| p.into_inner()).iter() {
            out.entry(name.clone())
                .or_default()
                .push((c.mechanism, c.iterations));
        }
        out
    }

    /// Applies upserts and deletions, then persists; on a failed write nothing changes.
    pub fn apply(
        &self,
        upserts: Vec<(String, ScramCredential)>,
        deletions: &[(String, Mechanism)],
    ) -> Result<()> {
        let mut users = self.users.write().unwrap_or_else(|p| p.into_inner());
        let mut next = users.clone();
        for (name, c) in upserts {
            next.insert((name, c.mechanism.kafka_type()), c);
        }
        for (name, m) in deletions {
            next.remove(&(name.clone(), m.kafka_type()));
        }
        self.persist(&next)?;
        *users = next;
        Ok(())
    }

    fn persist(&self, users: &BTreeMap<(String, i8), ScramCredential>) -> Result<()> {
        let mut text = String::from("v1\n");
        for ((name, _), c) in users {
            text.push_str(&format!(
                "{} {} {} {} {} {}\n",
                hex(name.as_bytes()),
                c.mechanism.name(),
                c.iterations,
                hex(&c.salt),
                hex(&c.stored_key),
                hex(&c.server_key)
            ));
        }
        let tmp = self.path.with_extension("tmp");
        let io = |e| BrokerError::io(format!("write {}", self.path.display()), e);
        let mut f = File::create(&tmp).map_err(io)?;
        f.write_all(text.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
        std::fs::rename(&tmp, &self.path).map_err(io)?;
        if let Some(dir) = self.path.parent() {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_parse_like_kafka_storage() {
        let s = parse_seed("SCRAM-SHA-512=[name=alice,password=alice-secret]").expect("seed");
        assert_eq!((s.name.as_str(), s.iterations), ("alice", 4096));
        let s = parse_seed("SCRAM-SHA-256=[name=b,password=\"p w\",iterations=8192]").expect("q");
        assert_eq!((s.password.as_str(), s.iterations), ("p w", 8192));
        assert!(parse_seed("SCRAM-SHA-1=[name=a,password=b]").is_err());
        assert!(parse_seed("SCRAM-SHA-256=[name=a]").is_err());
        assert!(parse_seed("SCRAM-SHA-256=[name=a,password=b,iterations=100]").is_err());
    }

    #[test]
    fn store_round_trips_without_passwords() {
        let dir = tempfile::tempdir().expect("dir");
        let store = ScramStore::open(dir.path()).expect("open");
        let c = ScramCredential::new(Mechanism::Sha512, "secret", b"salt", 4096);
        store
            .apply(vec![("a b".into(), c.clone())], &[])
            .expect("apply");
        let text = std::fs::read_to_string(dir.path().join(FILE)).expect("file");
        assert!(!text.contains("secret"));
        let again = ScramStore::open(dir.path()).expect("reopen");
        assert_eq!(again.get("a b", Mechanism::Sha512), Some(c));
        again
            .apply(vec![], &[("a b".into(), Mechanism::Sha512)])
            .expect("delete");
        assert!(ScramStore::open(dir.path())
            .expect("reopen")
            .describe()
            .is_empty());
        std::fs::write(dir.path().join(FILE), "v1\nzz\n").expect("write");
        assert!(ScramStore::open(dir.path()).is_err());
    }
}
