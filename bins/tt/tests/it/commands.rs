//! Output formats, ID prefixes, `runs diff` and `datasets check`.

use std::io::Write;
use std::process::Stdio;

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{
    RUN_A, RUN_B, SPEC_ID, Tt, code, eval_json, list, output, run_json, spec_json, stderr, stdout,
};

#[tokio::test]
async fn lists_print_tab_separated_rows_when_piped_and_one_json_array_with_json() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/behavior-specs"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(list(vec![spec_json(SPEC_ID, "Support bot")])),
        )
        .mount(&server)
        .await;
    let tt = Tt::new();

    let table = tt.run(&server, &["specs", "list"]).await;
    assert_eq!(code(&table), 0, "{}", stderr(&table));
    let text = stdout(&table);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0].split('\t').collect::<Vec<_>>(),
        ["ID", "NAME", "BASE MODEL", "EXAMPLES", "RUNS", "LATEST", "SCORE"]
    );
    assert_eq!(
        lines[1].split('\t').collect::<Vec<_>>(),
        [SPEC_ID, "Support bot", "tt-local/tiny", "1", "2", "completed", "0.82"]
    );

    let json_out = tt.run(&server, &["--json", "specs", "list"]).await;
    let value: Value = serde_json::from_str(&stdout(&json_out)).unwrap();
    assert_eq!(value[0]["id"], SPEC_ID);
    assert_eq!(value[0]["_run_count"], 2);
}

async fn server_with_runs(a_evals: Vec<Value>, b_evals: Vec<Value>) -> MockServer {
    let server = MockServer::start().await;
    let similar = "aaaa1112-2c65-4199-89a1-fc54a6a6010c";
    Mock::given(method("GET"))
        .and(path("/api/v1/runs"))
        .respond_with(ResponseTemplate::new(200).set_body_json(list(vec![
            run_json(RUN_A, "completed"),
            run_json(similar, "failed"),
            run_json(RUN_B, "completed"),
        ])))
        .mount(&server)
        .await;
    for (id, evals) in [(RUN_A, a_evals), (RUN_B, b_evals)] {
        let mut run = run_json(id, "completed");
        run["_evals"] = json!(evals);
        Mock::given(method("GET"))
            .and(path(format!("/api/v1/runs/{id}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": run})))
            .mount(&server)
            .await;
    }
    server
}

#[tokio::test]
async fn an_unambiguous_prefix_resolves_and_an_ambiguous_one_lists_the_candidates() {
    let server = server_with_runs(vec![eval_json("ex_1", "What is 2+2?", 0.4)], vec![]).await;
    let tt = Tt::new();

    let found = tt.run(&server, &["runs", "get", "AAAA1111"]).await;
    assert_eq!(code(&found), 0, "{}", stderr(&found));
    assert!(stdout(&found).contains(RUN_A));
    assert!(
        stdout(&found).contains("What is 2+2?"),
        "worst examples are shown: {}",
        stdout(&found)
    );

    let ambiguous = tt.run(&server, &["runs", "get", "aaaa"]).await;
    assert_eq!(code(&ambiguous), 2);
    let text = stderr(&ambiguous);
    assert!(text.contains("matches 2 runs"), "{text}");
    assert!(
        text.contains(RUN_A) && text.contains("aaaa1112-2c65-4199-89a1-fc54a6a6010c"),
        "{text}"
    );

    let missing = tt.run(&server, &["runs", "get", "cccc"]).await;
    assert_eq!(code(&missing), 2);
    assert!(stderr(&missing).contains("tt runs list"));
}

#[tokio::test]
async fn diff_exits_1_when_b_regressed_and_marks_each_example() {
    let server = server_with_runs(
        vec![
            eval_json("ex_1", "falls", 0.8),
            eval_json("ex_2", "rises", 0.5),
            eval_json("ex_3", "holds", 0.9),
        ],
        vec![
            eval_json("ex_1", "falls", 0.7),
            eval_json("ex_2", "rises", 0.9),
            eval_json("ex_3", "holds", 0.85),
        ],
    )
    .await;
    let tt = Tt::new();

    let out = tt.run(&server, &["runs", "diff", RUN_A, RUN_B]).await;
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let text = stdout(&out);
    let row = |prompt: &str| text.lines().find(|line| line.starts_with(prompt)).unwrap().to_owned();
    assert!(row("falls").contains("regression"), "a drop of exactly 0.1 counts: {text}");
    assert!(row("rises").contains("improvement"), "{text}");
    assert!(!row("holds").contains("regression"), "{text}");

    let json_out = tt.run(&server, &["--json", "runs", "diff", RUN_A, RUN_B]).await;
    assert_eq!(code(&json_out), 1);
    let value: Value = serde_json::from_str(&stdout(&json_out)).unwrap();
    assert_eq!((value["regressions"].as_u64(), value["improvements"].as_u64()), (Some(1), Some(1)));
}

