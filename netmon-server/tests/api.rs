//! The API through the whole application (security gate included), and the real listener.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use netmon_core::sample::{SampleStats, Usage};
use netmon_core::{Config, Direction, Paths, Sample};
use netmon_server::{app, serve, AppState, ServerError};
use poem::http::StatusCode;
use poem::test::TestClient;
use poem::Endpoint;
use tokio_stream::StreamExt;

const HOST: &str = "127.0.0.1:7500";

fn state(home: &std::path::Path) -> AppState {
    let paths = Paths::at(home);
    paths.ensure().unwrap();
    AppState::new(paths, Config::default(), Arc::new(AtomicBool::new(false)))
}

fn client(state: &AppState) -> TestClient<impl Endpoint> {
    TestClient::new(app(state.clone()))
}

#[tokio::test]
async fn status_is_served_to_this_machine_only() {
    let temp = tempfile::tempdir().unwrap();
    let state = state(temp.path());
    state.set_source("pcap on any");
    let client = client(&state);
    let ok = client.get("/api/status").header("host", HOST).send().await;
    ok.assert_status_is_ok();
    let json = ok.json().await;
    json.value()
        .object()
        .get("capture_source")
        .assert_string("pcap on any");
    json.value().object().get("paused").assert_bool(false);
    for host in ["evil.example:7500", "127.0.0.1:7501", "localhost"] {
        let refused = client.get("/api/status").header("host", host).send().await;
        refused.assert_status(StatusCode::FORBIDDEN);
    }
    let localhost = client
        .get("/api/status")
        .header("host", "localhost:7500")
        .send()
        .await;
    localhost.assert_status_is_ok();
}

#[tokio::test]
async fn websites_cannot_change_anything() {
    let temp = tempfile::tempdir().unwrap();
    let state = state(temp.path());
    let client = client(&state);
    let report =
        serde_json::json!({"domain": "netflix.com", "timestamp": 1_800_000_000, "browser": "zen"});
    let from_site = client
        .post("/api/browser/active-tab")
        .header("host", HOST)
        .header("origin", "https://evil.example")
        .body_json(&report)
        .send()
        .await;
    from_site.assert_status(StatusCode::FORBIDDEN);
    from_site
        .assert_text("refused: requests from https://evil.example may not change netmon")
        .await;
    let as_form = client
        .post("/api/monitoring/pause")
        .header("host", HOST)
        .content_type("text/plain")
        .body("{}")
        .send()
        .await;
    as_form.assert_status(StatusCode::FORBIDDEN);
    let huge = client
        .post("/api/browser/active-tab")
        .header("host", HOST)
        .content_type("application/json")
        .body(vec![b' '; 10 << 20])
        .send()
        .await;
    huge.assert_status(StatusCode::PAYLOAD_TOO_LARGE);
    assert!(!state.paused());
    assert_eq!(state.active_tab(), None);
}

#[tokio::test]
async fn the_extension_and_the_dashboard_may_report() {
    let temp = tempfile::tempdir().unwrap();
    let state = state(temp.path());
    let client = client(&state);
    let report =
        serde_json::json!({"domain": "Netflix.com.", "timestamp": 1_790_000_000, "browser": "zen"});
    for origin in [
        "moz-extension://6f1e0a3c-1111-2222-3333-444455556666",
        "http://127.0.0.1:7500",
    ] {
        let accepted = client
            .post("/api/browser/active-tab")
            .header("host", HOST)
            .header("origin", origin)
            .body_json(&report)
            .send()
            .await;
        accepted.assert_status(StatusCode::ACCEPTED);
    }
    let tab = state.active_tab().unwrap();
    assert_eq!(tab.domain, "netflix.com");
    assert_eq!(tab.browser, "zen");
}

#[tokio::test]
async fn bad_reports_are_refused_with_every_problem() {
    let temp = tempfile::tempdir().unwrap();
    let state = state(temp.path());
    let client = client(&state);
    let report = serde_json::json!({"domain": "https://netflix.com/watch?v=1", "timestamp": 5, "browser": ""});
    let refused = client
        .post("/api/browser/active-tab")
        .header("host", HOST)
        .body_json(&report)
        .send()
        .await;
    refused.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let json = refused.json().await;
    let problems = json.value().object().get("problems").array();
    problems.assert_len(3);
    let missing = client
        .post("/api/browser/active-tab")
        .header("host", HOST)
        .body_json(&serde_json::json!({"domain": "a.com"}))
        .send()
        .await;
    missing.assert_status(StatusCode::BAD_REQUEST);
    assert_eq!(state.active_tab(), None);
}

