//! The durable ACL set: `acls` in the data directory, one binding per line as
//! `RESOURCE_TYPE<TAB>PATTERN_TYPE<TAB>name<TAB>principal<TAB>host<TAB>OPERATION<TAB>PERMISSION`
//! (names percent-escape tab, newline and `%`), rewritten atomically (temp file + fsync +
//! rename + directory fsync) on every change and read back at start. A line that does not
//! parse is a typed error naming the line, never a panic.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use super::types::{AclBinding, AclFilter, AclOperation, PatternType, Permission, ResourceType};
use crate::error::{BrokerError, Result};

/// The file name in the data directory.
pub const FILE: &str = "acls";

fn escape(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\t', "%09")
        .replace('\n', "%0A")
        .replace('\r', "%0D")
}

fn unescape(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// One stored line.
pub fn format_line(b: &AclBinding) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}\t{}",
        b.resource_type,
        b.pattern_type,
        escape(&b.resource_name),
        escape(&b.principal),
        escape(&b.host),
        b.operation,
        b.permission
    )
}

/// Parses one stored line (and validates it as a new binding would be).
pub fn parse_line(line: &str) -> Option<AclBinding> {
    let f: Vec<&str> = line.split('\t').collect();
    let [rt, pt, name, who, host, op, perm] = f.as_slice() else {
        return None;
    };
    let b = AclBinding {
        resource_type: ResourceType::parse(rt).filter(|t| *t != ResourceType::Any)?,
        pattern_type: PatternType::parse(pt)
            .filter(|p| matches!(p, PatternType::Literal | PatternType::Prefixed))?,
        resource_name: unescape(name)?,
        principal: unescape(who)?,
        host: unescape(host)?,
        operation: AclOperation::parse(op).filter(|o| *o != AclOperation::Any)?,
        permission: Permission::parse(perm).filter(|p| *p != Permission::Any)?,
    };
    b.validate().ok()?;
    Some(b)
}

/// The ACLs, in memory and in their file.
#[derive(Debug)]
pub struct AclStore {
    path: PathBuf,
    acls: RwLock<BTreeSet<AclBinding>>,
}

impl AclStore {
    /// Opens (or starts empty) the store in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self> {
        let path = data_dir.join(FILE);
        let mut acls = BTreeSet::new();
        match std::fs::read(&path) {
            Ok(bytes) => {
                let text = String::from_utf8(bytes).map_err(|_| {
                    BrokerError::Corrupt(format!("{} is not UTF-8", path.display()))
                })?;
                for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.is_empty()) {
                    let b = parse_line(line).ok_or_else(|| {
                        BrokerError::Corrupt(format!(
                            "{} line {}: not an ACL binding",
                            path.display(),
                            n + 1
                        ))
                    })?;
                    acls.insert(b);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(BrokerError::io(format!("read {}", path.display()), e)),
        }
        Ok(AclStore {
            path,
            acls: RwLock::new(acls),
        })
    }

    /// Every binding.
    pub fn all(&self) -> Vec<AclBinding> {
        self.read().iter().cloned().collect()
    }

    /// The bindings `filter` matches.
    pub fn matching(&self, filter: &AclFilter) -> Vec<AclBinding> {
        self.read()
            .iter()
            .filter(|b| filter.matches(b))
            .cloned()
            .collect()
    }

    /// Runs `f` over the bindings without copying them (the authorizer's hot path).
    pub fn with<R>(&self, f: impl FnOnce(&BTreeSet<AclBinding>) -> R) -> R {
        f(&self.read())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeSet<AclBinding>> {
        self.acls.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds `bindings` (already present ones are kept once) and persists; nothing changes
    /// in memory when the file cannot be written.
    pub fn add(&self, bindings: &[AclBinding]) -> Result<()> {
        let mut guard = self.acls.write().unwrap_or_else(|p| p.into_inner());
        let mut next = guard.clone();
        next.extend(bindings.iter().cloned());
        self.persist(&next)?;
        *guard = next;
        Ok(())
    }

    /// Removes every binding one of `filters` matches and persists; returns, per filter,
    /// the removed bindings.
    pub fn remove(&self, filters: &[AclFilter]) -> Result<Vec<Vec<AclBinding>>> {
        let mut guard = self.acls.write().unwrap_or_else(|p| p.into_inner());
        let per_filter: Vec<Vec<AclBinding>> = filters
            .iter()
            .map(|f| guard.iter().filter(|b| f.matches(b)).cloned().collect())
            .collect();
        let mut next = guard.clone();
        for b in per_filter.iter().flatten() {
            next.remove(b);
        }
        if next.len() != guard.len() {
            self.persist(&next)?;
            *guard = next;
        }
        Ok(per_filter)
    }

    fn persist(&self, acls: &BTreeSet<AclBinding>) -> Result<()> {
        let io = |e| BrokerError::io(format!("write {}", self.path.display()), e);
        let tmp = self.path.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        for b in acls {
            writeln!(f, "{}", format_line(b)).map_err(io)?;
        }
        f.sync_all().map_err(io)?;
        std::fs::rename(&tmp, &self.path).map_err(io)?;
        if let Some(dir) = self.path.parent() {
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn binding(name: &str) -> AclBinding {
        AclBinding {
            resource_type: ResourceType::Topic,
            resource_name: name.into(),
            pattern_type: PatternType::Prefixed,
            principal: "User:alice".into(),
            host: "*".into(),
            operation: AclOperation::Read,
            permission: Permission::Allow,
        }
    }

    #[test]
    fn survives_a_restart_and_rejects_garbage() {
        let dir = std::env::temp_dir().join(format!("acl-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let s = AclStore::open(&dir).unwrap();
        s.add(&[binding("a\tb%"), binding("c")]).unwrap();
        let removed = s
            .remove(&[AclFilter {
                resource_name: Some("c".into()),
                ..AclFilter::any()
            }])
            .unwrap();
        assert_eq!(removed, vec![vec![binding("c")]]);
        drop(s);
        let again = AclStore::open(&dir).unwrap();
        assert_eq!(again.all(), vec![binding("a\tb%")]);
        for bad in [
            "TOPIC\tLITERAL\tt\tUser:a\t*\tREAD",
            "TOPIC\tANY\tt\tUser:a\t*\tREAD\tALLOW",
            "CLUSTER\tLITERAL\tx\tUser:a\t*\tALTER\tALLOW",
            "TOPIC\tLITERAL\t%zz\tUser:a\t*\tREAD\tALLOW",
        ] {
            std::fs::write(dir.join(FILE), format!("{bad}\n")).unwrap();
            assert!(
                matches!(AclStore::open(&dir), Err(BrokerError::Corrupt(_))),
                "{bad}"
            );
        }
        std::fs::write(dir.join(FILE), [0xff, 0xfe]).unwrap();
        assert!(AclStore::open(&dir).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
