//! The event stream of every peer as one (`GET /api/events` without
//! `?session=`): each peer's stream is opened with its own resume point,
//! events pass through whole as they come, and each carries as its id
//! where every peer's stream stands (`tag:seq,tag:seq`), so a reader that
//! comes back with `Last-Event-ID` resumes each peer where it left it: no
//! gap, no repeat. A peer's stream that ends ends the merged one (the
//! reader comes back and resumes); a peer down when it is opened is left
//! out and named in `X-Wabridge-Unreachable`, and the merged stream then
//! ends after `REASK`, so the reader comes back and asks it again.

use super::forward::{PART_WITHIN, copy, forward_within, tag};
use super::{Cluster, PEER, UNREACHABLE};
use axum::{
    body::{Body, Bytes},
    extract::Request,
    http::{HeaderValue, header},
    middleware::Next,
    response::Response,
};
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::pin::Pin;

/// A peer's short name in a merged event id.
pub fn peer_tag(url: &str) -> String {
    Sha256::digest(url.as_bytes())[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `tag:seq,tag:seq` → each peer's place. Anything else (a single peer's
/// plain id) gives no place.
pub fn parse_places(id: &str) -> BTreeMap<String, String> {
    id.split(',')
        .filter_map(|p| {
            let (t, s) = p.split_once(':')?;
            (!t.is_empty() && !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| (t.to_string(), s.to_string()))
        })
        .collect()
}

fn format_places(places: &BTreeMap<String, String>) -> String {
    places
        .iter()
        .map(|(t, s)| format!("{t}:{s}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// A request for one peer: its own resume point, the reader's otherwise.
fn for_peer(req: &Request, place: Option<&String>) -> Request {
    let mut r = copy(req);
    r.headers_mut().remove("last-event-id");
    // `since` is the query's spelling of Last-Event-ID.
    let q: Vec<(String, String)> = url_pairs(r.uri().query().unwrap_or(""))
        .into_iter()
        .filter(|(k, _)| k != "since")
        .collect();
    let mut path = r.uri().path().to_string();
    if !q.is_empty() {
        path.push('?');
        path.push_str(
            &q.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&"),
        );
    }
    if let Ok(u) = path.parse() {
        *r.uri_mut() = u;
    }
    if let Some(seq) = place.and_then(|s| HeaderValue::from_str(s).ok()) {
        r.headers_mut().insert("last-event-id", seq);
    }
    r
}

/// Raw `k=v` pairs (still percent-encoded: passed on as they came).
fn url_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (p.to_string(), String::new()),
        })
        .collect()
}

/// The longest event a peer's stream may hold (far past any event's
/// payload): a peer that sends more without an event's end is cut off,
/// not buffered for ever.
const MAX_PEER_EVENT: usize = 8 << 20;

/// A peer's stream that sends nothing for this long (it sends a comment
/// every 15 s) is gone: a peer cut off without its connection closing
/// would otherwise hold the merged stream, and every event of the others
/// behind it, for good. The merged stream ends; the reader resumes.
const PEER_IDLE: std::time::Duration = std::time::Duration::from_secs(60);

/// Whole SSE events out of a byte stream that may split them anywhere.
fn whole_events(body: Body) -> impl Stream<Item = Result<Vec<u8>, ()>> + Send {
    futures::stream::unfold(
        (body.into_data_stream(), Vec::<u8>::new()),
        |(mut s, mut buf)| async move {
            loop {
                if let Some(end) = buf.windows(2).position(|w| w == b"\n\n") {
                    let ev: Vec<u8> = buf.drain(..end + 2).collect();
                    return Some((Ok(ev), (s, buf)));
                }
                if buf.len() > MAX_PEER_EVENT {
                    return Some((Err(()), (s, buf)));
                }
                match tokio::time::timeout(PEER_IDLE, s.next()).await {
                    // SSE allows CRLF line ends; one spelling to split on.
                    Ok(Some(Ok(chunk))) => buf.extend(chunk.iter().filter(|b| **b != b'\r')),
                    _ => return Some((Err(()), (s, buf))),
                }
            }
        },
    )
}

type Source = Pin<Box<dyn Stream<Item = (String, Result<Vec<u8>, ()>)> + Send>>;

/// How long a merged stream that left a peer out lasts: its reader comes
/// back (resuming every peer where it was) and the peer is asked again.
/// Otherwise that peer's sessions' events would wait for as long as the
/// reader stays.
const REASK: std::time::Duration = std::time::Duration::from_secs(15);

pub async fn merged(c: &Cluster, req: Request, next: Next) -> Response {
    let resume = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(String::from)
        .or_else(|| {
            url_pairs(req.uri().query().unwrap_or(""))
                .into_iter()
                .find(|(k, _)| k == "since")
                .map(|(_, v)| v)
        })
        .unwrap_or_default();
    // Subscribed first: a change while the stream is set up ends it too.
    let mut peers = c.watch();
    let mut places = parse_places(&resume);
    // `since=0` asks for everything: every peer from its start. (A peer a
    // resumed id does not name is read live: one left out because it could
    // not be reached would otherwise replay its whole retained log.)
    let start = (resume.trim() == "0").then(|| "0".to_string());
    let place_of = |places: &BTreeMap<String, String>, peer: &str| {
        places.get(&peer_tag(peer)).or(start.as_ref()).cloned()
    };
    let me = c.me().to_string();
    let asks: Vec<_> = c
        .others()
        .into_iter()
        .map(|peer| {
            let r = for_peer(&req, place_of(&places, &peer).as_ref());
            async move {
                let res = forward_within(c, &peer, r, PART_WITHIN).await;
                (peer, res)
            }
        })
        .collect();
    let here = next.run(for_peer(&req, place_of(&places, &me).as_ref()));
    let (here, theirs) = futures::join!(here, futures::future::join_all(asks));
    if !here.status().is_success() {
        return tag(here, &me);
    }
    let mut sources: Vec<Source> = vec![Box::pin(whole_events(here.into_body()).map({
        let t = peer_tag(&me);
        move |e| (t.clone(), e)
    }))];
    let mut missing = Vec::new();
    for (peer, res) in theirs {
        let served = res.status().is_success()
            && res.headers().get(PEER).is_some_and(|p| p == peer.as_str());
        if !served {
            missing.push(peer);
            continue;
        }
        let t = peer_tag(&peer);
        sources.push(Box::pin(
            whole_events(res.into_body()).map(move |e| (t.clone(), e)),
        ));
    }
    // Ends when the peer list changes: its reader comes back and is
    // served by every peer of the new list.
    let all = futures::stream::select_all(sources).take_until(async move {
        let _ = peers.changed().await;
    });
    let all: Source = if missing.is_empty() {
        Box::pin(all)
    } else {
        Box::pin(all.take_until(tokio::time::sleep(REASK)))
    };
    let merged = all
        .take_while(|(_, e)| futures::future::ready(e.is_ok()))
        .filter_map(move |(t, e)| {
            let out = e.ok().and_then(|ev| rewrite(&mut places, &t, &ev));
            futures::future::ready(out.map(|b| Ok::<_, std::io::Error>(Bytes::from(b))))
        });
    let mut res = Response::new(Body::from_stream(merged));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if !missing.is_empty()
        && let Ok(v) = HeaderValue::from_str(&missing.join(", "))
    {
        h.insert(UNREACHABLE, v);
    }
    tag(res, &me)
}

/// One whole event of peer `t`: its id becomes every peer's place.
/// Comments (keep-alives) pass as they are.
fn rewrite(places: &mut BTreeMap<String, String>, t: &str, ev: &[u8]) -> Option<Vec<u8>> {
    let text = String::from_utf8_lossy(ev);
    let mut out = String::with_capacity(text.len() + 32);
    let mut has_field = false;
    for line in text.split('\n') {
        // Where that peer's stream starts: its place until it sends an
        // event, so resuming never skips what it logged meanwhile.
        if let Some(seq) = line.strip_prefix(": from ")
            && seq.bytes().all(|b| b.is_ascii_digit())
            && !seq.is_empty()
        {
            places.insert(t.to_string(), seq.to_string());
            return None;
        }
        if let Some(seq) = line.strip_prefix("id:") {
            places.insert(t.to_string(), seq.trim().to_string());
            continue;
        }
        if !line.is_empty() && !line.starts_with(':') {
            has_field = true;
        }
        if !line.is_empty() {
            out.push_str(line);
            out.push('\n');
        }
    }
    if !has_field {
        return (out.starts_with(':')).then(|| format!("{out}\n").into_bytes());
    }
    let id = format_places(places);
    Some(format!("id: {id}\n{out}\n").into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_event_carries_every_peers_place() {
        let mut places = BTreeMap::new();
        let a = rewrite(&mut places, "aa", b"id: 7\nevent: message\ndata: {}\n\n").unwrap();
        assert_eq!(
            String::from_utf8(a).unwrap(),
            "id: aa:7\nevent: message\ndata: {}\n\n"
        );
        let b = rewrite(&mut places, "bb", b"id: 3\nevent: ack\ndata: {}\n\n").unwrap();
        assert_eq!(
            String::from_utf8(b).unwrap(),
            "id: aa:7,bb:3\nevent: ack\ndata: {}\n\n"
        );
        let back = parse_places("aa:7,bb:3");
        assert_eq!(back.get("aa").map(String::as_str), Some("7"));
        assert!(parse_places("42").is_empty());
        // A keep-alive comment passes as it is; a `gone` notice gets the places.
        assert_eq!(rewrite(&mut places, "aa", b":\n\n").unwrap(), b":\n\n");
        let g = rewrite(&mut places, "aa", b"event: gone\ndata: {}\n\n").unwrap();
        assert!(String::from_utf8(g).unwrap().starts_with("id: aa:7,bb:3\n"));
        // A peer that has sent nothing yet has the place its stream began
        // at: the next event through any peer carries it.
        assert!(rewrite(&mut places, "cc", b": from 40\n\n").is_none());
        let a = rewrite(&mut places, "aa", b"id: 8\nevent: message\ndata: {}\n\n").unwrap();
        assert!(
            String::from_utf8(a)
                .unwrap()
                .starts_with("id: aa:8,bb:3,cc:40\n")
        );
    }
}
