//! Where URLs that callers give may lead: media to fetch, webhooks and
//! status callbacks to post to. Never to a link-local, unspecified,
//! multicast or reserved address (a cloud's metadata service serves no
//! media and takes no webhook). The daemon's host and its networks
//! (loopback, private and shared ranges) are the operator's: the admin
//! key's, and every key's with `--private-networks-for-keys`. A scoped key
//! is a tenant, who must not reach through the daemon what only the
//! daemon's host can (the browsers' DevTools ports, the sandbox, other
//! services), nor learn what answers there.

/// What a caller's URLs may reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Public addresses, the host's and private networks.
    Private,
    /// Public addresses only.
    Public,
}

impl Reach {
    pub fn allows(self, ip: std::net::IpAddr) -> bool {
        use std::net::{IpAddr, Ipv4Addr};
        // An IPv4 address written as IPv6 (mapped, compatible, or NAT64's
        // 64:ff9b::/96) is that IPv4 address.
        let ip = match ip {
            IpAddr::V6(v6) => {
                let s = v6.segments();
                let low =
                    Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
                match v6.to_ipv4_mapped() {
                    Some(v4) => IpAddr::V4(v4),
                    None if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] => IpAddr::V4(low),
                    None if s[..6] == [0; 6] && s[6] != 0 => IpAddr::V4(low),
                    None => ip,
                }
            }
            v4 => v4,
        };
        // Metadata services at addresses of the ranges allowed below
        // (Alibaba Cloud's, AWS's over IPv6).
        const METADATA: [&str; 2] = ["100.100.100.200", "fd00:ec2::254"];
        if METADATA
            .iter()
            .any(|m| m.parse::<IpAddr>().is_ok_and(|m| m == ip))
        {
            return false;
        }
        let (never, private) = match ip {
            IpAddr::V4(a) => {
                let [x, y, ..] = a.octets();
                (
                    a.is_unspecified()
                        || x == 0
                        || a.is_link_local()
                        || a.is_multicast()
                        || a.is_broadcast()
                        || x >= 240,
                    a.is_loopback() || a.is_private() || (x == 100 && (64..128).contains(&y)),
                )
            }
            IpAddr::V6(a) => {
                let first = a.segments()[0];
                (
                    a.is_unspecified() || a.is_multicast() || (first & 0xffc0) == 0xfe80,
                    a.is_loopback() || (first & 0xfe00) == 0xfc00,
                )
            }
        };
        !never && (!private || self == Reach::Private)
    }
}

/// `builder` kept to what `reach` allows: names resolve only to allowed
/// addresses, at each connection. For `Public`, no `HTTP(S)_PROXY`: the
/// proxy would resolve the names itself. An address in the URL itself is
/// the caller's to check (`refused`), and so are redirects (`redirects`).
pub fn guarded(builder: reqwest::ClientBuilder, reach: Reach) -> reqwest::ClientBuilder {
    let builder = match reach {
        Reach::Public => builder.no_proxy(),
        Reach::Private => builder,
    };
    builder.dns_resolver(std::sync::Arc::new(Guarded(reach)))
}

/// Up to 10 redirects, none to an address `reach` does not allow.
pub fn redirects(reach: Reach) -> reqwest::redirect::Policy {
    redirects_within(reach, false)
}

/// As `redirects`, and with `same_origin` only to the first URL's scheme,
/// host and port: a request carrying a caller's own headers (a file
/// server's key) must not hand them to another host, and reqwest drops
/// only `Authorization` and cookies on the way.
pub fn redirects_within(reach: Reach, same_origin: bool) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        let elsewhere = same_origin
            && attempt
                .previous()
                .first()
                .is_some_and(|first| first.origin() != attempt.url().origin());
        if elsewhere {
            attempt.error("a redirect to another host, where the request's headers may not go")
        } else if attempt.previous().len() >= 10 {
            attempt.error("too many redirects")
        } else if refused(attempt.url(), reach) {
            attempt.error("a redirect to an address that may not be reached")
        } else {
            attempt.follow()
        }
    })
}

/// A URL whose host is an address `reach` does not allow.
pub fn refused(url: &url::Url, reach: Reach) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(a)) => !reach.allows(a.into()),
        Some(url::Host::Ipv6(a)) => !reach.allows(a.into()),
        _ => false,
    }
}

/// The system's resolver, keeping the addresses `reach` allows.
struct Guarded(Reach);

impl reqwest::dns::Resolve for Guarded {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let reach = self.0;
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let allowed: Vec<std::net::SocketAddr> =
                found.filter(|a| reach.allows(a.ip())).collect();
            if allowed.is_empty() {
                return Err("its host is at an address that may not be reached".into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_reach_public_addresses_and_the_operators_networks_only_for_the_operator() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        for a in [
            "93.184.216.34",
            "2606:2800:220:1:248:1893:25c8:1946",
            "8.8.8.8",
        ] {
            assert!(
                Reach::Public.allows(ip(a)) && Reach::Private.allows(ip(a)),
                "{a}"
            );
        }
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(
                !Reach::Public.allows(ip(a)) && Reach::Private.allows(ip(a)),
                "{a}"
            );
        }
        for a in [
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "fe80::1",
            "::",
            "ff02::1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "::169.254.169.254",
            "100.100.100.200",
            "fd00:ec2::254",
        ] {
            assert!(
                !Reach::Public.allows(ip(a)) && !Reach::Private.allows(ip(a)),
                "{a}"
            );
        }
    }
}
