//! The ceiling the serving benchmark compares the gateway against: a bare axum server on the
//! same runtime settings that parses the same `{"rows": [...]}` JSON and answers a constant.
//!
//!     cargo build --release --example bare_axum -p slipway-server
//!     target/release/examples/bare_axum 8080     # POST /predict

use axum::Router;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::post;

#[derive(serde::Deserialize)]
struct Body {
    rows: Vec<serde_json::Value>,
}

async fn predict(body: Bytes) -> (StatusCode, &'static str) {
    match serde_json::from_slice::<Body>(&body) {
        Ok(b) if !b.rows.is_empty() => (StatusCode::OK, "{\"predictions\":[0.5]}"),
        _ => (StatusCode::BAD_REQUEST, "{\"error\":\"bad body\"}"),
    }
}

fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("usage: bare_axum PORT");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("the port is free");
        use axum::serve::ListenerExt;
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let app = Router::new().route("/predict", post(predict));
        axum::serve(listener, app).await.expect("serving");
    });
}