#[tokio::test]
async fn config_changes_are_validated_saved_and_flag_restarts() {
    let temp = tempfile::tempdir().unwrap();
    let state = state(temp.path());
    let client = client(&state);
    let invalid = client
        .put("/api/config")
        .header("host", HOST)
        .body_json(&serde_json::json!({"web_server_port": 80, "domain_rollup": false}))
        .send()
        .await;
    invalid.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let json = invalid.json().await;
    json.value().object().get("problems").array().assert_len(1);
    assert!(
        state.config().domain_rollup,
        "nothing changes when any key is invalid"
    );

    let valid = client
        .put("/api/config")
        .header("host", HOST)
        .body_json(&serde_json::json!({"web_server_port": 7600, "domain_rollup": false}))
        .send()
        .await;
    valid.assert_status_is_ok();
    let json = valid.json().await;
    let body = json.value().object();
    body.get("restart_required").array().assert_len(1);
    body.get("config")
        .object()
        .get("domain_rollup")
        .assert_bool(false);
    let saved = Config::load(&Paths::at(temp.path()).config()).unwrap();
    assert_eq!(saved.web_server_port, 7600);
    assert!(!saved.domain_rollup);
}

#[tokio::test]
async fn pause_and_resume() {
    let temp = tempfile::tempdir().unwrap();
    let state = state(temp.path());
    let client = client(&state);
    let post = |path: &'static str| {
        client
            .post(path)
            .header("host", HOST)
            .content_type("application/json")
            .body("{}")
            .send()
    };
    post("/api/monitoring/pause").await.assert_status_is_ok();
    assert!(state.paused());
    post("/api/monitoring/resume").await.assert_status_is_ok();
    assert!(!state.paused());
}

#[tokio::test]
async fn live_streams_each_published_sample() {
    let temp = tempfile::tempdir().unwrap();
    let state = state(temp.path());
    let client = client(&state);
    let response = client.get("/api/live").header("host", HOST).send().await;
    response.assert_status_is_ok();
    let mut events = response.sse_stream();
    let usage = |app: &str, direction, bytes| Usage {
        app: app.into(),
        destination: None,
        direction,
        bytes,
        packets: 1,
    };
    state.publish(Sample {
        start_ms: 0,
        end_ms: 2000,
        usage: vec![
            usage("curl", Direction::Received, 4000),
            usage("zen", Direction::Received, 10_000),
            usage("zen", Direction::Sent, 2000),
        ],
        processes: vec![],
        stats: SampleStats::default(),
    });
    let event = tokio::time::timeout(std::time::Duration::from_secs(5), events.next())
        .await
        .expect("an event within 5 s")
        .expect("the stream is open");
    let poem::web::sse::Event::Message { data, .. } = event else {
        panic!("not a message: {event:?}");
    };
    let live: serde_json::Value = serde_json::from_str(&data).unwrap();
    assert_eq!(live["received_bytes_per_second"], 7000.0);
    assert_eq!(live["sent_bytes_per_second"], 1000.0);
    assert_eq!(live["apps"][0]["app"], "zen");
    assert_eq!(live["apps"][1]["app"], "curl");
}

#[tokio::test]
async fn the_openapi_document_and_swagger_ui_are_served() {
    let temp = tempfile::tempdir().unwrap();
    let client = client(&state(temp.path()));
    let spec = client
        .get("/api/openapi.json")
        .header("host", HOST)
        .send()
        .await;
    spec.assert_status_is_ok();
    let text = spec.0.into_body().into_string().await.unwrap();
    for path in [
        "/status",
        "/config",
        "/live",
        "/browser/active-tab",
        "/monitoring/pause",
    ] {
        assert!(text.contains(&format!("\"{path}\"")), "{path} missing");
    }
    let docs = client.get("/docs").header("host", HOST).send().await;
    docs.assert_status_is_ok();
    // The page is made on request: it carries Swagger UI's script and the API's document.
    let page = docs.0.into_body().into_string().await.unwrap();
    assert!(page.contains("SwaggerUIBundle("), "no Swagger UI script");
    assert!(page.contains("\"/monitoring/pause\""), "no document");
}

#[tokio::test]
async fn a_taken_port_is_named() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let temp = tempfile::tempdir().unwrap();
    let paths = Paths::at(temp.path());
    let config = Config {
        web_server_port: port,
        ..Config::default()
    };
    let state = AppState::new(paths, config, Arc::new(AtomicBool::new(false)));
    let error = serve(state, std::future::pending()).await.unwrap_err();
    assert!(matches!(error, ServerError::PortInUse { port: p } if p == port));
    assert!(error
        .to_string()
        .contains(&format!("port {port} on 127.0.0.1 is already in use")));
}

