//! `GET /api/events?session=&events=`: live events as Server-Sent Events.
//! Live only: a client that needs every event uses a webhook (durable).

use super::AppState;
use super::error::ApiError;
use super::sessions::session_id;
use axum::{
    extract::{Query, State},
    response::sse::{Event as SseEvent, KeepAlive, Sse},
};
use futures::{Stream, StreamExt};
use serde::Deserialize;
use std::convert::Infallible;
use tokio_stream::wrappers::{BroadcastStream, errors::BroadcastStreamRecvError};

#[derive(Deserialize)]
pub struct EventsQuery {
    session: Option<String>,
    events: Option<String>,
}

pub async fn stream(
    State(st): State<AppState>,
    Query(q): Query<EventsQuery>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let session = q
        .session
        .filter(|s| !s.is_empty())
        .map(|s| session_id(&s))
        .transpose()?;
    let names: Option<Vec<String>> = q
        .events
        .filter(|e| !e.is_empty())
        .map(|e| e.split(',').map(|s| s.trim().to_string()).collect());
    if let Some(names) = &names {
        if let Some(bad) = names
            .iter()
            .find(|n| !crate::webhook::EVENT_NAMES.contains(&n.as_str()) && *n != "*")
        {
            return Err(ApiError::invalid(
                "events",
                format!("has unknown event '{bad}'"),
            ));
        }
    }
    let rx = st.manager.env().events.subscribe();
    let stream = BroadcastStream::new(rx).filter_map(move |item| {
        let out = match item {
            Ok(ev) => {
                let wanted = session.as_ref().is_none_or(|s| *s == ev.session)
                    && names
                        .as_ref()
                        .is_none_or(|n| n.iter().any(|x| x == "*" || *x == ev.event));
                wanted.then(|| {
                    SseEvent::default()
                        .id(ev.id.clone())
                        .event(ev.event.clone())
                        .data(serde_json::to_string(&ev).unwrap_or_default())
                })
            }
            // A slow client missed some: say so rather than pretend.
            Err(BroadcastStreamRecvError::Lagged(n)) => {
                Some(SseEvent::default().event("lagged").data(n.to_string()))
            }
        };
        std::future::ready(out.map(Ok))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
