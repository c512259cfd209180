//! `tt auth`, the credentials file and key precedence.

use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{KEY, OTHER_KEY, Tt, code, output, stderr, stdout};

async fn server_knowing_both_keys() -> MockServer {
    let server = MockServer::start().await;
    for (key, available) in [(KEY, 111), (OTHER_KEY, 222)] {
        Mock::given(method("GET"))
            .and(path("/api/v1/billing/balance"))
            .and(header("authorization", format!("Bearer {key}").as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
                "balance_cents": available, "reserved_cents": 0, "available_cents": available, "lifetime_topup_cents": available}})))
            .mount(&server)
            .await;
    }
    server
}

fn available(out: &std::process::Output) -> i64 {
    let value: Value =
        serde_json::from_str(&stdout(out)).unwrap_or_else(|_| panic!("{}", stderr(out)));
    value["available_cents"].as_i64().unwrap()
}

#[cfg(unix)]
#[tokio::test]
async fn login_writes_a_private_credentials_file_that_status_reports_and_logout_deletes() {
    use std::os::unix::fs::PermissionsExt;

    let tt = Tt::new();
    let server = server_knowing_both_keys().await;
    let login = output(tt.command(None, &["auth", "login", KEY])).await;
    assert_eq!(code(&login), 0, "{}", stderr(&login));

    let file = tt.config_dir().join("tt").join("credentials.toml");
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(file.parent().unwrap()), 0o700);
    assert!(std::fs::read_to_string(&file).unwrap().contains(KEY));

    let status = output(tt.command(Some(&server), &["auth", "status"])).await;
    assert_eq!(code(&status), 0, "{}", stderr(&status));
    assert!(stdout(&status).contains("credentials file"), "{}", stdout(&status));
    assert!(stdout(&status).contains(&file.display().to_string()));
    assert!(!stdout(&status).contains(KEY), "the secret part must not be shown");

    let logout = output(tt.command(None, &["auth", "logout"])).await;
    assert_eq!(code(&logout), 0);
    assert!(!file.exists());
    let again = output(tt.command(None, &["auth", "logout"])).await;
    assert_eq!(code(&again), 0);
    assert!(stdout(&again).contains("Not logged in"));
}

#[tokio::test]
async fn the_flag_beats_the_environment_which_beats_the_file() {
    let tt = Tt::new();
    let server = server_knowing_both_keys().await;
    assert_eq!(code(&output(tt.command(None, &["auth", "login", OTHER_KEY])).await), 0);

    let from_file = output(tt.command(Some(&server), &["--json", "balance"])).await;
    assert_eq!(available(&from_file), 222);

    let mut with_env = tt.command(Some(&server), &["--json", "balance"]);
    with_env.env("TT_API_KEY", KEY);
    assert_eq!(available(&output(with_env).await), 111);

    let mut legacy_env = tt.command(Some(&server), &["--json", "balance"]);
    legacy_env.env("TUNED_TENSOR_API_KEY", KEY);
    assert_eq!(available(&output(legacy_env).await), 111);

    let mut flag_and_env = tt.command(Some(&server), &["--json", "-k", OTHER_KEY, "balance"]);
    flag_and_env.env("TT_API_KEY", KEY);
    assert_eq!(available(&output(flag_and_env).await), 222);

    let mut status = tt.command(Some(&server), &["auth", "status"]);
    status.env("TT_API_KEY", KEY);
    assert!(stdout(&output(status).await).contains("TT_API_KEY"));
}

#[tokio::test]
async fn a_malformed_key_is_refused_at_login() {
    let tt = Tt::new();
    let login = output(tt.command(None, &["auth", "login", "not-a-key"])).await;
    assert_eq!(code(&login), 2);
    assert!(!tt.config_dir().join("tt").join("credentials.toml").exists());
}