#[tokio::test]
async fn the_extension_reports_traffic_per_hostname() {
    let temp = tempfile::tempdir().unwrap();
    let state = state(temp.path());
    let names = state.names();
    let client = client(&state);
    let report = serde_json::json!({
        "browser": "zen",
        "timestamp": 1_790_000_000,
        "hosts": [
            {"hostname": "API.Netflix.com", "remote_ip": "198.51.100.7", "requests": 3, "bytes_sent": 900, "bytes_received": 120000},
            {"hostname": "static.example", "requests": 1}
        ]
    });
    let accepted = client
        .post("/api/browser/requests")
        .header("host", HOST)
        .header(
            "origin",
            "moz-extension://6f1e0a3c-1111-2222-3333-444455556666",
        )
        .body_json(&report)
        .send()
        .await;
    accepted.assert_status(StatusCode::ACCEPTED);
    let netflix = state.host("api.netflix.com").expect("kept in lower case");
    let learned = names.lookup("198.51.100.7".parse().unwrap(), std::time::Instant::now());
    assert_eq!(
        learned.as_deref(),
        Some("api.netflix.com"),
        "the capture learns the IP's hostname"
    );
    assert_eq!(netflix.remote_ip, Some("198.51.100.7".parse().unwrap()));
    assert_eq!(netflix.bytes_received, 120_000);
    assert_eq!(state.host("static.example").unwrap().bytes_sent, 0);

    let bad = serde_json::json!({
        "browser": "zen",
        "timestamp": 1_790_000_000,
        "hosts": [
            {"hostname": "ok.example", "requests": 1},
            {"hostname": "https://x.example/path?q=1", "requests": 1},
            {"hostname": "y.example", "remote_ip": "not-an-ip", "requests": 1}
        ]
    });
    let refused = client
        .post("/api/browser/requests")
        .header("host", HOST)
        .body_json(&bad)
        .send()
        .await;
    refused.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    refused
        .json()
        .await
        .value()
        .object()
        .get("problems")
        .array()
        .assert_len(2);
    assert_eq!(
        state.host("ok.example"),
        None,
        "a refused report keeps nothing"
    );
}

fn to_netflix(usage: Usage) -> Usage {
    Usage {
        destination: Some(netmon_core::sample::Destination {
            host: "api.netflix.com".into(),
            domain: "netflix.com".into(),
            provenance: netmon_core::sample::Provenance::Sni,
        }),
        ..usage
    }
}

/// A server whose database holds two apps' usage in the last hours, with known bytes.
fn seeded(home: &std::path::Path) -> AppState {
    let paths = Paths::at(home);
    paths.ensure().unwrap();
    let mut store = netmon_core::store::Store::open(&paths.database()).unwrap();
    let now = netmon_core::clock::unix_ms();
    let usage = |app: &str, direction, bytes| Usage {
        app: app.into(),
        destination: None,
        direction,
        bytes,
        packets: 1,
    };
    let samples: Vec<Sample> = (1..=6)
        .map(|hours_ago| {
            let start_ms = now - hours_ago * 3_600_000;
            Sample {
                start_ms,
                end_ms: start_ms + 5000,
                usage: vec![
                    to_netflix(usage("zen", Direction::Received, 1_000_000)),
                    to_netflix(usage("zen", Direction::Sent, 10_000)),
                    usage("curl", Direction::Received, 500),
                ],
                processes: vec![],
                stats: SampleStats::default(),
            }
        })
        .collect();
    store.write(&samples).unwrap();
    let reader = netmon_core::store::Store::open(&paths.database()).unwrap();
    AppState::with_store(
        paths,
        Config::default(),
        Arc::new(AtomicBool::new(false)),
        reader,
    )
}

#[tokio::test]
async fn history_endpoints_answer_from_the_database() {
    let temp = tempfile::tempdir().unwrap();
    let client = client(&seeded(temp.path()));
    let apps = client
        .get("/api/apps")
        .query("range", &"24h")
        .header("host", HOST)
        .send()
        .await;
    apps.assert_status_is_ok();
    let json = apps.json().await;
    let list = json.value().array();
    list.assert_len(2);
    list.get(0).object().get("app").assert_string("zen");
    list.get(0).object().get("received").assert_i64(6_000_000);
    list.get(0).object().get("sent").assert_i64(60_000);
    list.get(1).object().get("received").assert_i64(3000);

    let timeline = client
        .get("/api/timeline")
        .header("host", HOST)
        .send()
        .await;
    timeline.assert_status_is_ok();
    let json = timeline.json().await;
    let body = json.value().object();
    body.get("bucket_ms").assert_i64(300_000);
    let points = body.get("points").array();
    let received: i64 = (0..points.len())
        .map(|i| points.get(i).object().get("received").i64())
        .sum();
    assert_eq!(received, 6_003_000);

    let domains = client.get("/api/domains").header("host", HOST).send().await;
    domains.assert_status_is_ok();
    let json = domains.json().await;
    let list = json.value().array();
    list.assert_len(1);
    let netflix = list.get(0).object();
    netflix.get("domain").assert_string("netflix.com");
    netflix.get("received").assert_i64(6_000_000);
    netflix.get("sent").assert_i64(60_000);
    netflix.get("hostnames").assert_i64(1);
    let provenance = netflix.get("provenance").object();
    provenance.get("sni").assert_i64(6_060_000);
    // Only the sources that named some bytes are listed.
    provenance.assert_len(1);

    let summary = client.get("/api/summary").header("host", HOST).send().await;
    summary.assert_status_is_ok();
    let json = summary.json().await;
    let month = json
        .value()
        .object()
        .get("month")
        .object()
        .get("received")
        .i64();
    assert!(month <= 6_003_000 && month > 0, "{month}");
}

