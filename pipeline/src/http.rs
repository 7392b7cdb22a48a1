//! The sidecar's HTTP endpoints (axum) on `http.listen`:
//! - `/healthz`: 200 while the process runs;
//! - `/readyz`: 200 when every component is running and no sink's lag is
//!   at or above its `critical_lag`, else 503 with the components that are
//!   not (JSON);
//! - `/metrics`: the process registry as OpenMetrics text;
//! - `/status`: every component's state (JSON);
//! - `/wait?sink=NAME&position=POS[&timeout_ms=N]`: 200 once the sink has
//!   applied every change up to the source position POS
//!   ([`crate::wait`]); 408 on timeout (default 10 s, at most 5 min), 400
//!   for a malformed position or a setup that cannot answer, 404 for an
//!   unknown sink. Each answer is JSON saying why.
//!
//! Invariants: the endpoints only read in-memory state (no database or
//! broker call), so they answer while everything around is down; the
//! listener is bound before any component starts, and a bind failure is
//! an error naming `http.listen`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State as AxumState};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::status::Registry;
use crate::wait::{WaitError, Waits};

/// Binds `listen` (`host:port`; port 0 picks a free one).
pub async fn bind(listen: &str) -> Result<TcpListener, String> {
    TcpListener::bind(listen).await.map_err(|e| {
        format!("http.listen {listen}: {e}; set http.listen to a free host:port (or port 0)")
    })
}

/// Serves the endpoints on `listener` until `stop` turns true.
pub async fn serve(
    listener: TcpListener,
    registry: Registry,
    waits: Waits,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let addr = listener
        .local_addr()
        .map_or_else(|_| "?".to_string(), |a: SocketAddr| a.to_string());
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .route("/wait", get(wait))
        .with_state(AppState { registry, waits });
    tracing::info!(listen = %addr, "http: /healthz /readyz /metrics /status /wait");
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            while !*stop.borrow() {
                if stop.changed().await.is_err() {
                    break;
                }
            }
        })
        .await
        .map_err(|e| format!("http: {e}"))
}

/// What the handlers read.
#[derive(Clone)]
struct AppState {
    registry: Registry,
    waits: Waits,
}

/// `/wait`'s query.
#[derive(Debug, serde::Deserialize)]
struct WaitQuery {
    sink: Option<String>,
    position: Option<String>,
    timeout_ms: Option<String>,
}

/// The longest `/wait` allowed, and the default.
const MAX_WAIT: Duration = Duration::from_secs(300);
const DEFAULT_WAIT: Duration = Duration::from_secs(10);

async fn wait(AxumState(app): AxumState<AppState>, Query(q): Query<WaitQuery>) -> Response {
    let json = |code: StatusCode, body: serde_json::Value| {
        (
            code,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response()
    };
    let bad = |why: String| json(StatusCode::BAD_REQUEST, serde_json::json!({ "error": why }));
    let (Some(sink), Some(position)) = (q.sink, q.position) else {
        return bad("expected /wait?sink=NAME&position=POS[&timeout_ms=N]".into());
    };
    let timeout = match q.timeout_ms.as_deref().map(str::parse::<u64>) {
        None => DEFAULT_WAIT,
        Some(Ok(ms)) if Duration::from_millis(ms) <= MAX_WAIT => Duration::from_millis(ms),
        Some(_) => {
            return bad(format!(
                "timeout_ms must be a whole number of milliseconds up to {}",
                MAX_WAIT.as_millis()
            ));
        }
    };
    let started = Instant::now();
    let result = app.waits.wait(&sink, &position, timeout).await;
    let waited_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match result {
        Ok(()) => json(
            StatusCode::OK,
            serde_json::json!({ "sink": sink, "position": position, "waited_ms": waited_ms }),
        ),
        Err(WaitError::TimedOut(why)) => json(
            StatusCode::REQUEST_TIMEOUT,
            serde_json::json!({ "sink": sink, "position": position, "waited_ms": waited_ms, "error": why }),
        ),
        Err(WaitError::BadRequest(why)) => bad(why),
        Err(WaitError::UnknownSink(name)) => json(
            StatusCode::NOT_FOUND,
            serde_json::json!({ "error": format!("no sink `{name}` runs in this process") }),
        ),
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(AxumState(app): AxumState<AppState>) -> Response {
    let all = app.registry.snapshot();
    let waiting: Vec<_> = all.iter().filter(|c| !c.ready()).collect();
    if !all.is_empty() && waiting.is_empty() {
        return (StatusCode::OK, "ready\n").into_response();
    }
    let body = serde_json::json!({
        "ready": false,
        "reason": if all.is_empty() { "no components".to_string() } else {
            format!("{} of {} components not ready (not running, or a sink at or above its critical_lag)", waiting.len(), all.len())
        },
        "components": waiting,
    });
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn metrics() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        crate::metrics::global().encode(),
    )
        .into_response()
}

async fn status(AxumState(app): AxumState<AppState>) -> Response {
    let body = serde_json::json!({ "components": app.registry.snapshot() });
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}
