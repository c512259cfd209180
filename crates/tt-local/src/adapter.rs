//! LoRA adapters: creation, conversion to the weights the model applies, and the files they
//! are saved in (`adapter.safetensors` with PEFT tensor names, and `adapter_config.json`).

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor, Var};
use serde::{Deserialize, Serialize};

use crate::error::LocalError;
use crate::model::{LoraPair, LoraWeights, ModelConfig, Projection};
use crate::rng::SeededRng;

/// The adapter file name inside a job directory.
pub const ADAPTER_FILE: &str = "adapter.safetensors";
/// The adapter description file name inside a job directory.
pub const ADAPTER_CONFIG_FILE: &str = "adapter_config.json";

/// What an adapter is and what it applies to, saved as `adapter_config.json` (the field names
/// follow PEFT's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdapterConfig {
    /// The base model, as given to the trainer (`tt-local/tiny` or a model directory).
    pub base_model_name_or_path: String,
    /// LoRA rank.
    pub r: usize,
    /// LoRA alpha; updates are scaled by `alpha / r`.
    pub lora_alpha: f64,
    /// The adapted projections.
    pub target_modules: Vec<Projection>,
    /// Always `LORA`.
    pub peft_type: String,
}

impl AdapterConfig {
    /// A LoRA description.
    pub fn new(base_model: &str, rank: usize, alpha: f64, targets: Vec<Projection>) -> Self {
        Self {
            base_model_name_or_path: base_model.to_owned(),
            r: rank,
            lora_alpha: alpha,
            target_modules: targets,
            peft_type: "LORA".to_owned(),
        }
    }
}

/// Trainable LoRA factors for every target projection of every layer.
#[derive(Debug)]
pub(crate) struct LoraAdapter {
    config: AdapterConfig,
    vars: HashMap<(usize, Projection), (Var, Var)>,
}

fn tensor_name(layer: usize, projection: Projection, factor: &str) -> String {
    format!("base_model.model.model.layers.{layer}.{}.lora_{factor}.weight", projection.hf_name())
}

impl LoraAdapter {
    /// Fresh factors: `A` drawn with variance `1 / fan_in` from `seed`, `B` zero, so the adapted
    /// model starts out equal to the base.
    pub(crate) fn new(
        config: AdapterConfig,
        model: &ModelConfig,
        seed: u64,
        device: &Device,
    ) -> Result<Self, LocalError> {
        let mut rng = SeededRng::new(seed);
        let mut vars = HashMap::new();
        for layer in 0..model.num_hidden_layers {
            for (projection, fan_in, fan_out) in model.projections() {
                if !config.target_modules.contains(&projection) {
                    continue;
                }
                let a = Tensor::from_vec(
                    rng.normals(config.r * fan_in, 1.0 / (fan_in as f64).sqrt()),
                    (config.r, fan_in),
                    device,
                )?;
                let b = Tensor::zeros((fan_out, config.r), DType::F32, device)?;
                vars.insert((layer, projection), (Var::from_tensor(&a)?, Var::from_tensor(&b)?));
            }
        }
        Ok(Self { config, vars })
    }

    /// Reads the factors saved by [`LoraAdapter::save`], checking them against the model.
    pub(crate) fn load(
        dir: &Path,
        model: &ModelConfig,
        device: &Device,
    ) -> Result<Self, LocalError> {
        let config = read_adapter_config(dir)?;
        let path = dir.join(ADAPTER_FILE);
        let mut tensors = candle_core::safetensors::load(&path, device)?;
        let mut vars = HashMap::new();
        for layer in 0..model.num_hidden_layers {
            for (projection, fan_in, fan_out) in model.projections() {
                if !config.target_modules.contains(&projection) {
                    continue;
                }
                let mut take = |factor: &str, shape: (usize, usize)| -> Result<Var, LocalError> {
                    let name = tensor_name(layer, projection, factor);
                    let tensor = tensors.remove(&name).ok_or_else(|| LocalError::BadModel {
                        message: format!("adapter `{}` lacks `{name}`", path.display()),
                    })?;
                    if tensor.dims() != [shape.0, shape.1] {
                        return Err(LocalError::BadModel {
                            message: format!("adapter tensor `{name}` does not fit the base model"),
                        });
                    }
                    Ok(Var::from_tensor(&tensor.to_dtype(DType::F32)?)?)
                };
                let a = take("A", (config.r, fan_in))?;
                let b = take("B", (fan_out, config.r))?;
                vars.insert((layer, projection), (a, b));
            }
        }
        Ok(Self { config, vars })
    }

    /// Writes `adapter.safetensors` and `adapter_config.json` into `dir`, each atomically.
    pub(crate) fn save(&self, dir: &Path) -> Result<(), LocalError> {
        let tensors: HashMap<String, Tensor> = self
            .vars
            .iter()
            .flat_map(|((layer, projection), (a, b))| {
                [
                    (tensor_name(*layer, *projection, "A"), a.as_tensor().clone()),
                    (tensor_name(*layer, *projection, "B"), b.as_tensor().clone()),
                ]
            })
            .collect();
        let path = dir.join(ADAPTER_FILE);
        let partial = dir.join(format!("{ADAPTER_FILE}.partial"));
        candle_core::safetensors::save(&tensors, &partial)?;
        std::fs::rename(&partial, &path)
            .map_err(|err| LocalError::io("renaming", &partial, err))?;
        crate::jobs::write_json_atomically(&dir.join(ADAPTER_CONFIG_FILE), &self.config)
    }

    /// Every trainable variable.
    pub(crate) fn vars(&self) -> Vec<Var> {
        self.vars.values().flat_map(|(a, b)| [a.clone(), b.clone()]).collect()
    }

    /// The weights the model applies; they share storage with the variables, so they follow
    /// optimiser updates.
    pub(crate) fn weights(&self) -> LoraWeights {
        let pairs = self
            .vars
            .iter()
            .map(|(key, (a, b))| {
                (*key, LoraPair { a: a.as_tensor().clone(), b: b.as_tensor().clone() })
            })
            .collect();
        LoraWeights { scale: self.config.lora_alpha / self.config.r as f64, pairs }
    }
}

/// Reads `adapter_config.json` from `dir`.
pub(crate) fn read_adapter_config(dir: &Path) -> Result<AdapterConfig, LocalError> {
    crate::jobs::read_json(&dir.join(ADAPTER_CONFIG_FILE))
}
