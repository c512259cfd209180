//! The fake Together server, driven through the real client: it is what the engine, API and
//! crash tests use, so its lifecycle, cancel and faults are checked here.

use std::time::Duration;

use tt_domain::{ChatMessage, ChatRole};
use tt_providers::{ChatRequest, FineTuneJob, FineTuner, Inference, JobStatus, ProviderError};
use tt_testkit::together::{FakeTogether, FakeTogetherConfig, FaultConfig, FaultKind, FaultScope};
use tt_together::{TogetherClient, TogetherConfig};

use crate::{config, fine_tune_request, run_id};

const TRAINING_FILE: &str = concat!(
    r#"{"messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello!"}]}"#,
    "\n",
    r#"{"messages":[{"role":"user","content":"Bye"},{"role":"assistant","content":"Goodbye!"}]}"#,
    "\n",
);

fn client_for(fake: &FakeTogether) -> TogetherClient {
    TogetherClient::new(config(&fake.base_url(), fake.api_key())).unwrap()
}

async fn start(job_duration: Duration) -> (FakeTogether, TogetherClient) {
    let fake =
        FakeTogether::start(FakeTogetherConfig { job_duration, ..FakeTogetherConfig::default() })
            .await;
    let client = client_for(&fake);
    (fake, client)
}