#[tokio::test]
async fn detail_endpoints_answer_from_the_database() {
    let temp = tempfile::tempdir().unwrap();
    let client = client(&seeded(temp.path()));
    let get = |path: &'static str| client.get(path).header("host", HOST).send();

    let zen = get("/api/apps/zen").await;
    zen.assert_status_is_ok();
    let json = zen.json().await;
    let detail = json.value().object();
    detail.get("app").assert_string("zen");
    let points = detail.get("points").array();
    let received: i64 = (0..points.len())
        .map(|i| points.get(i).object().get("received").i64())
        .sum();
    assert_eq!(received, 6_000_000, "zen's bytes only");
    let domains = detail.get("domains").array();
    domains.assert_len(1);
    domains
        .get(0)
        .object()
        .get("domain")
        .assert_string("netflix.com");
    domains
        .get(0)
        .object()
        .get("received")
        .assert_i64(6_000_000);
    get("/api/apps/nobody")
        .await
        .assert_status(StatusCode::NOT_FOUND);

    let hosts = get("/api/domains/netflix.com/hostnames").await;
    hosts.assert_status_is_ok();
    let json = hosts.json().await;
    let list = json.value().array();
    list.assert_len(1);
    list.get(0)
        .object()
        .get("hostname")
        .assert_string("api.netflix.com");
    list.get(0).object().get("sent").assert_i64(60_000);

    let heatmap = get("/api/heatmap").await;
    heatmap.assert_status_is_ok();
    let json = heatmap.json().await;
    let rows = json.value().object().get("bytes").array();
    rows.assert_len(7);
    let total: i64 = (0..7)
        .flat_map(|day| {
            let hours = rows.get(day).array();
            (0..24)
                .map(move |hour| hours.get(hour).i64())
                .collect::<Vec<_>>()
        })
        .sum();
    assert_eq!(total, 6 * (1_000_000 + 10_000 + 500));
    let heatmap = json.value().object();
    heatmap.get("weekdays").array().assert_len(7);
    heatmap
        .get("max_bytes")
        .assert_i64(1_000_000 + 10_000 + 500);

    let weeks = get("/api/trends/weekly").await;
    weeks.assert_status_is_ok();
    let json = weeks.json().await;
    let list = json.value().array();
    list.assert_len(12);
    let received: i64 = (0..12)
        .map(|i| list.get(i).object().get("received").i64())
        .sum();
    assert_eq!(received, 6_003_000);

    let months = get("/api/trends/months").await;
    months.assert_status_is_ok();
    let json = months.json().await;
    let body = json.value().object();
    let this_month = body.get("this_month").object().get("received").i64();
    let previous = body.get("previous_month").object().get("received").i64();
    assert_eq!(
        this_month + previous,
        6_003_000,
        "six hours ago falls in this or the previous month"
    );

    client
        .get("/api/trends/weekly")
        .query("weeks", &0)
        .header("host", HOST)
        .send()
        .await
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn history_parameters_are_checked() {
    let temp = tempfile::tempdir().unwrap();
    let client = client(&seeded(temp.path()));
    for query in [
        vec![("range", "1y")],
        vec![("start_ms", "10"), ("end_ms", "5")],
        vec![("start_ms", "10")],
        vec![("limit", "0")],
    ] {
        let mut request = client.get("/api/apps").header("host", HOST);
        for (key, value) in &query {
            request = request.query(*key, value);
        }
        let response = request.send().await;
        response.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    }
    // The CLI's grammar: any duration back from now, or a local date, until now.
    for (range, span_ms) in [("2w", 14 * 86_400_000), ("90m", 90 * 60_000)] {
        let timeline = client
            .get("/api/timeline")
            .query("range", &range)
            .header("host", HOST)
            .send()
            .await;
        timeline.assert_status_is_ok();
        let json = timeline.json().await;
        let body = json.value().object();
        let span = body.get("end_ms").i64() - body.get("start_ms").i64();
        assert_eq!(span, span_ms, "{range}: until now");
    }
    client
        .get("/api/apps")
        .query("range", &"2026-01-01")
        .header("host", HOST)
        .send()
        .await
        .assert_status_is_ok();
    let without_db = state(temp.path());
    let response = TestClient::new(app(without_db))
        .get("/api/summary")
        .header("host", HOST)
        .send()
        .await;
    response.assert_status(StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn config_document_holds_every_key() {
    let temp = tempfile::tempdir().unwrap();
    let client = client(&state(temp.path()));
    let response = client.get("/api/config").header("host", HOST).send().await;
    response.assert_status_is_ok();
    let json = response.json().await;
    let config = json.value().object();
    let defaults = Config::default();
    config
        .get("web_server_port")
        .assert_i64(i64::from(defaults.web_server_port));
    config
        .get("sampling_interval_seconds")
        .assert_i64(defaults.sampling_interval_seconds as i64);
    config
        .get("domain_rollup")
        .assert_bool(defaults.domain_rollup);
    config
        .get("capture_interface")
        .assert_string(&defaults.capture_interface);
    let expected = serde_json::to_value(&defaults).unwrap();
    for key in ["log_level", "capture_method", "domain_tracking"] {
        config
            .get(key)
            .assert_string(expected[key].as_str().unwrap());
    }
    config
        .get("browser_apps")
        .array()
        .assert_len(defaults.browser_apps.len());
}

#[tokio::test]
async fn the_browser_view_shows_what_the_extension_reported() {
    let temp = tempfile::tempdir().unwrap();
    let state = state(temp.path());
    let client = client(&state);
    let post = |path: &'static str, body: serde_json::Value| {
        client
            .post(path)
            .header("host", HOST)
            .body_json(&body)
            .send()
    };
    post(
        "/api/browser/active-tab",
        serde_json::json!({"domain": "www.YouTube.com", "timestamp": 1_790_000_000, "browser": "zen"}),
    )
    .await
    .assert_status(StatusCode::ACCEPTED);
    for sent in [100, 250] {
        post(
            "/api/browser/requests",
            serde_json::json!({"browser": "zen", "timestamp": 1_790_000_000, "hosts": [
                {"hostname": "rr1.googlevideo.com", "remote_ip": "203.0.113.9", "requests": 2, "bytes_sent": sent, "bytes_received": 5000}
            ]}),
        )
        .await
        .assert_status(StatusCode::ACCEPTED);
    }
    post(
        "/api/browser/active-tab",
        serde_json::json!({"domain": "https://netflix.com/watch?v=1", "timestamp": 1_790_000_000, "browser": "zen"}),
    )
    .await
    .assert_status(StatusCode::UNPROCESSABLE_ENTITY);

    let response = client.get("/api/browser").header("host", HOST).send().await;
    response.assert_status_is_ok();
    let json = response.json().await;
    let view = json.value().object();
    view.get("reports_accepted").assert_i64(3);
    view.get("reports_rejected").assert_i64(1);
    let tab = view.get("active_tab").object();
    tab.get("domain").assert_string("www.youtube.com");
    tab.get("timestamp").assert_i64(1_790_000_000);
    tab.get("browser").assert_string("zen");
    let hosts = view.get("hosts").array();
    hosts.assert_len(1);
    let host = hosts.get(0).object();
    host.get("hostname").assert_string("rr1.googlevideo.com");
    host.get("remote_ip").assert_string("203.0.113.9");
    host.get("requests").assert_i64(4);
    host.get("bytes_sent").assert_i64(350);
    host.get("bytes_received").assert_i64(10_000);
}

#[tokio::test]
async fn status_counts_samples_and_measures_the_database() {
    let temp = tempfile::tempdir().unwrap();
    let state = seeded(temp.path());
    state.set_source("pcap on lo");
    let sample = Sample {
        start_ms: 0,
        end_ms: 1000,
        usage: vec![],
        processes: vec![],
        stats: SampleStats {
            dropped_packets: 7,
            ..SampleStats::default()
        },
    };
    state.publish(sample.clone());
    state.publish(sample);
    state.record_error("capture: interface went away");
    let client = client(&state);
    client
        .post("/api/monitoring/pause")
        .header("host", HOST)
        .content_type("application/json")
        .body("{}")
        .send()
        .await
        .assert_status_is_ok();
    let response = client.get("/api/status").header("host", HOST).send().await;
    response.assert_status_is_ok();
    let json = response.json().await;
    let status = json.value().object();
    status.get("samples").assert_i64(2);
    status.get("dropped_packets").assert_i64(14);
    status.get("paused").assert_bool(true);
    status.get("capture_source").assert_string("pcap on lo");
    status
        .get("last_error")
        .assert_string("capture: interface went away");
    status
        .get("version")
        .assert_string(env!("CARGO_PKG_VERSION"));
    let size = std::fs::metadata(Paths::at(temp.path()).database())
        .unwrap()
        .len();
    status.get("database_bytes").assert_i64(size as i64);
    status.get("privileged").assert_bool(runs_as_root());
}

/// Whether the tests run as root, as `id -u` tells.
fn runs_as_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
        .unwrap_or(false)
}

fn from_evil<E: Endpoint>(
    request: poem::test::TestRequestBuilder<'_, E>,
) -> poem::test::TestRequestBuilder<'_, E> {
    request
        .header("host", HOST)
        .header("origin", "https://evil.example")
}

