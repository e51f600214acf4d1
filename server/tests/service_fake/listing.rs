//! Listings: pages, filters, filter values and lookup by name.

use axum::http::StatusCode;
use porter_sandbox_server::runtime::fake::FakeRuntime;
use serde_json::{Value, json};
use tempfile::TempDir;

fn ids(list: &Value) -> Vec<String> {
    let sandboxes = list["sandboxes"].as_array().unwrap();
    sandboxes.iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn listings_page_filter_and_look_up() {
    let data = TempDir::new().unwrap();
    let fake = FakeRuntime::new();
    let server = crate::support::start(data.path(), &fake).await;
    let mut created = Vec::new();
    for n in 0..53 {
        let team = if n % 2 == 0 { "red" } else { "blue" };
        let spec = json!({
            "image": "host",
            "command": ["app"],
            "name": format!("job-{n:02}"),
            "tags": { "team": team },
        });
        created.push(server.create(spec).await);
    }
    let last = created.last().unwrap().clone();
    server.wait_phase(&last, "running").await;
    let ended = created[0].clone();
    assert_eq!(server.delete(&format!("/v1/sandbox/{ended}")).await.0, StatusCode::NO_CONTENT);

    let (status, first) = server.get("/v1/sandbox").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(ids(&first).len(), 50);
    assert_eq!(ids(&first)[0], last, "newest first");
    assert_eq!(
        first["pagination"],
        json!({ "current_page": 1, "total_pages": 2, "has_next_page": true })
    );
    let (_, second) = server.get("/v1/sandbox?page=2").await;
    assert_eq!(ids(&second).len(), 3);
    assert_eq!(second["pagination"]["has_next_page"], false);
    let mut all: Vec<String> = ids(&first).into_iter().chain(ids(&second)).collect();
    all.sort();
    let mut expected = created.clone();
    expected.sort();
    assert_eq!(all, expected, "every sandbox exactly once");

    let (_, red) = server.get("/v1/sandbox?tag=team=red").await;
    assert_eq!(ids(&red).len(), 27);
    let (_, terminated) = server.get("/v1/sandbox?phase=terminated").await;
    assert_eq!(ids(&terminated), [ended]);
    let (_, searched) = server.get("/v1/sandbox?search=JOB-5").await;
    assert_eq!(ids(&searched).len(), 3, "job-50 to job-52, case-insensitive");
    let (_, with_values) = server.get("/v1/sandbox?include_filter_values=true&page=2").await;
    assert_eq!(with_values["filter_values"]["images"], json!(["host"]), "{with_values}");

    let (status, body) = server.get("/v1/sandbox?phase=sleeping").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"],
        "unknown phase \"sleeping\": use queued, creating, running, succeeded, failed or terminated"
    );

    let (status, found) = server.get("/v1/sandbox/lookup?name=job-07").await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["id"], created[7]);
    let (status, body) = server.get("/v1/sandbox/lookup?name=nobody").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "no sandbox is named \"nobody\"");
    let (status, body) = server
        .post("/v1/sandbox/run", json!({ "image": "host", "command": ["x"], "name": "job-07" }))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body["error"].as_str().unwrap().starts_with("sandbox name \"job-07\" is already used"));
}
