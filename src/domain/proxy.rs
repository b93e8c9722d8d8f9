//! A session's proxy: `http://`, `https://` or `socks5://`, with an
//! optional user and password. The browser gets the server in its
//! `--proxy-server` flag (Chromium takes no credentials there); the
//! credentials are answered through the DevTools protocol. Never logged or
//! shown in full: answers carry [`Proxy::masked`].

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    pub scheme: String,
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<String>,
}

impl Proxy {
    pub fn parse(raw: &str) -> Result<Proxy, String> {
        let u = url::Url::parse(raw.trim()).map_err(|e| format!("is not a URL: {e}"))?;
        let scheme = u.scheme().to_string();
        if !matches!(scheme.as_str(), "http" | "https" | "socks5") {
            return Err("must be http://, https:// or socks5://".into());
        }
        let host = u
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("has no host")?
            .to_string();
        let port = u
            .port_or_known_default()
            .or((scheme == "socks5").then_some(1080))
            .ok_or("has no port")?;
        if u.path() != "/" && !u.path().is_empty() || u.query().is_some() {
            return Err("must be scheme://[user:password@]host:port, nothing after".into());
        }
        let decode = |s: &str| {
            percent_decode(s)
                .ok_or_else(|| "has a user or password that is not valid UTF-8".to_string())
        };
        let user = (!u.username().is_empty())
            .then(|| decode(u.username()))
            .transpose()?;
        let password = u.password().map(decode).transpose()?;
        if password.as_deref() == Some("***") {
            // What answers show in its place: a view sent back as it came.
            return Err(
                "has the masked password `***` that answers show; send the real one".into(),
            );
        }
        if scheme == "socks5" && user.is_some() {
            // Chromium cannot authenticate to a SOCKS proxy at all.
            return Err("socks5 with a user and password is not supported by Chromium; use an http:// proxy for authentication".into());
        }
        Ok(Proxy {
            scheme,
            host,
            port,
            user,
            password,
        })
    }

    /// For Chromium's `--proxy-server`: no credentials.
    pub fn server(&self) -> String {
        format!("{}://{}:{}", self.scheme, self.host, self.port)
    }

    /// As answers show it: the password replaced by `***`.
    pub fn masked(&self) -> String {
        match &self.user {
            Some(u) => format!(
                "{}://{}{}@{}:{}",
                self.scheme,
                u,
                if self.password.is_some() { ":***" } else { "" },
                self.host,
                self.port
            ),
            None => self.server(),
        }
    }

    /// The form it is stored in (with the password).
    pub fn to_url(&self) -> String {
        let enc = |s: &str| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        match (&self.user, &self.password) {
            (Some(u), Some(p)) => format!(
                "{}://{}:{}@{}:{}",
                self.scheme,
                enc(u),
                enc(p),
                self.host,
                self.port
            ),
            (Some(u), None) => format!("{}://{}@{}:{}", self.scheme, enc(u), self.host, self.port),
            _ => self.server(),
        }
    }
}

fn percent_decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// Never the password, even in a debug print.
impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_masked_password_is_not_taken_for_one() {
        let p = Proxy::parse("http://alice:s3cret@127.0.0.1:3128").unwrap();
        assert!(Proxy::parse(&p.masked()).unwrap_err().contains("masked"));
    }

    #[test]
    fn parses_masks_and_round_trips() {
        let p = Proxy::parse("http://bob:s%40cret@127.0.0.1:3128").unwrap();
        assert_eq!(p.server(), "http://127.0.0.1:3128");
        assert_eq!(p.user.as_deref(), Some("bob"));
        assert_eq!(p.password.as_deref(), Some("s@cret"));
        assert_eq!(p.masked(), "http://bob:***@127.0.0.1:3128");
        assert!(!format!("{p:?}").contains("cret"));
        assert_eq!(Proxy::parse(&p.to_url()).unwrap(), p);
        assert_eq!(
            Proxy::parse("socks5://10.0.0.1").unwrap().server(),
            "socks5://10.0.0.1:1080"
        );
        assert_eq!(Proxy::parse("https://proxy.example").unwrap().port, 443);
        for bad in [
            "ftp://x:1",
            "http://",
            "not a url",
            "http://h:1/path",
            "socks5://u:p@h:1",
        ] {
            assert!(Proxy::parse(bad).is_err(), "{bad}");
        }
    }
}
