//! Connection URLs whose embedded password is a secret.
//!
//! Invariants: a [`ConnUrl`] is a syntactically valid absolute URL (parsed by the
//! `url` crate, which also rejects ports above 65535); `Debug`, `Display` and
//! `Serialize` replace any password in it with `***`. Which schemes are allowed
//! depends on where the URL is used and is checked by validation, not here.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::secret::{REDACTED, Secret};

/// A URL such as `postgres://rowlog@127.0.0.1:5432/app`.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnUrl(url::Url);

impl ConnUrl {
    /// Parse a URL.
    pub fn parse(s: &str) -> Result<Self, url::ParseError> {
        url::Url::parse(s).map(ConnUrl)
    }

    /// The full URL, password included: for handing to a client library only.
    pub fn expose(&self) -> &url::Url {
        &self.0
    }

    /// The scheme, e.g. `postgres`.
    pub fn scheme(&self) -> &str {
        self.0.scheme()
    }

    /// The host, if any (empty hosts count as none).
    pub fn host(&self) -> Option<&str> {
        self.0.host_str().filter(|h| !h.is_empty())
    }

    /// The password embedded in the URL (percent-decoded), if any.
    pub fn password(&self) -> Option<Secret> {
        self.0.password().map(|p| {
            let decoded: Vec<u8> = percent_decode(p);
            Secret::new(String::from_utf8_lossy(&decoded).into_owned())
        })
    }

    /// The URL with its password replaced by `***`.
    pub fn redacted(&self) -> String {
        if self.0.password().is_none() {
            return self.0.to_string();
        }
        let mut u = self.0.clone();
        // Cannot fail for a URL that already has a password (it has a host).
        let _ = u.set_password(Some(REDACTED));
        u.to_string()
    }
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|c| hex(*c)),
                b.get(i + 2).and_then(|c| hex(*c)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

impl fmt::Debug for ConnUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnUrl({})", self.redacted())
    }
}

impl fmt::Display for ConnUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl Serialize for ConnUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.redacted())
    }
}

impl<'de> Deserialize<'de> for ConnUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        // The input is not echoed: it may hold a password.
        ConnUrl::parse(&s).map_err(|e| {
            crate::de::hinted(
                format!("invalid URL: {e}"),
                "write it as scheme://user@host:port/path, e.g. postgres://rowlog@127.0.0.1:5432/app",
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_redacted_everywhere() {
        let u = ConnUrl::parse("postgres://bob:p%40ss-XYZ@db:5432/app").unwrap();
        assert_eq!(u.password().unwrap().expose(), "p@ss-XYZ");
        for shown in [
            u.to_string(),
            format!("{u:?}"),
            serde_saphyr::to_string(&u).unwrap(),
        ] {
            assert!(!shown.contains("ss-XYZ"), "{shown}");
            assert!(shown.contains("bob:***@db"), "{shown}");
        }
        assert_eq!(u.host(), Some("db"));
        assert_eq!(u.scheme(), "postgres");
    }

    #[test]
    fn no_password_untouched() {
        let u = ConnUrl::parse("redis://127.0.0.1:6379/0").unwrap();
        assert_eq!(u.redacted(), "redis://127.0.0.1:6379/0");
        assert!(u.password().is_none());
    }

    #[test]
    fn bad_port_rejected() {
        assert!(ConnUrl::parse("postgres://h:70000/db").is_err());
        assert!(ConnUrl::parse("not a url").is_err());
    }
}
