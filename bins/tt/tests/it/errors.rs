//! Errors: exit code 2 and a message that names the next command.

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{RUN_A, SPEC_ID, Tt, code, output, stderr, stdout};

fn error_body(code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message}})
}

#[tokio::test]
async fn without_a_key_the_cli_exits_2_and_names_the_login_command() {
    let tt = Tt::new();
    let server = MockServer::start().await;
    let out = output(tt.command(Some(&server), &["balance"])).await;
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("tt auth login <key>"), "{}", stderr(&out));
    assert!(stderr(&out).contains("TT_API_KEY"));
}

#[tokio::test]
async fn a_401_names_the_login_command() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/billing/balance"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(error_body("unauthorized", "unknown API key")),
        )
        .mount(&server)
        .await;
    let out = Tt::new().run(&server, &["balance"]).await;
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("unknown API key"));
    assert!(
        stderr(&out).contains("run `tt auth login <key>` or set TT_API_KEY"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn a_402_names_both_top_up_commands_with_the_missing_amount() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/api/v1/behavior-specs/{SPEC_ID}/runs")))
        .respond_with(ResponseTemplate::new(402).set_body_json(json!({"error": {
            "code": "insufficient_credits",
            "message": "This run is estimated at $0.42 but you have $0.10 available.",
            "details": {"required_cents": 42, "available_cents": 10, "topup_url": "/dashboard/billing"}}})))
        .mount(&server)
        .await;
    let out = Tt::new().run(&server, &["runs", "start", SPEC_ID]).await;
    assert_eq!(code(&out), 2);
    let text = stderr(&out);
    assert!(
        text.contains("This run is estimated at $0.42 but you have $0.10 available."),
        "{text}"
    );
    assert!(text.contains("tt topup --cents 32"), "{text}");
    assert!(text.contains("tt-server admin topup --account ID --cents 32"), "{text}");
}

#[tokio::test]
async fn an_unreachable_server_is_named_with_a_hint_to_start_tt_server() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let tt = Tt::new();
    let mut command = tt.command(None, &["-k", crate::KEY, "-u", &base_url, "runs", "list"]);
    command.env_remove("TT_BASE_URL");
    let out = output(command).await;
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains(&base_url), "{}", stderr(&out));
    assert!(stderr(&out).contains("tt-server"));
}

#[tokio::test]
async fn a_404_names_the_list_command_and_json_mode_prints_the_error_object() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/api/v1/runs/{RUN_A}")))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(error_body("not_found", "run not found")),
        )
        .mount(&server)
        .await;
    let tt = Tt::new();
    let human = tt.run(&server, &["runs", "get", RUN_A]).await;
    assert_eq!(code(&human), 2);
    assert!(stderr(&human).contains("tt runs list"), "{}", stderr(&human));

    let machine = tt.run(&server, &["--json", "runs", "get", RUN_A]).await;
    assert_eq!(code(&machine), 2);
    let value: Value = serde_json::from_str(&stdout(&machine)).unwrap();
    assert_eq!(value["error"]["code"], "not_found");
    assert_eq!(value["error"]["message"], "run not found");
    assert!(value["error"]["hint"].as_str().unwrap().contains("tt runs list"));
}

#[tokio::test]
async fn a_non_admin_topup_names_the_server_admin_command() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/billing/topup"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(error_body("forbidden", "top-ups need an admin key")),
        )
        .mount(&server)
        .await;
    let out = Tt::new().run(&server, &["topup", "--cents", "500"]).await;
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("tt-server admin topup"), "{}", stderr(&out));
}

#[tokio::test]
async fn bad_usage_exits_2() {
    let server = MockServer::start().await;
    let tt = Tt::new();
    assert_eq!(code(&tt.run(&server, &["runs", "frobnicate"]).await), 2);
    let out = tt.run(&server, &["runs", "start", SPEC_ID, "--epochs", "50"]).await;
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("n_epochs must be 1–20"), "{}", stderr(&out));
    let short = tt.run(&server, &["runs", "get", "ab"]).await;
    assert_eq!(code(&short), 2);
    assert!(stderr(&short).contains("at least 4 characters"), "{}", stderr(&short));
}
