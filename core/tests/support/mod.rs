//! A small in-process HTTP server for transport fault tests: each test scripts its answers
//! with an axum router and counts what arrived.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};

use axum::{Router, body::Bytes, http::HeaderMap};

/// What the scripted server saw.
#[derive(Default)]
pub struct Seen {
    pub hits: AtomicUsize,
    pub requests: Mutex<Vec<SeenRequest>>,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    pub method: String,
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Seen {
    pub fn record(&self, method: &str, uri: &str, headers: &HeaderMap, body: &Bytes) -> usize {
        self.requests.lock().unwrap().push(SeenRequest {
            method: method.to_owned(),
            uri: uri.to_owned(),
            headers: headers.clone(),
            body: body.clone(),
        });
        self.hits.fetch_add(1, Ordering::SeqCst) + 1
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<SeenRequest> {
        self.requests.lock().unwrap().clone()
    }
}

/// Serves `router` on a free loopback port; returns its base URL (`http://127.0.0.1:PORT`).
pub async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    format!("http://{addr}")
}

/// A fresh counter to share with handlers.
pub fn seen() -> Arc<Seen> {
    Arc::new(Seen::default())
}
