//! `GET /metrics` through the whole application: off by default (404 naming the key), turned
//! on live through `PUT /api/config`, counting published samples from then on with the
//! configured top N, and behind the same Host rule as the API.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use netmon_core::sample::{Destination, Provenance, SampleStats, Usage};
use netmon_core::{Config, Direction, Paths, Sample};
use netmon_server::{app, AppState};
use poem::http::StatusCode;
use poem::test::TestClient;
use poem::Endpoint;

const HOST: &str = "127.0.0.1:7500";

fn usage(app: &str, domain: &str, direction: Direction, bytes: u64) -> Usage {
    Usage {
        app: app.into(),
        destination: Some(Destination {
            host: domain.into(),
            domain: domain.into(),
            provenance: Provenance::Sni,
        }),
        direction,
        bytes,
        packets: 1,
    }
}

fn sample(usage: Vec<Usage>) -> Sample {
    Sample {
        start_ms: 0,
        end_ms: 1_000,
        usage,
        processes: vec![],
        stats: SampleStats {
            dropped_packets: 2,
            ..SampleStats::default()
        },
    }
}

async fn get(client: &TestClient<impl Endpoint>, host: &str) -> (StatusCode, String, String) {
    let response = client.get("/metrics").header("host", host).send().await;
    let status = response.0.status();
    let content_type = response
        .0
        .headers()
        .get("content-type")
        .map(|value| value.to_str().unwrap().to_string())
        .unwrap_or_default();
    (
        status,
        content_type,
        response.0.into_body().into_string().await.unwrap(),
    )
}

#[tokio::test]
async fn metrics_are_off_until_enabled_then_count_with_the_top_n() {
    let temp = tempfile::tempdir().unwrap();
    let paths = Paths::at(temp.path());
    paths.ensure().unwrap();
    let state = AppState::new(paths, Config::default(), Arc::new(AtomicBool::new(false)));
    let client = TestClient::new(app(state.clone()));

    let (status, _, body) = get(&client, HOST).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("metrics_enabled"), "{body}");
    // Samples while metrics are off are not counted.
    state.publish(sample(vec![usage("curl", "a.example", Direction::Sent, 5)]));

    let enable = client
        .put("/api/config")
        .header("host", HOST)
        .content_type("application/json")
        .body(r#"{"metrics_enabled": true, "metrics_top_n": 1}"#)
        .send()
        .await;
    enable.assert_status_is_ok();
    state.publish(sample(vec![
        usage("curl", "a.example", Direction::Sent, 1_000),
        usage("curl", "a.example", Direction::Received, 9_000),
        usage("ssh", "b.example", Direction::Sent, 70),
    ]));

    let (status, content_type, body) = get(&client, HOST).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    for line in [
        r#"netmon_application_bytes_total{application="curl",direction="sent"} 1000"#,
        r#"netmon_application_bytes_total{application="curl",direction="received"} 9000"#,
        r#"netmon_application_bytes_total{application="other",direction="sent"} 70"#,
        r#"netmon_domain_bytes_total{domain="a.example",direction="received"} 9000"#,
        r#"netmon_domain_bytes_total{domain="other",direction="sent"} 70"#,
        "netmon_capture_dropped_packets_total 2",
        "netmon_samples_total 2",
        "# EOF",
    ] {
        assert!(body.lines().any(|got| got == line), "{line} in:\n{body}");
    }
    assert!(!body.contains("ssh"), "top 1 only: {body}");
}

#[tokio::test]
async fn metrics_follow_the_host_rule_and_are_read_only() {
    let temp = tempfile::tempdir().unwrap();
    let paths = Paths::at(temp.path());
    paths.ensure().unwrap();
    let config = Config {
        metrics_enabled: true,
        ..Config::default()
    };
    let state = AppState::new(paths, config, Arc::new(AtomicBool::new(false)));
    let client = TestClient::new(app(state));
    for host in ["evil.example:7500", "127.0.0.1:7501"] {
        let (status, _, _) = get(&client, host).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{host}");
    }
    let (status, _, _) = get(&client, "localhost:7500").await;
    assert_eq!(status, StatusCode::OK);
    let post = client
        .post("/metrics")
        .header("host", HOST)
        .content_type("application/json")
        .body("{}")
        .send()
        .await;
    post.assert_status(StatusCode::METHOD_NOT_ALLOWED);
}
