//! The sidecar's HTTP endpoints (axum) on `http.listen`:
//! - `/healthz`: 200 while the process runs;
//! - `/readyz`: 200 when every component is running, else 503 with the
//!   components that are not (JSON);
//! - `/metrics`: the process registry as OpenMetrics text;
//! - `/status`: every component's state (JSON).
//!
//! Invariants: the endpoints only read in-memory state (no database or
//! broker call), so they answer while everything around is down; the
//! listener is bound before any component starts, and a bind failure is
//! an error naming `http.listen`.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::State as AxumState;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::status::{Registry, State};

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
        .with_state(registry);
    tracing::info!(listen = %addr, "http: /healthz /readyz /metrics /status");
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

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(AxumState(registry): AxumState<Registry>) -> Response {
    let all = registry.snapshot();
    let waiting: Vec<_> = all.iter().filter(|c| c.state != State::Running).collect();
    if !all.is_empty() && waiting.is_empty() {
        return (StatusCode::OK, "ready\n").into_response();
    }
    let body = serde_json::json!({
        "ready": false,
        "reason": if all.is_empty() { "no components".to_string() } else {
            format!("{} of {} components not running", waiting.len(), all.len())
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

async fn status(AxumState(registry): AxumState<Registry>) -> Response {
    let body = serde_json::json!({ "components": registry.snapshot() });
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}
