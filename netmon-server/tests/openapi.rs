//! The OpenAPI document served at `/api/openapi.json`, as an `insta` snapshot
//! (tests/snapshots/): any change to an operation, parameter, schema or answer shows up as a
//! reviewed diff. After an intended change: `INSTA_UPDATE=always cargo test -p netmon-server
//! --test openapi` (or `cargo insta review`), then read the diff before committing it.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use netmon_core::{Config, Paths};
use netmon_server::{app, AppState};
use poem::test::TestClient;

#[tokio::test]
async fn the_openapi_document_is_the_reviewed_one() {
    let temp = tempfile::tempdir().unwrap();
    let paths = Paths::at(temp.path());
    paths.ensure().unwrap();
    let state = AppState::new(paths, Config::default(), Arc::new(AtomicBool::new(false)));
    let response = TestClient::new(app(state))
        .get("/api/openapi.json")
        .header("host", "127.0.0.1:7500")
        .send()
        .await;
    response.assert_status_is_ok();
    let document = response.0.into_body().into_string().await.unwrap();
    insta::assert_snapshot!("openapi.json", document);
}
