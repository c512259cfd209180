//! Hugging Face model directories, written by the test itself: a tiny random model in Qwen2
//! or Llama layout with a byte-level BPE `tokenizer.json`.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device};
use serde_json::json;
use tt_local::{ModelConfig, is_local_model};
use tt_providers::{ChatRequest, FineTuner, Inference, JobStatus};

use crate::support::*;

/// GPT-2's byte-to-character table, which byte-level BPE vocabularies are written in.
fn byte_chars() -> Vec<char> {
    let printable: Vec<u32> =
        (u32::from('!')..=u32::from('~')).chain(0xA1..=0xAC).chain(0xAE..=0xFF).collect();
    let mut extra = 0;
    (0u32..256)
        .map(|byte| {
            if printable.contains(&byte) {
                char::from_u32(byte).unwrap()
            } else {
                extra += 1;
                char::from_u32(255 + extra).unwrap()
            }
        })
        .collect()
}

fn write_tokenizer(dir: &Path, specials: &[&str]) {
    let vocab: serde_json::Map<String, serde_json::Value> =
        byte_chars().into_iter().enumerate().map(|(id, ch)| (ch.to_string(), json!(id))).collect();
    let added: Vec<_> = specials
        .iter()
        .enumerate()
        .map(|(i, content)| {
            json!({"id": 256 + i, "content": content, "single_word": false, "lstrip": false,
                   "rstrip": false, "normalized": false, "special": true})
        })
        .collect();
    let tokenizer = json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": added, "normalizer": null,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
                  "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "vocab": vocab, "merges": []}
    });
    std::fs::write(dir.join("tokenizer.json"), tokenizer.to_string()).unwrap();
}

fn write_model(dir: &Path, model_type: &str, tied: bool, specials: &[&str]) {
    let config = ModelConfig {
        vocab_size: 264,
        hidden_size: 64,
        intermediate_size: 128,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        num_key_value_heads: Some(2),
        rms_norm_eps: 1e-6,
        rope_theta: 1_000_000.0,
        tie_word_embeddings: tied,
        attention_bias: model_type == "qwen2",
    };
    let mut json = serde_json::to_value(&config).unwrap();
    json["model_type"] = model_type.into();
    json["architectures"] = json!(["SomeForCausalLM"]);
    std::fs::write(dir.join("config.json"), json.to_string()).unwrap();
    // Stored in bf16 as published checkpoints usually are; the loader converts to f32.
    let tensors: HashMap<String, candle_core::Tensor> =
        tt_local::tiny::random_tensors(&config, 7, &Device::Cpu)
            .unwrap()
            .into_iter()
            .map(|(name, tensor)| (name, tensor.to_dtype(DType::BF16).unwrap()))
            .collect();
    candle_core::safetensors::save(&tensors, dir.join("model.safetensors")).unwrap();
    write_tokenizer(dir, specials);
}

async fn check_layout(model_type: &str, tied: bool, specials: &[&str]) {
    let model_dir = tempfile::tempdir().unwrap();
    write_model(model_dir.path(), model_type, tied, specials);
    let base = model_dir.path().to_str().unwrap().to_owned();
    assert!(is_local_model(&base));

    let data_dir = tempfile::tempdir().unwrap();
    let trainer = trainer(&data_dir);
    let request = ChatRequest {
        model: base.clone(),
        messages: prompt("Say hello"),
        max_tokens: Some(12),
        temperature: None,
    };
    let untrained = trainer.complete(&request).await.unwrap();
    assert!(untrained.completion_tokens.unwrap() <= 12);

    let (_, job) = start(&trainer, &base, &dataset(2), hyper(3, Some(1e-2))).await;
    let job = wait_until_finished(&trainer, &job.id).await;
    assert_eq!(job.status, JobStatus::Completed, "{job:?}");
    let losses: Vec<f64> = trainer
        .job_events(&job.id, 0)
        .await
        .unwrap()
        .iter()
        .filter_map(|event| event.progress.loss)
        .collect();
    assert!(losses[2] < losses[0], "{losses:?}");
    let adapter_config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            data_dir.path().join("local/jobs").join(&job.id).join("adapter_config.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(adapter_config["base_model_name_or_path"], base.as_str());
    assert_eq!(adapter_config["target_modules"], json!(["q_proj", "k_proj", "v_proj", "o_proj"]));
    let tuned = ChatRequest { model: job.output_model.unwrap(), ..request };
    let first = trainer.complete(&tuned).await.unwrap();
    let sampled = ChatRequest { temperature: Some(0.8), ..tuned.clone() };
    assert_eq!(
        trainer.complete(&sampled).await.unwrap().content,
        trainer.complete(&sampled).await.unwrap().content
    );
    assert_eq!(trainer.complete(&tuned).await.unwrap().content, first.content);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_qwen2_directory_with_a_chatml_tokenizer_loads_trains_and_answers() {
    check_layout("qwen2", true, &["<|endoftext|>", "<|im_start|>", "<|im_end|>"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_llama_directory_with_llama_3_headers_loads_trains_and_answers() {
    check_layout(
        "llama",
        false,
        &[
            "<|begin_of_text|>",
            "<|end_of_text|>",
            "<|start_header_id|>",
            "<|end_header_id|>",
            "<|eot_id|>",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_directory_of_another_architecture_is_refused() {
    let model_dir = tempfile::tempdir().unwrap();
    write_model(model_dir.path(), "llama", false, &["</s>"]);
    let mut config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(model_dir.path().join("config.json")).unwrap(),
    )
    .unwrap();
    config["model_type"] = "gpt2".into();
    std::fs::write(model_dir.path().join("config.json"), config.to_string()).unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let request = ChatRequest {
        model: model_dir.path().to_str().unwrap().to_owned(),
        messages: prompt("hi"),
        max_tokens: Some(4),
        temperature: None,
    };
    let err = trainer(&data_dir).complete(&request).await.unwrap_err();
    assert!(err.to_string().contains("gpt2"), "{err}");
}