#[tokio::test]
async fn diff_exits_0_without_regressions() {
    let server = server_with_runs(
        vec![eval_json("ex_1", "same", 0.8)],
        vec![eval_json("ex_1", "same", 0.75)],
    )
    .await;
    let out = Tt::new().run(&server, &["runs", "diff", RUN_A, RUN_B]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

fn write_file(dir: &std::path::Path, name: &str, text: &str) -> String {
    let file = dir.join(name);
    std::fs::File::create(&file).unwrap().write_all(text.as_bytes()).unwrap();
    file.display().to_string()
}

const GOOD_ROW: &str =
    r#"{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}"#;

#[tokio::test]
async fn datasets_check_reports_every_bad_line_by_number_without_a_server() {
    let tt = Tt::new();
    let dir = tempfile::tempdir().unwrap();
    let bad = write_file(
        dir.path(),
        "bad.jsonl",
        &format!("{GOOD_ROW}\nnot json\n\n{{\"messages\":[]}}\n{GOOD_ROW}\n"),
    );
    let out = output(tt.command(None, &["datasets", "check", &bad])).await;
    assert_eq!(code(&out), 1);
    let lines: Vec<String> = stdout(&out).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with(&format!("{bad}:2: not valid JSON")), "{lines:?}");
    assert!(lines[1].starts_with(&format!("{bad}:4: ")), "{lines:?}");

    let json_out = output(tt.command(None, &["--json", "datasets", "check", &bad])).await;
    let value: Value = serde_json::from_str(&stdout(&json_out)).unwrap();
    assert_eq!(value["issues"][1]["line"], 4);
    assert_eq!(value["valid_rows"], 2);

    let good = write_file(dir.path(), "good.jsonl", &format!("{GOOD_ROW}\n"));
    assert_eq!(code(&output(tt.command(None, &["datasets", "check", &good])).await), 0);
}

#[tokio::test]
async fn a_closed_stdout_counts_as_success() {
    let tt = Tt::new();
    let dir = tempfile::tempdir().unwrap();
    // Far more output than a pipe buffers, so that `tt` is still writing when the reader goes.
    let bad = write_file(dir.path(), "many.jsonl", &"not json at all\n".repeat(20_000));
    let mut command = tt.command(None, &["datasets", "check", &bad]);
    command.stdout(Stdio::piped()).stderr(Stdio::null());
    let status = tokio::task::spawn_blocking(move || {
        let mut child = command.spawn().unwrap();
        drop(child.stdout.take());
        child.wait().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(status.code(), Some(0));
}

#[tokio::test]
async fn specs_create_drops_server_fields_and_refuses_a_run_file() {
    use wiremock::matchers::body_json;

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/behavior-specs"))
        .and(body_json(json!({"name": "Support bot", "description": "", "system_prompt": "", "guidelines": [],
            "constraints": [], "examples": [{"input": "Hi", "output": "Hello."}], "base_model": "tt-local/tiny"})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"data": spec_json(SPEC_ID, "Support bot")})))
        .expect(1)
        .mount(&server)
        .await;
    let tt = Tt::new();
    let dir = tempfile::tempdir().unwrap();

    // A file saved from `tt specs get --json` carries the server's fields.
    let saved = write_file(dir.path(), "spec.json", &spec_json(SPEC_ID, "Support bot").to_string());
    let out = tt.run(&server, &["specs", "create", "--file", &saved]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("Support bot"));

    let run_file = write_file(dir.path(), "run.json", &run_json(RUN_A, "completed").to_string());
    let refused = tt.run(&server, &["specs", "create", "--file", &run_file]).await;
    assert_eq!(code(&refused), 2);
    assert!(stderr(&refused).contains("looks like a run"), "{}", stderr(&refused));

    let empty = write_file(dir.path(), "empty.json", r#"{"name": "x", "examples": []}"#);
    let invalid = tt.run(&server, &["specs", "create", "--file", &empty]).await;
    assert_eq!(code(&invalid), 2);
    assert!(stderr(&invalid).contains("examples: must have 1–500 items"), "{}", stderr(&invalid));
}
