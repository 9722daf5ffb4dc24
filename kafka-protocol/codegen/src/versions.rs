//! Version ranges of the spec format: `"0+"`, `"3-7"`, `"5"`, `"none"`.

/// An inclusive version range; `min > max` is the empty range (`"none"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Versions {
    /// Lowest version, inclusive.
    pub min: i16,
    /// Highest version, inclusive.
    pub max: i16,
}

impl Versions {
    /// The empty range.
    pub const NONE: Versions = Versions { min: 1, max: 0 };

    /// Parses a spec version string.
    pub fn parse(s: &str) -> Result<Versions, String> {
        let s = s.trim();
        if s == "none" {
            return Ok(Versions::NONE);
        }
        let num = |t: &str| {
            t.trim()
                .parse::<i16>()
                .map_err(|e| format!("bad version {s:?}: {e}"))
        };
        if let Some(lo) = s.strip_suffix('+') {
            return Ok(Versions {
                min: num(lo)?,
                max: i16::MAX,
            });
        }
        if let Some((lo, hi)) = s.split_once('-') {
            return Ok(Versions {
                min: num(lo)?,
                max: num(hi)?,
            });
        }
        let v = num(s)?;
        Ok(Versions { min: v, max: v })
    }

    /// Whether the range holds no version.
    pub fn is_empty(&self) -> bool {
        self.min > self.max
    }

    /// Whether `v` is in the range.
    pub fn contains(&self, v: i16) -> bool {
        self.min <= v && v <= self.max
    }

    /// The intersection of two ranges.
    pub fn intersect(&self, other: &Versions) -> Versions {
        Versions {
            min: self.min.max(other.min),
            max: self.max.min(other.max),
        }
    }

    /// Whether every version of `within` is in this range.
    pub fn covers(&self, within: &Versions) -> bool {
        within.is_empty() || (self.min <= within.min && self.max >= within.max)
    }

    /// A Rust condition on `version` that is true exactly for the versions of this range
    /// that fall inside `within` (the message's valid versions).
    pub fn condition(&self, within: &Versions) -> String {
        let r = self.intersect(within);
        if r.is_empty() {
            return "false".into();
        }
        let lo = r.min > within.min;
        let hi = r.max < within.max;
        match (lo, hi) {
            (false, false) => "true".into(),
            (true, false) => format!("version >= {}", r.min),
            (false, true) => format!("version <= {}", r.max),
            (true, true) if r.min == r.max => format!("version == {}", r.min),
            (true, true) => format!("({} ..= {}).contains(&version)", r.min, r.max),
        }
    }

    /// Human form for docs: `0+`, `3-7`, `5`, `none`.
    pub fn display(&self) -> String {
        if self.is_empty() {
            "none".into()
        } else if self.max == i16::MAX {
            format!("{}+", self.min)
        } else if self.min == self.max {
            format!("{}", self.min)
        } else {
            format!("{}-{}", self.min, self.max)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_conditions() {
        let valid = Versions::parse("0-11").unwrap();
        assert_eq!(
            Versions::parse("3+").unwrap().condition(&valid),
            "version >= 3"
        );
        assert_eq!(Versions::parse("0+").unwrap().condition(&valid), "true");
        assert_eq!(
            Versions::parse("0-2").unwrap().condition(&valid),
            "version <= 2"
        );
        assert_eq!(Versions::parse("none").unwrap().condition(&valid), "false");
        assert_eq!(
            Versions::parse("4").unwrap().condition(&valid),
            "version == 4"
        );
        assert!(Versions::parse("x+").is_err());
    }
}
