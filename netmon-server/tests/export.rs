//! `/api/export`: every usage row of a range as CSV or JSON, streamed; the views as CSV.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use netmon_core::sample::{Provenance, SampleStats, Usage};
use netmon_core::store::Store;
use netmon_core::{Config, Direction, Paths, Sample};
use netmon_server::{app, AppState};
use poem::http::StatusCode;
use poem::test::{TestClient, TestResponse};
use poem::Endpoint;
use tokio_stream::StreamExt;

const HOST: &str = "127.0.0.1:7500";
const HOUR_MS: i64 = 3_600_000;

fn usage(app: &str, host: Option<&str>, direction: Direction, bytes: u64) -> Usage {
    let usage = Usage::new(app, direction, bytes).in_packets(2);
    match host {
        Some(host) => usage.to(host, "netflix.com", Provenance::Sni),
        None => usage,
    }
}

/// Writes `samples` to a fresh database under `home` and serves it.
fn serving(home: &std::path::Path, samples: &[Sample]) -> AppState {
    let paths = Paths::at(home);
    paths.ensure().unwrap();
    Store::open(&paths.database())
        .unwrap()
        .write(samples)
        .unwrap();
    let reader = Store::open(&paths.database()).unwrap();
    AppState::with_store(
        paths,
        Config::default(),
        Arc::new(AtomicBool::new(false)),
        reader,
    )
}

/// One sample an hour for the last six hours: zen to api.netflix.com (1 MB in, 10 kB out),
/// curl to an unknown destination (500 B in).
fn six_hours(now: i64) -> Vec<Sample> {
    (1..=6)
        .map(|hours_ago| {
            let start_ms = now - hours_ago * HOUR_MS;
            Sample {
                start_ms,
                end_ms: start_ms + 5000,
                usage: vec![
                    usage(
                        "zen",
                        Some("api.netflix.com"),
                        Direction::Received,
                        1_000_000,
                    ),
                    usage("zen", Some("api.netflix.com"), Direction::Sent, 10_000),
                    usage("curl", None, Direction::Received, 500),
                ],
                processes: vec![],
                stats: SampleStats::default(),
            }
        })
        .collect()
}

fn client(state: &AppState) -> TestClient<impl Endpoint> {
    TestClient::new(app(state.clone()))
}

async fn text(response: TestResponse) -> String {
    response.0.into_body().into_string().await.unwrap()
}

fn header(response: &TestResponse, name: &str) -> String {
    response.0.headers()[name].to_str().unwrap().to_string()
}

#[tokio::test]
async fn usage_rows_as_csv() {
    let temp = tempfile::tempdir().unwrap();
    let now = netmon_core::clock::unix_ms();
    let client = client(&serving(temp.path(), &six_hours(now)));
    let response = client
        .get("/api/export")
        .query("format", &"csv")
        .header("host", HOST)
        .send()
        .await;
    response.assert_status_is_ok();
    response.assert_content_type("text/csv; charset=utf-8");
    let disposition = header(&response, "content-disposition");
    assert!(
        disposition.starts_with("attachment; filename=\"netmon-usage-")
            && disposition.ends_with(".csv\""),
        "{disposition}"
    );
    let body = text(response).await;
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    assert_eq!(
        reader.headers().unwrap(),
        vec![
            "start_ms",
            "start",
            "duration_ms",
            "tier",
            "app",
            "host",
            "domain",
            "direction",
            "bytes",
            "packets"
        ],
        "the columns of netmon export"
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 18, "three rows for each of six samples");
    let bytes = |app: &str, direction: &str| -> u64 {
        rows.iter()
            .filter(|row| &row[4] == app && &row[7] == direction)
            .map(|row| row[8].parse::<u64>().unwrap())
            .sum()
    };
    assert_eq!(bytes("zen", "received"), 6_000_000);
    assert_eq!(bytes("zen", "sent"), 60_000);
    assert_eq!(bytes("curl", "received"), 3000);
    let zen = rows.iter().find(|row| &row[4] == "zen").unwrap();
    assert_eq!(
        (&zen[5], &zen[6], &zen[9]),
        ("api.netflix.com", "netflix.com", "2")
    );
    assert_eq!(&zen[3], "raw", "the tier the store read the row from");
    let curl = rows.iter().find(|row| &row[4] == "curl").unwrap();
    assert_eq!(
        (&curl[5], &curl[6]),
        ("", ""),
        "no destination, empty fields"
    );
    let starts: Vec<i64> = rows.iter().map(|row| row[0].parse().unwrap()).collect();
    assert!(
        starts.windows(2).all(|pair| pair[0] <= pair[1]),
        "oldest first"
    );
    assert_eq!(starts[0], now - 6 * HOUR_MS);
}

