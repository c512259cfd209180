//! Job lifecycle: idempotent creation, cancellation, and recovery after a crash.

use std::time::Duration;

use tt_local::TINY_MODEL;
use tt_providers::{FineTuneRequest, FineTuner, JobStatus, ProviderError};

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn creating_a_job_twice_for_a_run_returns_the_same_job_and_keeps_its_adapter() {
    let dir = tempfile::tempdir().unwrap();
    let trainer = trainer(&dir);
    let jsonl = dataset(2);
    let (run_id, job) = start(&trainer, TINY_MODEL, &jsonl, hyper(1, None)).await;
    assert_eq!(job.id, format!("local-{run_id}"));
    let done = wait_until_finished(&trainer, &job.id).await;
    assert_eq!(done.status, JobStatus::Completed);
    assert_eq!(done.token_count, Some(jsonl_tokens(&jsonl)));

    let again = FineTuneRequest {
        run_id,
        training_file_id: format!("{run_id}.jsonl"),
        base_model: TINY_MODEL.to_owned(),
        hyperparameters: hyper(1, None),
        suffix: "again".to_owned(),
    };
    let restarted_trainer = self::trainer(&dir);
    let same = restarted_trainer.create_job(&again).await.unwrap();
    assert_eq!(same, done);
    assert_eq!(restarted_trainer.job_events(&job.id, 0).await.unwrap().len(), 1);
}

/// Tokens the byte tokenizer gives the rows: each message's bytes plus its header and end
/// tokens, plus one begin token per row.
fn jsonl_tokens(jsonl: &str) -> u64 {
    let report = tt_domain::validate_jsonl(jsonl);
    report
        .valid_rows
        .iter()
        .map(|row| 1 + row.messages.iter().map(|m| m.content.len() as u64 + 2).sum::<u64>())
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelling_stops_training_between_steps() {
    let dir = tempfile::tempdir().unwrap();
    let trainer = trainer(&dir);
    let (_, job) = start(&trainer, TINY_MODEL, &dataset(4), hyper(20, None)).await;
    while trainer.job_events(&job.id, 0).await.unwrap().is_empty() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cancelled = trainer.cancel_job(&job.id).await.unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    // The step in flight may still finish; after it no step starts.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let seen = trainer.job_events(&job.id, 0).await.unwrap().len();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let events = trainer.job_events(&job.id, 0).await.unwrap();
    assert_eq!(events.len(), seen);
    assert!(events.len() < 40, "all {} steps ran", events.len());
    let job = trainer.get_job(&job.id).await.unwrap();
    assert_eq!(job.status, JobStatus::Cancelled);
    assert_eq!(job.output_model, None);
    assert_eq!(trainer.cancel_job(&job.id).await.unwrap().status, JobStatus::Cancelled);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_left_running_by_a_dead_process_resumes_from_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let first = trainer(&dir);
    let (_, job) = start(&first, TINY_MODEL, &dataset(2), hyper(2, None)).await;
    let finished = wait_until_finished(&first, &job.id).await;
    assert_eq!(finished.status, JobStatus::Completed);

    // Rewind the job to how a crash after the first epoch leaves it: still `running`, owned
    // by a process that no longer exists, with the epoch-1 checkpoint and no final adapter.
    let job_dir = dir.path().join("local/jobs").join(&job.id);
    let record_path = job_dir.join("job.json");
    let mut record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&record_path).unwrap()).unwrap();
    assert_eq!(record["checkpoint_step"], 1);
    record["status"] = "running".into();
    record["output_model"] = serde_json::Value::Null;
    record["owner"] = serde_json::json!({"pid": i32::MAX, "instance": "crashed"});
    std::fs::write(&record_path, record.to_string()).unwrap();
    std::fs::remove_file(job_dir.join("adapter.safetensors")).unwrap();

    let second = trainer(&dir);
    assert_eq!(second.get_job(&job.id).await.unwrap().status, JobStatus::Running);
    let resumed = wait_until_finished(&second, &job.id).await;
    assert_eq!(resumed.status, JobStatus::Completed, "{resumed:?}");
    assert!(job_dir.join("adapter.safetensors").is_file());
    let events = second.job_events(&job.id, 0).await.unwrap();
    let messages: Vec<_> =
        events.iter().filter_map(|event| event.progress.message.clone()).collect();
    assert_eq!(messages, ["training resumed after a restart from step 1"]);
    assert_eq!(events.last().unwrap().progress.step, Some(2));
    let answer = answer(&second, resumed.output_model.as_deref().unwrap(), EXAMPLES[0].0).await;
    assert!(!answer.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_models_jobs_and_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let trainer = trainer(&dir);
    let err = trainer.get_job("local-00000000-0000-0000-0000-000000000000").await.unwrap_err();
    assert!(matches!(err, ProviderError::NotFound { .. }), "{err:?}");
    let run_id = tt_domain::RunId::from_uuid(uuid::Uuid::new_v4());
    let file = trainer.upload_dataset(run_id, "train.jsonl", &dataset(1)).await.unwrap();
    let request = FineTuneRequest {
        run_id,
        training_file_id: file.id,
        base_model: "tt-local/huge".to_owned(),
        hyperparameters: hyper(1, None),
        suffix: "x".to_owned(),
    };
    let err = trainer.create_job(&request).await.unwrap_err();
    assert!(matches!(err, ProviderError::NotFound { .. }), "{err:?}");
    let err = trainer.upload_dataset(run_id, "bad.jsonl", "not json\n").await.unwrap_err();
    assert!(matches!(err, ProviderError::Rejected { .. }), "{err:?}");
}