#[tokio::test]
async fn foreign_origins_store_nothing_anywhere() {
    let temp = tempfile::tempdir().unwrap();
    let state = state(temp.path());
    let client = client(&state);
    let requests = serde_json::json!({"browser": "zen", "timestamp": 1_790_000_000,
        "hosts": [{"hostname": "evil.example", "requests": 1}]});
    from_evil(client.post("/api/browser/requests"))
        .body_json(&requests)
        .send()
        .await
        .assert_status(StatusCode::FORBIDDEN);
    from_evil(client.put("/api/config"))
        .body_json(&serde_json::json!({"domain_rollup": false}))
        .send()
        .await
        .assert_status(StatusCode::FORBIDDEN);
    from_evil(client.post("/api/monitoring/pause"))
        .body_json(&serde_json::json!({}))
        .send()
        .await
        .assert_status(StatusCode::FORBIDDEN);
    assert_eq!(state.hosts(), vec![]);
    assert_eq!(
        state.report_counts(),
        (0, 0),
        "refused before any handler ran"
    );
    assert!(state.config().domain_rollup);
    assert!(
        !Paths::at(temp.path()).config().exists(),
        "config.json untouched"
    );
    assert!(!state.paused());
}

#[tokio::test]
async fn urls_as_domains_are_refused_and_nothing_is_stored() {
    let temp = tempfile::tempdir().unwrap();
    let state = state(temp.path());
    let client = client(&state);
    let refused = client
        .post("/api/browser/active-tab")
        .header("host", HOST)
        .header("origin", "moz-extension://6f1e0a3c-1111-2222-3333-444455556666")
        .body_json(&serde_json::json!({"domain": "https://netflix.com/watch?v=1", "timestamp": 1_790_000_000, "browser": "zen"}))
        .send()
        .await;
    refused.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let json = refused.json().await;
    let problems = json.value().object().get("problems").array();
    problems.assert_len(1);
    assert!(problems
        .get(0)
        .string()
        .contains("https://netflix.com/watch?v=1"));
    assert_eq!(state.active_tab(), None);
    assert_eq!(state.report_counts(), (0, 1));
}

