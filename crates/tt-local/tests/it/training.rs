//! Training the built-in tiny model.

use tt_local::TINY_MODEL;
use tt_providers::{FineTuner, JobStatus};

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn training_the_tiny_model_lowers_the_loss_and_beats_the_untrained_model() {
    let dir = tempfile::tempdir().unwrap();
    let trainer = trainer(&dir);
    // Four examples, each five times, with the default hyperparameters: 12 steps.
    let (_, job) = start(&trainer, TINY_MODEL, &dataset(5), hyper(4, None)).await;
    let job = wait_until_finished(&trainer, &job.id).await;
    assert_eq!(job.status, JobStatus::Completed, "{job:?}");
    let events = trainer.job_events(&job.id, 0).await.unwrap();
    let losses: Vec<f64> = events.iter().filter_map(|event| event.progress.loss).collect();
    assert_eq!(losses.len(), 12);
    assert!(losses[11] < losses[0] * 0.25, "{losses:?}");
    let model = job.output_model.unwrap();
    let trained = similarity(&trainer, &model).await;
    let untrained = similarity(&trainer, TINY_MODEL).await;
    assert!(trained > 0.6 && trained > untrained + 0.5, "trained {trained}, untrained {untrained}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_adapter_reloads_in_a_new_trainer_and_gives_the_same_greedy_answers() {
    let dir = tempfile::tempdir().unwrap();
    let first = trainer(&dir);
    let (_, job) = start(&first, TINY_MODEL, &dataset(2), hyper(1, None)).await;
    let job = wait_until_finished(&first, &job.id).await;
    let model = job.output_model.expect("a completed job names its model");
    assert!(dir.path().join("local/jobs").join(&job.id).join("adapter.safetensors").is_file());
    let before = answer(&first, &model, EXAMPLES[0].0).await;
    let untrained = answer(&first, TINY_MODEL, EXAMPLES[0].0).await;
    assert_ne!(before, untrained, "training changed nothing");

    let second = trainer(&dir);
    assert_eq!(answer(&second, &model, EXAMPLES[0].0).await, before);
}