/// Polls until the job leaves `Running` (at most ~10 s, far beyond the fake's durations).
async fn wait_until_finished(client: &TogetherClient, job_id: &str) -> FineTuneJob {
    for _ in 0..200 {
        let job = client.get_job(job_id).await.unwrap();
        if job.status != JobStatus::Running {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("job {job_id} never finished");
}

async fn upload_and_create(client: &TogetherClient) -> FineTuneJob {
    let file = client.upload_dataset(run_id(), "train.jsonl", TRAINING_FILE).await.unwrap();
    client.create_job(&fine_tune_request(&file.id)).await.unwrap()
}

#[tokio::test]
async fn a_job_goes_from_upload_to_a_completed_model_that_answers_chat() {
    let (fake, client) = start(Duration::from_millis(300)).await;

    let created = upload_and_create(&client).await;
    assert_eq!(created.status, JobStatus::Running);
    let done = wait_until_finished(&client, &created.id).await;

    let fake_job = fake.job(&created.id).unwrap();
    assert_eq!(done.status, JobStatus::Completed);
    assert_eq!(done.output_model.as_deref(), Some(fake_job.model_output_name.as_str()));
    assert_eq!(done.token_count, Some(TRAINING_FILE.len().div_ceil(4) as u64));
    assert_eq!(done.progress.and_then(|p| p.percent), Some(100.0));
    assert_eq!((fake_job.lora_r, fake_job.lora_alpha, fake_job.n_epochs), (Some(8), Some(16), 4));
    assert!(fake_job.suffix.ends_with("tt-0123abcd4567"), "{}", fake_job.suffix);
    assert_eq!(fake.file_content(&fake_job.training_file).as_deref(), Some(TRAINING_FILE));

    let events = client.job_events(&created.id, 0).await.unwrap();
    assert!(events.iter().any(|e| e.progress.loss.is_some()), "no loss in {events:?}");
    assert_eq!(
        events
            .last()
            .and_then(|e| e.progress.message.as_deref())
            .map(|m| m.starts_with("Job finished")),
        Some(true)
    );
    let later = client.job_events(&created.id, events.len() - 1).await.unwrap();
    assert_eq!(later.len(), 1);

    let answer = client
        .complete(&ChatRequest {
            model: done.output_model.unwrap(),
            messages: vec![ChatMessage { role: ChatRole::User, content: "ping".to_owned() }],
            max_tokens: None,
            temperature: None,
        })
        .await
        .unwrap();
    assert_eq!(answer.content, "echo: ping");
    assert_eq!(fake.chat_requests()[0].temperature, Some(0.0));
    assert_eq!((fake.files_uploaded(), fake.jobs_created(), fake.chat_completions()), (1, 1, 1));
}

#[tokio::test]
async fn creating_twice_for_one_run_makes_one_job_even_from_a_restarted_client() {
    let (fake, client) = start(Duration::from_secs(30)).await;

    let first = upload_and_create(&client).await;
    let restarted = client_for(&fake);
    let second = restarted
        .create_job(&fine_tune_request(&fake.job(&first.id).unwrap().training_file))
        .await
        .unwrap();

    assert_eq!(first.id, second.id);
    assert_eq!(fake.jobs_created(), 1);
}

#[tokio::test]
async fn a_cancelled_job_ends_cancelled_and_cancelling_again_is_not_an_error() {
    let (fake, client) = start(Duration::from_secs(30)).await;
    let job = upload_and_create(&client).await;

    let cancelling = client.cancel_job(&job.id).await.unwrap();
    assert_eq!(cancelling.status, JobStatus::Running);
    assert_eq!(wait_until_finished(&client, &job.id).await.status, JobStatus::Cancelled);
    assert_eq!(client.cancel_job(&job.id).await.unwrap().status, JobStatus::Cancelled);

    assert_eq!(fake.cancels(), 1);
    assert_eq!(fake.job(&job.id).unwrap().status, "cancelled");
}

#[tokio::test]
async fn a_job_made_to_fail_reports_the_message() {
    let (fake, client) = start(Duration::from_secs(30)).await;
    let job = upload_and_create(&client).await;

    assert!(fake.fail_job(&job.id, "CUDA out of memory"));
    let failed = client.get_job(&job.id).await.unwrap();

    assert_eq!(
        (failed.status, failed.error.as_deref()),
        (JobStatus::Failed, Some("CUDA out of memory"))
    );
}

#[tokio::test]
async fn jobs_can_be_set_to_fail_from_the_start() {
    let fake = FakeTogether::start(FakeTogetherConfig {
        job_duration: Duration::from_millis(200),
        fail_jobs_with: Some("bad dataset".to_owned()),
        ..FakeTogetherConfig::default()
    })
    .await;
    let client = client_for(&fake);
    let job = upload_and_create(&client).await;

    let failed = wait_until_finished(&client, &job.id).await;

    assert_eq!((failed.status, failed.error.as_deref()), (JobStatus::Failed, Some("bad dataset")));
}

#[tokio::test]
async fn a_wrong_key_is_refused_as_unauthorized() {
    let (fake, _) = start(Duration::from_secs(1)).await;
    let client = TogetherClient::new(config(&fake.base_url(), "wrong-key")).unwrap();

    let err = client.get_job("ft-1").await.unwrap_err();

    assert!(
        matches!(err, ProviderError::Unauthorized { ref message } if message.starts_with("Invalid API key")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_model_still_training_cannot_be_chatted_with() {
    let (fake, client) = start(Duration::from_secs(30)).await;
    let job = upload_and_create(&client).await;
    let request = ChatRequest {
        model: fake.job(&job.id).unwrap().model_output_name,
        messages: vec![ChatMessage { role: ChatRole::User, content: "ping".to_owned() }],
        max_tokens: None,
        temperature: None,
    };

    let err = client.complete(&request).await.unwrap_err();

    assert!(matches!(err, ProviderError::NotFound { .. }), "{err:?}");
}

/// `get_job` against a fake that faults every fine-tuning request with `kind`.
async fn get_job_under(
    kind: FaultKind,
    client_config: impl Fn(&FakeTogether) -> TogetherConfig,
) -> (ProviderError, u64) {
    let faults = FaultConfig {
        hang_for: Duration::from_secs(5),
        ..FaultConfig::always(kind).in_scope(FaultScope::FineTuning)
    }
    .with_retry_after(Duration::from_secs(120));
    let fake =
        FakeTogether::start(FakeTogetherConfig { faults, ..FakeTogetherConfig::default() }).await;
    let client = TogetherClient::new(client_config(&fake)).unwrap();
    let err = client.get_job("ft-1").await.unwrap_err();
    (err, fake.faults_injected())
}

#[tokio::test]
async fn faults_at_every_request_give_the_matching_errors() {
    let default = |fake: &FakeTogether| config(&fake.base_url(), fake.api_key());

    let (err, faults) = get_job_under(FaultKind::RateLimited, default).await;
    assert_eq!(
        (err, faults),
        (ProviderError::RateLimited { retry_after: Some(Duration::from_secs(120)) }, 1)
    );

    let (err, faults) = get_job_under(FaultKind::ServerError, default).await;
    assert!(matches!(err, ProviderError::Server { status: 500, .. }), "{err:?}");
    assert_eq!(faults, 2, "one retry");

    let (err, _) = get_job_under(FaultKind::Unavailable, default).await;
    assert!(matches!(err, ProviderError::Server { status: 503, .. }), "{err:?}");

    let (err, _) = get_job_under(FaultKind::ServerErrorAfterProcessing, default).await;
    assert!(matches!(err, ProviderError::Server { status: 500, .. }), "{err:?}");

    let (err, faults) = get_job_under(FaultKind::Malformed, default).await;
    assert!(matches!(err, ProviderError::InvalidResponse { .. }), "{err:?}");
    assert_eq!(faults, 1, "a malformed body is not retried");

    let short_timeout = |fake: &FakeTogether| TogetherConfig {
        request_timeout: Duration::from_millis(200),
        max_retries: 0,
        ..default(fake)
    };
    let (err, _) = get_job_under(FaultKind::Hang, short_timeout).await;
    assert!(matches!(err, ProviderError::Transport { .. }), "{err:?}");
}

#[tokio::test]
async fn faults_outside_their_scope_leave_other_endpoints_alone() {
    let faults = FaultConfig::always(FaultKind::ServerError).in_scope(FaultScope::Chat);
    let fake =
        FakeTogether::start(FakeTogetherConfig { faults, ..FakeTogetherConfig::default() }).await;
    let client = client_for(&fake);

    let job = upload_and_create(&client).await;

    assert_eq!(job.status, JobStatus::Running);
    assert_eq!(fake.faults_injected(), 0);
}

#[tokio::test]
async fn an_outage_that_ends_is_ridden_out_by_retries() {
    let (fake, client) = start(Duration::from_secs(30)).await;
    let job = upload_and_create(&client).await;
    fake.set_faults(
        FaultConfig::sometimes(0.5, &[FaultKind::Unavailable, FaultKind::RateLimited])
            .with_retry_after(Duration::from_millis(10)),
    );
    let patient = TogetherClient::new(TogetherConfig {
        max_retries: 20,
        ..config(&fake.base_url(), fake.api_key())
    })
    .unwrap();

    for _ in 0..10 {
        assert_eq!(patient.get_job(&job.id).await.unwrap().id, job.id);
    }
    assert!(fake.faults_injected() > 0);
}
