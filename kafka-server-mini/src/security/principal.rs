//! The principal of a connection (`User:alice`, `User:ANONYMOUS`, or a client
//! certificate's subject as Kafka's default `ssl.principal.mapping.rules` give it:
//! `User:CN=client,O=org`, RFC 2253 order).

/// Who a connection is, as Kafka's `KafkaPrincipal` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal {
    /// The principal type (`User`).
    pub kind: String,
    /// The name.
    pub name: String,
}

impl Principal {
    /// `User:ANONYMOUS`, the principal of PLAINTEXT connections and of TLS without a client
    /// certificate.
    pub fn anonymous() -> Self {
        Self::user("ANONYMOUS")
    }

    /// `User:<name>`.
    pub fn user(name: &str) -> Self {
        Principal {
            kind: "User".into(),
            name: name.to_string(),
        }
    }
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.kind, self.name)
    }
}

/// A DER element: tag and content.
fn der(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

fn oid_name(oid: &[u8]) -> Option<&'static str> {
    // 2.5.4.x attribute types RFC 2253 names; others are written as dotted OIDs
    match oid {
        [0x55, 0x04, 0x03] => Some("CN"),
        [0x55, 0x04, 0x06] => Some("C"),
        [0x55, 0x04, 0x07] => Some("L"),
        [0x55, 0x04, 0x08] => Some("ST"),
        [0x55, 0x04, 0x09] => Some("STREET"),
        [0x55, 0x04, 0x0a] => Some("O"),
        [0x55, 0x04, 0x0b] => Some("OU"),
        _ => None,
    }
}

fn dotted(oid: &[u8]) -> String {
    let mut parts: Vec<u64> = Vec::new();
    let mut acc: u64 = 0;
    for (i, b) in oid.iter().enumerate() {
        acc = (acc << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if parts.is_empty() && i < 9 {
                let first = (acc / 40).min(2);
                parts.push(first);
                parts.push(acc - first * 40);
            } else {
                parts.push(acc);
            }
            acc = 0;
        }
    }
    parts
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

fn escape_rfc2253(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for (i, c) in v.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '));
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    if out.ends_with(' ') {
        out.pop();
        out.push_str("\\ ");
    }
    out
}

/// The subject of a DER certificate in RFC 2253 form (`CN=client,O=org`: most specific
/// RDN first, as Java's `X500Principal.getName()`); `None` when the DER is not a certificate.
pub fn certificate_subject(cert: &[u8]) -> Option<String> {
    let (0x30, cert, _) = der(cert)? else {
        return None;
    };
    let (0x30, tbs, _) = der(cert)? else {
        return None;
    };
    let mut rest = tbs;
    let (tag, _, after) = der(rest)?;
    if tag == 0xa0 {
        rest = after; // explicit version
    }
    // serial, signature algorithm, issuer, validity, subject
    for _ in 0..4 {
        let (_, _, after) = der(rest)?;
        rest = after;
    }
    let (0x30, mut subject, _) = der(rest)? else {
        return None;
    };
    let mut rdns: Vec<String> = Vec::new();
    while !subject.is_empty() {
        let (0x31, mut set, after) = der(subject)? else {
            return None;
        };
        subject = after;
        let mut atvs = Vec::new();
        while !set.is_empty() {
            let (0x30, atv, after) = der(set)? else {
                return None;
            };
            set = after;
            let (0x06, oid, value) = der(atv)? else {
                return None;
            };
            let (_, value, _) = der(value)?;
            let value = String::from_utf8_lossy(value);
            let name = oid_name(oid).map_or_else(|| dotted(oid), str::to_string);
            atvs.push(format!("{name}={}", escape_rfc2253(&value)));
        }
        rdns.push(atvs.join("+"));
    }
    rdns.reverse();
    Some(rdns.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_none() {
        assert_eq!(certificate_subject(&[]), None);
        assert_eq!(
            certificate_subject(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]),
            None
        );
        assert_eq!(certificate_subject(&[0x30, 0x02, 0x30, 0x00]), None);
        assert_eq!(escape_rfc2253("a,b"), "a\\,b");
        assert_eq!(dotted(&[0x2a, 0x86, 0x48]), "1.2.840");
    }
}
