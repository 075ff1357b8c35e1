//! Budgets and alerts through the whole application: a budget is created, listed with its
//! progress, changed and deleted; an invalid one is refused with 422 naming each problem and
//! nothing is stored; the alert history and `/alerts/live` serve what the daemon records and
//! publishes; the OpenAPI document describes them.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use netmon_core::alerts;
use netmon_core::anomaly::Sensitivity;
use netmon_core::sample::SampleStats;
use netmon_core::store::Store;
use netmon_core::{Config, Direction, Paths, Sample, Usage};
use netmon_server::{app, AppState};
use poem::http::StatusCode;
use poem::test::TestClient;
use serde_json::{json, Value};
use tokio_stream::StreamExt;

const HOST: &str = "127.0.0.1:7500";

/// A server with a database in which curl received 600 bytes a minute ago.
fn seeded(home: &std::path::Path) -> (AppState, Store) {
    let paths = Paths::at(home);
    paths.ensure().unwrap();
    let mut writer = Store::open(&paths.database()).unwrap();
    let start_ms = netmon_core::clock::unix_ms() - 60_000;
    writer.write(&[curl(start_ms, 600)]).unwrap();
    let reader = Store::open(&paths.database()).unwrap();
    let state = AppState::with_store(
        paths,
        Config::default(),
        Arc::new(AtomicBool::new(false)),
        reader,
    );
    (state, writer)
}

fn curl(start_ms: i64, bytes: u64) -> Sample {
    Sample {
        start_ms,
        end_ms: start_ms + 1000,
        usage: vec![Usage {
            app: "curl".into(),
            destination: None,
            direction: Direction::Received,
            bytes,
            packets: 1,
        }],
        processes: vec![],
        stats: SampleStats::default(),
    }
}

async fn json_of(response: poem::test::TestResponse) -> Value {
    serde_json::from_str(&response.0.into_body().into_string().await.unwrap()).unwrap()
}

