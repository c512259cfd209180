//! Shared helpers: small specs, a trainer on a temp dir, and waiting for jobs.

use std::time::Duration;

use tempfile::TempDir;
use tt_domain::{
    ChatMessage, ChatRole, ChatRow, Hyperparameters, HyperparametersInput, LearningRate, RunId,
    rows_to_jsonl,
};
use tt_local::{LocalConfig, LocalTrainer};
use tt_providers::{ChatRequest, FineTuneJob, FineTuneRequest, FineTuner, Inference, JobStatus};

pub(crate) const SYSTEM: &str = "You answer in one short line.";

/// Four prompts with short answers, the spec used for quality checks.
pub(crate) const EXAMPLES: [(&str, &str); 4] = [
    ("What is the capital of France?", "Paris."),
    ("Say hello", "Hello there!"),
    ("Two plus two?", "It is 4."),
    ("Favourite colour?", "Blue, always."),
];

pub(crate) fn trainer(dir: &TempDir) -> LocalTrainer {
    LocalTrainer::new(LocalConfig::new(dir.path())).unwrap()
}

pub(crate) fn prompt(input: &str) -> Vec<ChatMessage> {
    vec![
        ChatMessage { role: ChatRole::System, content: SYSTEM.to_owned() },
        ChatMessage { role: ChatRole::User, content: input.to_owned() },
    ]
}

/// Each example `copies` times, as augmentation would give (same answers, inputs varied a bit).
pub(crate) fn dataset(copies: usize) -> String {
    let rows: Vec<ChatRow> = (0..copies)
        .flat_map(|copy| {
            EXAMPLES.iter().map(move |(input, output)| {
                let input = if copy == 0 {
                    (*input).to_owned()
                } else {
                    format!("{input}{}", " please".repeat(copy % 3))
                };
                let mut messages = prompt(&input);
                messages
                    .push(ChatMessage { role: ChatRole::Assistant, content: (*output).to_owned() });
                ChatRow { messages }
            })
        })
        .collect();
    rows_to_jsonl(&rows)
}

pub(crate) fn hyper(n_epochs: u32, learning_rate: Option<f64>) -> Hyperparameters {
    HyperparametersInput {
        n_epochs: Some(n_epochs),
        learning_rate: learning_rate.map(LearningRate::Fixed),
        ..HyperparametersInput::default()
    }
    .resolve()
    .unwrap()
}

pub(crate) async fn start(
    trainer: &LocalTrainer,
    base_model: &str,
    jsonl: &str,
    hyperparameters: Hyperparameters,
) -> (RunId, FineTuneJob) {
    let run_id = RunId::from_uuid(uuid::Uuid::new_v4());
    let file = trainer.upload_dataset(run_id, "train.jsonl", jsonl).await.unwrap();
    let request = FineTuneRequest {
        run_id,
        training_file_id: file.id,
        base_model: base_model.to_owned(),
        hyperparameters,
        suffix: "test".to_owned(),
    };
    let job = trainer.create_job(&request).await.unwrap();
    (run_id, job)
}

pub(crate) async fn wait_until_finished(trainer: &LocalTrainer, job_id: &str) -> FineTuneJob {
    for _ in 0..6000 {
        let job = trainer.get_job(job_id).await.unwrap();
        if job.status != JobStatus::Running {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("job {job_id} did not finish in five minutes");
}

pub(crate) async fn answer(inference: &dyn Inference, model: &str, input: &str) -> String {
    let request = ChatRequest {
        model: model.to_owned(),
        messages: prompt(input),
        max_tokens: Some(40),
        temperature: None,
    };
    inference.complete(&request).await.unwrap().content
}

/// Mean normalised Levenshtein similarity of the model's answers to the expected ones.
pub(crate) async fn similarity(inference: &dyn Inference, model: &str) -> f64 {
    let mut total = 0.0;
    for (input, expected) in EXAMPLES {
        let actual = answer(inference, model, input).await;
        total += strsim::normalized_levenshtein(&actual, expected);
    }
    total / EXAMPLES.len() as f64
}
