//! `/api/connections` through the whole application: the busiest of the published snapshot,
//! bounded by `limit`, refused out of range, documented.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use netmon_core::clock;
use netmon_core::sample::Provenance;
use netmon_core::tracker::connections::{Connection, Connections, QUIET_AFTER};
use netmon_core::{Config, Paths};
use netmon_server::{app, AppState};
use poem::http::StatusCode;
use poem::test::{TestClient, TestResponse};
use poem::Endpoint;

const HOST: &str = "127.0.0.1:7500";

fn connection(port: u16, rate: f64, host: Option<&str>) -> Connection {
    Connection {
        protocol: "tcp".into(),
        local_address: "10.0.0.2".into(),
        local_port: port,
        remote_address: "192.0.2.7".into(),
        remote_port: 443,
        pid: Some(7),
        app: "firefox".into(),
        process: Some("firefox".into()),
        host: host.map(str::to_string),
        provenance: Some(if host.is_some() {
            Provenance::Sni
        } else {
            Provenance::Unresolved
        }),
        received_bytes_per_second: rate,
        sent_bytes_per_second: 1.0,
        received_bytes: 1000,
        sent_bytes: 10,
        age_seconds: 3,
    }
}

/// The JSON body of `response`.
async fn json_body(response: TestResponse) -> serde_json::Value {
    serde_json::from_str(&response.0.into_body().into_string().await.unwrap()).unwrap()
}

/// The JSON answer to a GET of `path`.
async fn get_json<E: Endpoint>(client: &TestClient<E>, path: &str) -> serde_json::Value {
    json_body(client.get(path).header("host", HOST).send().await).await
}

#[tokio::test]
async fn the_busiest_connections_of_the_latest_snapshot_are_served() {
    let temp = tempfile::tempdir().unwrap();
    let paths = Paths::at(temp.path());
    paths.ensure().unwrap();
    let state = AppState::new(paths, Config::default(), Arc::new(AtomicBool::new(false)));
    let client = TestClient::new(app(state.clone()));
    let empty = client
        .get("/api/connections")
        .header("host", HOST)
        .send()
        .await;
    empty.assert_status_is_ok();
    empty
        .assert_json(serde_json::json!({"taken_ms": 0, "open": 0, "connections": []}))
        .await;

    let busy = |taken_ms| Connections {
        taken_ms,
        open: 3,
        connections: vec![
            connection(5000, 9000.0, Some("www.netflix.com")),
            connection(5001, 20.0, None),
            connection(5002, 10.0, None),
        ],
    };
    state.connections().publish(busy(clock::unix_ms()));
    let two = client
        .get("/api/connections")
        .query("limit", &2)
        .header("host", HOST)
        .send()
        .await;
    two.assert_status_is_ok();
    let body = json_body(two).await;
    assert_eq!(body["open"], 3);
    let listed = body["connections"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["host"], "www.netflix.com");
    assert_eq!(listed[0]["provenance"], "sni");
    assert_eq!(listed[0]["pid"], 7);
    assert_eq!(listed[1]["local_port"], 5001);
    assert_eq!(listed[1]["provenance"], "unresolved");
    assert_eq!(listed[0]["received_bytes_per_second"], 9000.0);

    // A snapshot with no packet since for QUIET_AFTER is served with its rates at 0.
    let quiet_after = QUIET_AFTER.as_millis() as i64;
    state
        .connections()
        .publish(busy(clock::unix_ms() - quiet_after - 100));
    let body = get_json(&client, "/api/connections").await;
    let rates: Vec<f64> = body["connections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| {
            ["received_bytes_per_second", "sent_bytes_per_second"].map(|f| c[f].as_f64().unwrap())
        })
        .collect();
    assert_eq!(rates, [0.0; 6], "{body}");

    for bad in ["0", "501"] {
        let refused = client
            .get("/api/connections")
            .query("limit", &bad)
            .header("host", HOST)
            .send()
            .await;
        refused.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
        let text = refused.0.into_body().into_string().await.unwrap();
        assert!(
            text.contains(&format!("\\\"limit\\\": {bad} is not from 1 to 500")),
            "{text}"
        );
    }

    let spec = get_json(&client, "/api/openapi.json").await;
    let operation = &spec["paths"]["/connections"]["get"];
    assert!(operation["responses"]["422"].is_object(), "{operation}");
    let schema = &spec["components"]["schemas"]["Connection"]["properties"];
    for field in [
        "pid",
        "app",
        "remote_address",
        "host",
        "provenance",
        "received_bytes_per_second",
        "sent_bytes",
    ] {
        assert!(schema[field].is_object(), "{field} documented: {schema}");
    }
}