#[tokio::test]
async fn budgets_are_created_listed_changed_and_deleted() {
    let temp = tempfile::tempdir().unwrap();
    let (state, _writer) = seeded(temp.path());
    let client = TestClient::new(app(state));
    let created = client
        .post("/api/budgets")
        .header("host", HOST)
        .body_json(&json!({"scope": "app", "name": "curl", "period": "month", "limit_bytes": 1000, "month_start_day": 15}))
        .send()
        .await;
    created.assert_status(StatusCode::CREATED);
    let budget = json_of(created).await;
    let id = budget["id"].as_i64().unwrap();
    assert_eq!(budget["progress"]["used_bytes"], 600);
    assert_eq!(budget["progress"]["percent"], 60.0);
    assert_eq!(budget["month_start_day"], 15);
    assert!(budget["progress"]["projected_bytes"].as_u64().unwrap() >= 600);

    let listed = json_of(client.get("/api/budgets").header("host", HOST).send().await).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["name"], "curl");

    let changed = client
        .put(format!("/api/budgets/{id}"))
        .header("host", HOST)
        .body_json(&json!({"scope": "all", "period": "day", "limit_bytes": 500}))
        .send()
        .await;
    changed.assert_status_is_ok();
    let changed = json_of(changed).await;
    assert_eq!(changed["scope"], "all");
    assert_eq!(changed["progress"]["percent"], 120.0);

    let deleted = client
        .delete(format!("/api/budgets/{id}"))
        .header("host", HOST)
        .content_type("application/json")
        .send()
        .await;
    deleted.assert_status(StatusCode::NO_CONTENT);
    let again = client
        .delete(format!("/api/budgets/{id}"))
        .header("host", HOST)
        .content_type("application/json")
        .send()
        .await;
    again.assert_status(StatusCode::NOT_FOUND);
    let missing = client
        .put("/api/budgets/999")
        .header("host", HOST)
        .body_json(&json!({"scope": "all", "period": "day", "limit_bytes": 5}))
        .send()
        .await;
    missing.assert_status(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_invalid_budget_is_refused_with_every_problem_and_nothing_stored() {
    let temp = tempfile::tempdir().unwrap();
    let (state, writer) = seeded(temp.path());
    let client = TestClient::new(app(state));
    let refused = client
        .post("/api/budgets")
        .header("host", HOST)
        .body_json(&json!({"scope": "app", "period": "fortnight", "limit_bytes": -5, "month_start_day": 30}))
        .send()
        .await;
    refused.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let problems = json_of(refused).await["problems"].clone();
    let text = problems.to_string();
    assert_eq!(problems.as_array().unwrap().len(), 4, "{text}");
    for part in [
        "needs its name",
        "\\\"fortnight\\\" is not one of day, week, month",
        "-5 is not a positive",
        "30 is not from 1 to 28",
    ] {
        assert!(text.contains(part), "{part}: {text}");
    }
    assert!(writer.budgets().unwrap().is_empty(), "nothing stored");
}

#[tokio::test]
async fn alerts_are_listed_and_streamed_live() {
    let temp = tempfile::tempdir().unwrap();
    let (state, mut writer) = seeded(temp.path());
    let client = TestClient::new(app(state.clone()));
    let response = client
        .get("/api/alerts/live")
        .header("host", HOST)
        .send()
        .await;
    response.assert_status_is_ok();
    let mut events = response.sse_stream();

    let spec = netmon_core::budget::BudgetSpec::new(
        Ok(netmon_core::budget::Scope::App("curl".into())),
        Ok(netmon_core::budget::Period::Day),
        700,
        None,
    )
    .unwrap();
    writer.add_budget(&spec, 0).unwrap();
    let raised = alerts::evaluate(
        &mut writer,
        netmon_core::clock::unix_ms(),
        &Sensitivity::default(),
    )
    .unwrap();
    assert_eq!(raised.len(), 1, "600 of 700 bytes: 80 %");
    raised
        .into_iter()
        .for_each(|alert| state.publish_alert(alert));

    let event = tokio::time::timeout(std::time::Duration::from_secs(5), events.next())
        .await
        .expect("an event within 5 s")
        .expect("the stream is open");
    let poem::web::sse::Event::Message { data, .. } = event else {
        panic!("not a message: {event:?}");
    };
    let live: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(live["kind"], "budget");
    assert_eq!(live["level"], 80);

    let history = json_of(client.get("/api/alerts").header("host", HOST).send().await).await;
    assert_eq!(history.as_array().unwrap().len(), 1);
    assert_eq!(history[0]["subject"], "curl");
    let bad = client
        .get("/api/alerts?limit=0")
        .header("host", HOST)
        .send()
        .await;
    bad.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let unusual = client
        .get("/api/alerts/unusual")
        .header("host", HOST)
        .send()
        .await;
    unusual.assert_status_is_ok();
    assert_eq!(
        json_of(unusual).await,
        json!([]),
        "no history to be unusual against"
    );

    let spec = json_of(
        client
            .get("/api/openapi.json")
            .header("host", HOST)
            .send()
            .await,
    )
    .await;
    for path in [
        "/budgets",
        "/budgets/{id}",
        "/alerts",
        "/alerts/live",
        "/alerts/unusual",
    ] {
        assert!(spec["paths"].get(path).is_some(), "{path} missing");
    }
    assert!(spec["paths"]["/budgets"]["post"]["responses"]
        .get("422")
        .is_some());
    let options = &spec["components"]["schemas"]["ConfigDocument"]["properties"];
    assert_eq!(options["anomaly_floor_mb"]["x-unit"], "MB per hour");
    assert_eq!(
        options["anomaly_sensitivity"]["x-allowed"],
        "a number from 2 to 50"
    );
    assert_eq!(
        options["domain_tracking"]["enum"],
        json!(["browsers", "all", "off"])
    );
    assert!(options["batch_write_seconds"]["description"]
        .as_str()
        .unwrap()
        .starts_with("seconds between database writes"));
}