#[tokio::test]
async fn usage_rows_as_json_within_a_custom_range() {
    let temp = tempfile::tempdir().unwrap();
    let now = netmon_core::clock::unix_ms();
    let client = client(&serving(temp.path(), &six_hours(now)));
    // From 2.5 hours ago to now: the samples of one and two hours ago.
    let response = client
        .get("/api/export")
        .query("format", &"json")
        .query("start_ms", &(now - 5 * HOUR_MS / 2))
        .query("end_ms", &now)
        .header("host", HOST)
        .send()
        .await;
    response.assert_status_is_ok();
    response.assert_content_type("application/json; charset=utf-8");
    assert!(header(&response, "content-disposition").ends_with(".json\""));
    let rows: Vec<serde_json::Value> = serde_json::from_str(&text(response).await).unwrap();
    assert_eq!(rows.len(), 6);
    let received: u64 = rows
        .iter()
        .filter(|row| row["direction"] == "received")
        .map(|row| row["bytes"].as_u64().unwrap())
        .sum();
    assert_eq!(received, 2 * 1_000_500);
    let curl = rows.iter().find(|row| row["app"] == "curl").unwrap();
    assert!(
        curl.get("host").is_none(),
        "unknown destinations are left out: {curl}"
    );
    let zen = rows.iter().find(|row| row["app"] == "zen").unwrap();
    assert_eq!(zen["host"], "api.netflix.com");
    assert_eq!(zen["start_ms"], now - 2 * HOUR_MS);

    let empty = client
        .get("/api/export")
        .query("format", &"json")
        .query("start_ms", &1)
        .query("end_ms", &2)
        .header("host", HOST)
        .send()
        .await;
    empty.assert_status_is_ok();
    let rows: Vec<serde_json::Value> = serde_json::from_str(&text(empty).await).unwrap();
    assert!(rows.is_empty());
}

#[tokio::test]
async fn a_large_export_arrives_in_pieces() {
    let temp = tempfile::tempdir().unwrap();
    let now = netmon_core::clock::unix_ms();
    // 400 samples of 50 applications: 20 000 rows, over a megabyte of CSV.
    let samples: Vec<Sample> = (0..400)
        .map(|i| {
            let start_ms = now - HOUR_MS + i * 5000;
            Sample {
                start_ms,
                end_ms: start_ms + 5000,
                usage: (0..50)
                    .map(|app| usage(&format!("app{app}"), None, Direction::Received, 1000 + app))
                    .collect(),
                processes: vec![],
                stats: SampleStats::default(),
            }
        })
        .collect();
    let client = client(&serving(temp.path(), &samples));
    let response = client.get("/api/export").header("host", HOST).send().await;
    response.assert_status_is_ok();
    let mut pieces = response.0.into_body().into_bytes_stream();
    let (mut count, mut body) = (0, Vec::new());
    while let Some(piece) = pieces.next().await {
        body.extend_from_slice(&piece.unwrap());
        count += 1;
    }
    assert!(count > 10, "the body came in {count} pieces");
    let mut reader = csv::Reader::from_reader(body.as_slice());
    let bytes: u64 = reader
        .records()
        .map(|row| row.unwrap()[8].parse::<u64>().unwrap())
        .sum();
    assert_eq!(bytes, 400 * (50 * 1000 + (0..50).sum::<u64>()));
}

