//! The peer list and placement: a session's home is the peer with the
//! highest rendezvous weight for its id (no coordinator; when the list
//! changes, only the sessions whose home changed move). Pure.

use sha2::{Digest, Sha256};

/// One peer's base URL, without a trailing slash.
pub fn normalize(url: &str) -> String {
    url.trim().trim_end_matches('/').to_string()
}

/// Peer URLs as configured: comma- or line-separated; blank lines and
/// `#` comments are skipped; order is kept, duplicates dropped.
pub fn parse(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in text.split([',', '\n']) {
        let line = part.split('#').next().unwrap_or("");
        let url = normalize(line);
        if !url.is_empty() && !out.contains(&url) {
            out.push(url);
        }
    }
    out
}

/// Checks a list: each an http(s) URL.
pub fn check(peers: &[String]) -> Result<(), String> {
    if peers.is_empty() {
        return Err("the peer list is empty".into());
    }
    for p in peers {
        let ok = reqwest::Url::parse(p)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if !ok {
            return Err(format!("peer '{p}' is not an http(s) URL"));
        }
    }
    Ok(())
}

fn weight(peer: &str, session: &str) -> u64 {
    let mut h = Sha256::new();
    h.update(peer.as_bytes());
    h.update([0]);
    h.update(session.as_bytes());
    let d = h.finalize();
    u64::from_be_bytes(d[..8].try_into().expect("8 bytes"))
}

/// The home of `session` among `peers` (None only for an empty list).
pub fn home<'a>(peers: &'a [String], session: &str) -> Option<&'a str> {
    peers
        .iter()
        .max_by_key(|p| (weight(p, session), std::cmp::Reverse(p.as_str())))
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("http://10.0.0.{i}:8002")).collect()
    }

    #[test]
    fn lists_parse_in_order_without_duplicates() {
        assert_eq!(
            parse("http://a:1/, http://b:2\n# a comment\n\nhttp://a:1\nhttp://c:3 # third"),
            vec!["http://a:1", "http://b:2", "http://c:3"]
        );
        assert!(check(&parse("http://a:1,ftp://b")).is_err());
        assert!(check(&[]).is_err());
        assert!(check(&parse("http://a:1,https://b.example")).is_ok());
    }

    #[test]
    fn a_removed_peer_moves_only_its_own_sessions_and_homes_are_balanced() {
        let three = list(3);
        let two = list(2);
        let mut per = [0usize; 3];
        for i in 0..3000 {
            let id = format!("session-{i}");
            let h3 = home(&three, &id).unwrap();
            let h2 = home(&two, &id).unwrap();
            let at = three.iter().position(|p| p == h3).unwrap();
            per[at] += 1;
            if at < 2 {
                assert_eq!(h3, h2, "{id} moved though its home stayed");
            }
            // The order of the list does not matter.
            let mut rev = three.clone();
            rev.reverse();
            assert_eq!(home(&rev, &id), Some(h3));
        }
        assert!(per.iter().all(|&n| (800..1200).contains(&n)), "{per:?}");
    }
}
