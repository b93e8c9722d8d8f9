//! The HTTP server loop: hyper, with what `axum::serve` leaves out. A
//! client has `header_timeout` to send a request's headers (a slow or
//! silent client cannot hold a connection and its task for ever), at most
//! `max_connections` are open (more wait in the listen backlog), and a stop
//! lets connections finish their requests, then closes them.

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

#[derive(Clone, Debug)]
pub struct Connections {
    pub max: usize,
    pub header_timeout: Duration,
}

pub async fn serve(
    listener: TcpListener,
    app: Router,
    conns: Connections,
    stop: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let open = Arc::new(Semaphore::new(conns.max.max(1)));
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(conns.header_timeout);
    // An HTTP/2 client that stops answering is let go, as an HTTP/1 one.
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(conns.header_timeout))
        .keep_alive_timeout(conns.header_timeout);
    let mut stop = std::pin::pin!(stop);
    loop {
        let permit = tokio::select! {
            p = open.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = &mut stop => break,
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!("could not accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        // Whether a request has come in on the connection.
        let asked = Arc::new(AtomicBool::new(false));
        let svc = app.clone().map_request({
            let asked = asked.clone();
            move |req: hyper::Request<Incoming>| {
                asked.store(true, Ordering::Relaxed);
                req.map(axum::body::Body::new)
            }
        });
        let (builder, watcher, header_timeout) =
            (builder.clone(), graceful.watcher(), conns.header_timeout);
        tokio::spawn(async move {
            let conn = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(svc))
                .into_owned();
            // hyper's header timeout starts once it has told HTTP/1 from
            // HTTP/2, which waits for as many bytes as could be HTTP/2's
            // preface (24), and HTTP/2 waits for its handshake: a client
            // that sends nothing, or one byte, or the preface alone, would
            // hold its connection (and a slot) for ever. The first request
            // comes within the header timeout, or the connection goes.
            let unasked = async {
                tokio::time::sleep(header_timeout).await;
                if asked.load(Ordering::Relaxed) {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                r = watcher.watch(conn) => {
                    if let Err(e) = r {
                        tracing::debug!("connection ended: {e}");
                    }
                }
                _ = unasked => tracing::debug!("no request within the header timeout: connection closed"),
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