#[tokio::test]
async fn views_as_csv() {
    let temp = tempfile::tempdir().unwrap();
    let now = netmon_core::clock::unix_ms();
    let client = client(&serving(temp.path(), &six_hours(now)));
    let view = |name: &str| {
        client
            .get(format!("/api/export/{name}"))
            .query("range", &"24h")
            .header("host", HOST)
            .send()
    };
    let apps = view("apps").await;
    apps.assert_status_is_ok();
    apps.assert_content_type("text/csv; charset=utf-8");
    assert!(header(&apps, "content-disposition").contains("netmon-apps-"));
    let body = text(apps).await;
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines[0], "app,sent,received,last_seen_ms");
    assert!(lines[1].starts_with("zen,60000,6000000,"), "{}", lines[1]);
    assert!(lines[2].starts_with("curl,0,3000,"), "{}", lines[2]);
    assert_eq!(lines.len(), 3);

    let domains = text(view("domains").await).await;
    assert_eq!(
        domains.lines().collect::<Vec<_>>(),
        [
            "domain,sent,received,hostnames",
            "netflix.com,60000,6000000,1"
        ]
    );

    let timeline = text(view("timeline").await).await;
    let mut reader = csv::Reader::from_reader(timeline.as_bytes());
    assert_eq!(
        reader.headers().unwrap(),
        vec!["start_ms", "bucket_ms", "sent", "received"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let received: u64 = rows.iter().map(|row| row[3].parse::<u64>().unwrap()).sum();
    assert_eq!(received, 6_003_000);
    assert!(rows.iter().all(|row| &row[1] == "300000"));
}

#[tokio::test]
async fn bad_exports_are_refused() {
    let temp = tempfile::tempdir().unwrap();
    let now = netmon_core::clock::unix_ms();
    let client = client(&serving(temp.path(), &six_hours(now)));
    let refused = client
        .get("/api/export")
        .query("range", &"1y")
        .header("host", HOST)
        .send()
        .await;
    refused.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(refused)
        .await
        .contains("\\\"range\\\" \\\"1y\\\": give a duration such as 24h, 7d, 90m or 2w"));
    for (path, key, value) in [
        ("/api/export", "format", "xml"),
        ("/api/export/processes", "range", "24h"),
    ] {
        let response = client
            .get(path)
            .query(key, &value)
            .header("host", HOST)
            .send()
            .await;
        assert!(
            response.0.status().is_client_error(),
            "{path}?{key}={value}"
        );
    }
    client
        .get("/api/export/apps")
        .query("limit", &0)
        .header("host", HOST)
        .send()
        .await
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY);

    let paths = Paths::at(temp.path());
    let without_db = AppState::new(paths, Config::default(), Arc::new(AtomicBool::new(false)));
    let client = TestClient::new(app(without_db));
    for path in ["/api/export", "/api/export/apps"] {
        client
            .get(path)
            .header("host", HOST)
            .send()
            .await
            .assert_status(StatusCode::SERVICE_UNAVAILABLE);
    }
}

#[tokio::test]
async fn exports_are_in_the_openapi_document() {
    let temp = tempfile::tempdir().unwrap();
    let client = client(&serving(temp.path(), &[]));
    let spec = client
        .get("/api/openapi.json")
        .header("host", HOST)
        .send()
        .await;
    let spec: serde_json::Value = serde_json::from_str(&text(spec).await).unwrap();
    let export = &spec["paths"]["/export"]["get"]["responses"]["200"];
    assert!(
        export["content"]["text/csv; charset=utf-8"].is_object(),
        "{export}"
    );
    assert!(export["content"]["application/json; charset=utf-8"]["schema"]["items"].is_object());
    assert!(
        export["headers"]["CONTENT-DISPOSITION"].is_object()
            || export["headers"]["Content-Disposition"].is_object(),
        "{export}"
    );
    let views = &spec["paths"]["/export/{view}"]["get"]["parameters"][0]["schema"];
    assert!(views.is_object(), "{}", spec["paths"]["/export/{view}"]);
}