/// The extension's hostnames follow core's one hostname rule: an IP address is not a hostname
/// (core would drop it, so it must not reach `/api/browser` totals either); `_` and IDN names are.
#[tokio::test]
async fn reported_hostnames_follow_the_one_hostname_rule() {
    let temp = tempfile::tempdir().unwrap();
    let state = state(temp.path());
    let client = client(&state);
    let report = |hostname: &str| {
        serde_json::json!({
            "browser": "zen",
            "timestamp": 1_790_000_000,
            "hosts": [{"hostname": hostname, "requests": 1}]
        })
    };
    for address in ["1.2.3.4", "2001:db8::1", "[2001:db8::1]", "10.0.0.1."] {
        let refused = client
            .post("/api/browser/requests")
            .header("host", HOST)
            .body_json(&report(address))
            .send()
            .await;
        refused.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
        let json = refused.json().await;
        let problems = json.value().object().get("problems").array();
        problems.assert_len(1);
        assert!(
            problems.get(0).string().contains("not a hostname"),
            "{address}"
        );
        let tab = client
            .post("/api/browser/active-tab")
            .header("host", HOST)
            .body_json(&serde_json::json!({"domain": address, "timestamp": 1_790_000_000, "browser": "zen"}))
            .send()
            .await;
        tab.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    }
    assert!(state.hosts().is_empty(), "no address was kept");
    assert_eq!(state.active_tab(), None);
    for (hostname, kept) in [
        ("_dmarc.Example.com", "_dmarc.example.com"),
        ("WWW.Bücher.de.", "www.bücher.de"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ] {
        client
            .post("/api/browser/requests")
            .header("host", HOST)
            .body_json(&report(hostname))
            .send()
            .await
            .assert_status(StatusCode::ACCEPTED);
        assert!(state.host(kept).is_some(), "{hostname} kept as {kept}");
    }
}

#[tokio::test]
async fn app_detail_names_processes_and_executable() {
    let temp = tempfile::tempdir().unwrap();
    let paths = Paths::at(temp.path());
    paths.ensure().unwrap();
    let now = netmon_core::clock::unix_ms();
    let process = |pid, at_ms: i64| {
        (
            at_ms,
            netmon_core::sample::ProcessSeen {
                pid,
                app: "zen".into(),
                name: "zen-bin".into(),
                exe: Some("/opt/zen/zen-bin".into()),
            },
        )
    };
    let samples: Vec<Sample> = [
        process(4242, now - 7_200_000),
        process(4343, now - 3_600_000),
    ]
    .into_iter()
    .map(|(start_ms, seen)| Sample {
        start_ms,
        end_ms: start_ms + 5000,
        usage: vec![Usage {
            app: "zen".into(),
            destination: None,
            direction: Direction::Sent,
            bytes: 700,
            packets: 1,
        }],
        processes: vec![seen],
        stats: SampleStats::default(),
    })
    .collect();
    netmon_core::store::Store::open(&paths.database())
        .unwrap()
        .write(&samples)
        .unwrap();
    let reader = netmon_core::store::Store::open(&paths.database()).unwrap();
    let state = AppState::with_store(
        paths,
        Config::default(),
        Arc::new(AtomicBool::new(false)),
        reader,
    );
    let response = client(&state)
        .get("/api/apps/zen")
        .query("range", &"7d")
        .header("host", HOST)
        .send()
        .await;
    response.assert_status_is_ok();
    let json = response.json().await;
    let detail = json.value().object();
    detail.get("exe").assert_string("/opt/zen/zen-bin");
    detail.get("bucket_ms").assert_i64(3_600_000);
    detail
        .get("first_seen_ms")
        .assert_i64(now - 7_200_000 + 5000); // the end of its first sample
    let processes = detail.get("processes").array();
    processes.assert_len(2);
    processes.get(0).object().get("pid").assert_i64(4343);
    processes
        .get(0)
        .object()
        .get("name")
        .assert_string("zen-bin");
    processes.get(1).object().get("pid").assert_i64(4242);
    let points = detail.get("points").array();
    let sent: i64 = (0..points.len())
        .map(|i| points.get(i).object().get("sent").i64())
        .sum();
    assert_eq!(sent, 1400);
}

#[tokio::test]
async fn summary_counts_today_from_local_midnight() {
    let temp = tempfile::tempdir().unwrap();
    let paths = Paths::at(temp.path());
    paths.ensure().unwrap();
    let now = netmon_core::clock::unix_ms();
    let mut store = netmon_core::store::Store::open(&paths.database()).unwrap();
    let midnight = netmon_core::store::local_day_start(now, store.zone());
    let sample = |start_ms: i64, bytes| Sample {
        start_ms,
        end_ms: start_ms + 1000,
        usage: vec![Usage {
            app: "zen".into(),
            destination: None,
            direction: Direction::Received,
            bytes,
            packets: 1,
        }],
        processes: vec![],
        stats: SampleStats::default(),
    };
    // One sample earlier today, one an hour before midnight.
    let today = midnight + (now - midnight) / 2 - 1000;
    store
        .write(&[sample(today, 4_000), sample(midnight - 3_600_000, 900)])
        .unwrap();
    let state = AppState::with_store(
        paths.clone(),
        Config::default(),
        Arc::new(AtomicBool::new(false)),
        netmon_core::store::Store::open(&paths.database()).unwrap(),
    );
    let response = client(&state)
        .get("/api/summary")
        .header("host", HOST)
        .send()
        .await;
    response.assert_status_is_ok();
    let json = response.json().await;
    let summary = json.value().object();
    summary
        .get("today")
        .object()
        .get("received")
        .assert_i64(4_000);
    summary.get("today").object().get("sent").assert_i64(0);
    for period in ["week", "month"] {
        let received = summary.get(period).object().get("received").i64();
        assert!(
            received == 4_000 || received == 4_900,
            "{period}: {received}, today's bytes and perhaps yesterday's"
        );
    }
}

#[tokio::test]
async fn unparseable_requests_get_a_plain_text_reason() {
    let temp = tempfile::tempdir().unwrap();
    let client = client(&state(temp.path()));
    let response = client
        .get("/api/apps")
        .query("limit", &"many")
        .header("host", HOST)
        .send()
        .await;
    response.assert_status(StatusCode::BAD_REQUEST);
    response.assert_content_type("text/plain; charset=utf-8");
    let reason = response.0.into_body().into_string().await.unwrap();
    assert!(reason.contains("limit"), "{reason}");
    let spec = client
        .get("/api/openapi.json")
        .header("host", HOST)
        .send()
        .await;
    let spec: serde_json::Value =
        serde_json::from_str(&spec.0.into_body().into_string().await.unwrap()).unwrap();
    let apps = &spec["paths"]["/apps"]["get"]["responses"];
    assert!(apps["400"].is_object() && apps["403"].is_object(), "{apps}");
    let live = &spec["paths"]["/live"]["get"]["responses"]["200"]["content"];
    assert_eq!(
        live["text/event-stream"]["schema"]["properties"]["data"]["contentSchema"]["$ref"],
        "#/components/schemas/LiveSample"
    );
}

#[tokio::test]
async fn purge_deletes_history_before_a_date_or_a_duration_or_all_of_it() {
    let temp = tempfile::tempdir().unwrap();
    let state = seeded(temp.path());
    let client = client(&state);
    let purge = |body: serde_json::Value| {
        client
            .post("/api/purge")
            .header("host", HOST)
            .content_type("application/json")
            .body(body.to_string())
            .send()
    };
    let received = |state: &AppState| {
        state
            .with_history(|store| {
                let range = netmon_core::store::Range {
                    start_ms: 0,
                    end_ms: i64::MAX / 2,
                };
                store.top_apps(range, 10).unwrap()
            })
            .unwrap()
            .iter()
            .map(|app| app.received)
            .sum::<u64>()
    };
    assert_eq!(received(&state), 6_003_000);

    for bad in ["2026-02-30", "yesterday", "2026/01/01", "1y"] {
        let refused = purge(serde_json::json!({ "before": bad })).await;
        refused.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
        let json = refused.json().await;
        let problem = json
            .value()
            .object()
            .get("problems")
            .array()
            .get(0)
            .string()
            .to_string();
        assert_eq!(
            problem,
            format!("\"before\" {bad:?}: give a duration such as 24h, 7d, 90m or 2w, or a date such as 2026-11-01"),
            "the CLI's wording"
        );
    }
    assert_eq!(
        received(&state),
        6_003_000,
        "a refused purge deletes nothing"
    );

    let old = purge(serde_json::json!({ "before": "2021-01-01" })).await;
    old.assert_status_is_ok();
    old.assert_json(serde_json::json!({ "rows_deleted": 0 }))
        .await;
    assert_eq!(received(&state), 6_003_000, "nothing was that old");

    // A duration back from now, as `netmon purge --before` takes: the samples of 4, 5 and 6
    // hours ago go, those of 1, 2 and 3 hours ago stay.
    let older = purge(serde_json::json!({ "before": "210m" })).await;
    older.assert_status_is_ok();
    assert_eq!(received(&state), 3 * 1_000_500);

    let everything = purge(serde_json::json!({ "before": null })).await;
    everything.assert_status_is_ok();
    let json = everything.json().await;
    assert!(
        json.value().object().get("rows_deleted").i64() >= 9,
        "9 of the 18 usage rows written were left"
    );
    assert_eq!(received(&state), 0);

    let again = purge(serde_json::json!({})).await;
    again
        .assert_json(serde_json::json!({ "rows_deleted": 0 }))
        .await;
}

#[tokio::test]
async fn ranges_beyond_the_calendar_are_refused() {
    let temp = tempfile::tempdir().unwrap();
    let client = TestClient::new(app(seeded(temp.path())));
    for query in [
        "start_ms=-9223372036854775808&end_ms=9223372036854775807",
        "start_ms=0&end_ms=9223372036854775807",
    ] {
        let response = client
            .get(format!("/api/timeline?{query}"))
            .header("host", HOST)
            .send()
            .await;
        response.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    }
}

/// The database file deleted under the daemon and started anew (as the daemon's writer does):
/// the API reads the new file, not the removed one it had open.
#[tokio::test]
async fn a_replaced_database_file_is_read_anew() {
    let temp = tempfile::tempdir().unwrap();
    let paths = Paths::at(temp.path());
    paths.ensure().unwrap();
    let now = netmon_core::clock::unix_ms();
    let sample = |app: &str| Sample {
        start_ms: now - 60_000,
        end_ms: now - 55_000,
        usage: vec![Usage {
            app: app.into(),
            destination: None,
            direction: Direction::Received,
            bytes: 1000,
            packets: 1,
        }],
        processes: vec![],
        stats: SampleStats::default(),
    };
    let write = |app: &str| {
        netmon_core::store::Store::open(&paths.database())
            .unwrap()
            .write(&[sample(app)])
            .unwrap()
    };
    write("before");
    let reader = netmon_core::store::Store::open(&paths.database()).unwrap();
    let state = AppState::with_store(
        paths.clone(),
        Config::default(),
        Arc::new(AtomicBool::new(false)),
        reader,
    );
    let apps = || async {
        let response = client(&state)
            .get("/api/apps")
            .query("range", &"24h")
            .header("host", HOST)
            .send()
            .await;
        response.assert_status_is_ok();
        let json = response.json().await;
        let apps = json.value().array();
        (0..apps.len())
            .map(|i| apps.get(i).object().get("app").string().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(apps().await, ["before"]);
    std::fs::remove_file(paths.database()).unwrap();
    write("after");
    assert_eq!(apps().await, ["after"]);
}
