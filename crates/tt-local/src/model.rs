//! The Llama-family decoder: RMSNorm, rotary position embeddings, grouped-query attention and a
//! SwiGLU MLP, with frozen base weights and optional LoRA adapters on the projections.
//!
//! Qwen2 is the same network with biases on the query, key and value projections.

use std::collections::HashMap;

use candle_core::{D, DType, Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::LocalError;

/// The shape of a Llama-family model, as in a Hugging Face `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Tokens in the vocabulary.
    pub vocab_size: usize,
    /// Width of the residual stream.
    pub hidden_size: usize,
    /// Width of the MLP.
    pub intermediate_size: usize,
    /// Decoder layers.
    pub num_hidden_layers: usize,
    /// Query heads.
    pub num_attention_heads: usize,
    /// Key and value heads (grouped-query attention when fewer than the query heads).
    #[serde(default)]
    pub num_key_value_heads: Option<usize>,
    /// RMSNorm epsilon.
    #[serde(default = "default_rms_norm_eps")]
    pub rms_norm_eps: f64,
    /// Rotary embedding base.
    #[serde(default = "default_rope_theta")]
    pub rope_theta: f64,
    /// Whether the output head reuses the token embedding.
    #[serde(default)]
    pub tie_word_embeddings: bool,
    /// Whether the query, key and value projections have biases (true for Qwen2).
    #[serde(default)]
    pub attention_bias: bool,
}

fn default_rms_norm_eps() -> f64 {
    1e-5
}

fn default_rope_theta() -> f64 {
    10_000.0
}

impl ModelConfig {
    /// Key and value heads.
    pub fn kv_heads(&self) -> usize {
        self.num_key_value_heads.unwrap_or(self.num_attention_heads)
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    /// Checks that the shape is usable.
    pub fn validate(&self) -> Result<(), LocalError> {
        let heads = self.num_attention_heads;
        let ok = heads > 0
            && self.hidden_size.is_multiple_of(heads)
            && self.head_dim().is_multiple_of(2)
            && self.kv_heads() > 0
            && heads.is_multiple_of(self.kv_heads())
            && self.vocab_size > 0
            && self.num_hidden_layers > 0;
        if ok {
            Ok(())
        } else {
            Err(LocalError::BadModel { message: format!("unsupported model shape {self:?}") })
        }
    }

    /// The projections of one layer with their (input, output) widths, in a fixed order.
    pub(crate) fn projections(&self) -> [(Projection, usize, usize); 7] {
        let (h, i, kv) =
            (self.hidden_size, self.intermediate_size, self.kv_heads() * self.head_dim());
        [
            (Projection::Q, h, h),
            (Projection::K, h, kv),
            (Projection::V, h, kv),
            (Projection::O, h, h),
            (Projection::Gate, h, i),
            (Projection::Up, h, i),
            (Projection::Down, i, h),
        ]
    }

    /// Parameters of the base model.
    pub fn parameter_count(&self) -> usize {
        let per_layer: usize =
            self.projections().iter().map(|(_, i, o)| i * o).sum::<usize>() + 2 * self.hidden_size;
        let head = if self.tie_word_embeddings { 0 } else { self.vocab_size * self.hidden_size };
        self.vocab_size * self.hidden_size
            + head
            + self.num_hidden_layers * per_layer
            + self.hidden_size
    }
}

/// A linear projection inside a decoder layer, the unit LoRA adapters attach to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Projection {
    /// Attention query.
    #[serde(rename = "q_proj")]
    Q,
    /// Attention key.
    #[serde(rename = "k_proj")]
    K,
    /// Attention value.
    #[serde(rename = "v_proj")]
    V,
    /// Attention output.
    #[serde(rename = "o_proj")]
    O,
    /// MLP gate.
    #[serde(rename = "gate_proj")]
    Gate,
    /// MLP up.
    #[serde(rename = "up_proj")]
    Up,
    /// MLP down.
    #[serde(rename = "down_proj")]
    Down,
}

impl Projection {
    /// The attention projections, LoRA's usual targets.
    pub const ATTENTION: [Self; 4] = [Self::Q, Self::K, Self::V, Self::O];
    /// Every projection of a layer.
    pub const ALL: [Self; 7] =
        [Self::Q, Self::K, Self::V, Self::O, Self::Gate, Self::Up, Self::Down];

    /// The Hugging Face weight name inside a layer (`self_attn.q_proj`).
    pub fn hf_name(self) -> &'static str {
        match self {
            Self::Q => "self_attn.q_proj",
            Self::K => "self_attn.k_proj",
            Self::V => "self_attn.v_proj",
            Self::O => "self_attn.o_proj",
            Self::Gate => "mlp.gate_proj",
            Self::Up => "mlp.up_proj",
            Self::Down => "mlp.down_proj",
        }
    }
}

/// A frozen linear layer: `y = x Wᵀ + b`.
#[derive(Debug, Clone)]
struct Linear {
    weight: Tensor,
    bias: Option<Tensor>,
}

impl Linear {
    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        let ys = xs.matmul(&self.weight.t()?)?;
        match &self.bias {
            Some(bias) => ys.broadcast_add(bias),
            None => Ok(ys),
        }
    }
}

/// The two low-rank factors of one adapted projection: `ΔW = B A · alpha / rank`.
#[derive(Debug, Clone)]
pub(crate) struct LoraPair {
    /// `rank × in`.
    pub(crate) a: Tensor,
    /// `out × rank`.
    pub(crate) b: Tensor,
}

/// LoRA weights for some projections of some layers, keyed by (layer, projection).
#[derive(Debug, Clone)]
pub(crate) struct LoraWeights {
    pub(crate) scale: f64,
    pub(crate) pairs: HashMap<(usize, Projection), LoraPair>,
}

#[derive(Debug, Clone)]
struct Layer {
    input_norm: Tensor,
    post_attention_norm: Tensor,
    projections: HashMap<Projection, Linear>,
}

/// Cached keys and values of earlier positions, one entry per layer, for incremental decoding.
#[derive(Debug, Default)]
pub(crate) struct KvCache {
    layers: Vec<Option<(Tensor, Tensor)>>,
}

impl KvCache {
    /// Positions already cached.
    pub(crate) fn len(&self) -> usize {
        match self.layers.first() {
            Some(Some((keys, _))) => keys.dim(2).unwrap_or(0),
            _ => 0,
        }
    }
}

/// A Llama-family decoder with frozen weights.
#[derive(Debug, Clone)]
pub struct Llama {
    config: ModelConfig,
    device: Device,
    embed_tokens: Tensor,
    layers: Vec<Layer>,
    norm: Tensor,
    lm_head: Tensor,
}

impl Llama {
    /// Builds the model from Hugging Face–named tensors (`model.embed_tokens.weight`,
    /// `model.layers.0.self_attn.q_proj.weight`, …), converted to f32 on `device`.
    pub fn from_tensors(
        config: ModelConfig,
        tensors: &HashMap<String, Tensor>,
        device: &Device,
    ) -> Result<Self, LocalError> {
        config.validate()?;
        let get = |name: &str, shape: &[usize]| -> Result<Tensor, LocalError> {
            let tensor = tensors.get(name).ok_or_else(|| LocalError::BadModel {
                message: format!("missing tensor `{name}`"),
            })?;
            if tensor.dims() != shape {
                return Err(LocalError::BadModel {
                    message: format!(
                        "tensor `{name}` has shape {:?}, expected {shape:?}",
                        tensor.dims()
                    ),
                });
            }
            Ok(tensor.to_dtype(DType::F32)?.to_device(device)?)
        };
        let h = config.hidden_size;
        let embed_tokens = get("model.embed_tokens.weight", &[config.vocab_size, h])?;
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for index in 0..config.num_hidden_layers {
            let prefix = format!("model.layers.{index}");
            let mut projections = HashMap::new();
            for (projection, fan_in, fan_out) in config.projections() {
                let name = format!("{prefix}.{}", projection.hf_name());
                let weight = get(&format!("{name}.weight"), &[fan_out, fan_in])?;
                let has_bias = config.attention_bias
                    && matches!(projection, Projection::Q | Projection::K | Projection::V);
                let bias =
                    if has_bias { Some(get(&format!("{name}.bias"), &[fan_out])?) } else { None };
                projections.insert(projection, Linear { weight, bias });
            }
            layers.push(Layer {
                input_norm: get(&format!("{prefix}.input_layernorm.weight"), &[h])?,
                post_attention_norm: get(
                    &format!("{prefix}.post_attention_layernorm.weight"),
                    &[h],
                )?,
                projections,
            });
        }
        let norm = get("model.norm.weight", &[h])?;
        let lm_head = match tensors.get("lm_head.weight") {
            Some(_) if !config.tie_word_embeddings => {
                get("lm_head.weight", &[config.vocab_size, h])?
            }
            _ => embed_tokens.clone(),
        };
        Ok(Self { config, device: device.clone(), embed_tokens, layers, norm, lm_head })
    }

    /// The model's shape.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Logits `[batch, seq, vocab]` for token ids `[batch, seq]`.
    ///
    /// With a cache, the ids continue the cached positions (incremental decoding) and the cache
    /// is extended. `differentiable` selects ops with backward passes (for training); the fused
    /// kernels used otherwise are faster but cannot be differentiated.
    pub(crate) fn forward(
        &self,
        ids: &Tensor,
        lora: Option<&LoraWeights>,
        cache: Option<&mut KvCache>,
        differentiable: bool,
    ) -> candle_core::Result<Tensor> {
        let (batch, seq) = ids.dims2()?;
        let offset = cache.as_ref().map_or(0, |cache| cache.len());
        let (cos, sin) = self.rotary(offset, seq)?;
        let mask = causal_mask(seq, offset, &self.device)?;
        let mut xs = self.embed_tokens.index_select(&ids.flatten_all()?, 0)?.reshape((
            batch,
            seq,
            self.config.hidden_size,
        ))?;
        let mut cache = cache;
        if let Some(cache) = cache.as_deref_mut() {
            cache.layers.resize(self.layers.len(), None);
        }
        for (index, layer) in self.layers.iter().enumerate() {
            let layer_cache = cache.as_deref_mut().map(|cache| &mut cache.layers[index]);
            let ctx =
                LayerCtx { index, lora, cos: &cos, sin: &sin, mask: mask.as_ref(), differentiable };
            xs = self.layer_forward(layer, &xs, &ctx, layer_cache)?;
        }
        let xs = rms_norm(&xs, &self.norm, self.config.rms_norm_eps, differentiable)?;
        xs.broadcast_matmul(&self.lm_head.t()?)
    }

    fn rotary(&self, offset: usize, seq: usize) -> candle_core::Result<(Tensor, Tensor)> {
        let half = self.config.head_dim() / 2;
        let inv_freq: Vec<f32> = (0..half)
            .map(|i| {
                1.0 / self.config.rope_theta.powf(2.0 * i as f64 / self.config.head_dim() as f64)
                    as f32
            })
            .collect();
        let inv_freq = Tensor::from_vec(inv_freq, (1, half), &self.device)?;
        let positions = Tensor::arange(offset as u32, (offset + seq) as u32, &self.device)?
            .to_dtype(DType::F32)?
            .reshape((seq, 1))?;
        let freqs = positions.broadcast_mul(&inv_freq)?;
        Ok((freqs.cos()?, freqs.sin()?))
    }

    fn layer_forward(
        &self,
        layer: &Layer,
        xs: &Tensor,
        ctx: &LayerCtx<'_>,
        cache: Option<&mut Option<(Tensor, Tensor)>>,
    ) -> candle_core::Result<Tensor> {
        let eps = self.config.rms_norm_eps;
        let residual = xs;
        let normed = rms_norm(xs, &layer.input_norm, eps, ctx.differentiable)?;
        let attended = self.attention(layer, &normed, ctx, cache)?;
        let xs = (residual + attended)?;
        let normed = rms_norm(&xs, &layer.post_attention_norm, eps, ctx.differentiable)?;
        let gate = project(layer, Projection::Gate, &normed, ctx)?;
        let up = project(layer, Projection::Up, &normed, ctx)?;
        let mlp = project(layer, Projection::Down, &(gate.silu()? * up)?, ctx)?;
        xs + mlp
    }

    fn attention(
        &self,
        layer: &Layer,
        xs: &Tensor,
        ctx: &LayerCtx<'_>,
        cache: Option<&mut Option<(Tensor, Tensor)>>,
    ) -> candle_core::Result<Tensor> {
        let (batch, seq, _) = xs.dims3()?;
        let (heads, kv_heads, head_dim) =
            (self.config.num_attention_heads, self.config.kv_heads(), self.config.head_dim());
        let split = |ys: Tensor, n: usize| {
            ys.reshape((batch, seq, n, head_dim))?.transpose(1, 2)?.contiguous()
        };
        let queries = split(project(layer, Projection::Q, xs, ctx)?, heads)?;
        let keys = split(project(layer, Projection::K, xs, ctx)?, kv_heads)?;
        let values = split(project(layer, Projection::V, xs, ctx)?, kv_heads)?;
        let (queries, keys) = if ctx.differentiable {
            (
                candle_nn::rotary_emb::rope_slow(&queries, ctx.cos, ctx.sin)?,
                candle_nn::rotary_emb::rope_slow(&keys, ctx.cos, ctx.sin)?,
            )
        } else {
            (
                candle_nn::rotary_emb::rope(&queries, ctx.cos, ctx.sin)?,
                candle_nn::rotary_emb::rope(&keys, ctx.cos, ctx.sin)?,
            )
        };
        let (keys, values) = match cache {
            Some(slot) => {
                let (keys, values) = match slot.take() {
                    Some((old_keys, old_values)) => (
                        Tensor::cat(&[&old_keys, &keys], 2)?,
                        Tensor::cat(&[&old_values, &values], 2)?,
                    ),
                    None => (keys, values),
                };
                *slot = Some((keys.clone(), values.clone()));
                (keys, values)
            }
            None => (keys, values),
        };
        let keys = repeat_kv(&keys, heads / kv_heads)?;
        let values = repeat_kv(&values, heads / kv_heads)?;
        let scores = (queries.matmul(&keys.t()?)? / (head_dim as f64).sqrt())?;
        let scores = match ctx.mask {
            Some(mask) => scores.broadcast_add(mask)?,
            None => scores,
        };
        let weights = if ctx.differentiable {
            candle_nn::ops::softmax(&scores, D::Minus1)?
        } else {
            candle_nn::ops::softmax_last_dim(&scores)?
        };
        let attended = weights.matmul(&values.contiguous()?)?.transpose(1, 2)?.reshape((
            batch,
            seq,
            heads * head_dim,
        ))?;
        project(layer, Projection::O, &attended, ctx)
    }
}

struct LayerCtx<'a> {
    index: usize,
    lora: Option<&'a LoraWeights>,
    cos: &'a Tensor,
    sin: &'a Tensor,
    mask: Option<&'a Tensor>,
    differentiable: bool,
}

fn project(
    layer: &Layer,
    projection: Projection,
    xs: &Tensor,
    ctx: &LayerCtx<'_>,
) -> candle_core::Result<Tensor> {
    let linear = layer.projections.get(&projection).expect("every layer has all seven projections");
    let (batch, seq, width) = xs.dims3()?;
    let flat = xs.reshape((batch * seq, width))?;
    let mut ys = linear.forward(&flat)?;
    if let Some(lora) = ctx.lora
        && let Some(pair) = lora.pairs.get(&(ctx.index, projection))
    {
        let delta = flat.matmul(&pair.a.t()?)?.matmul(&pair.b.t()?)?;
        ys = (ys + (delta * lora.scale)?)?;
    }
    let out = ys.dim(1)?;
    ys.reshape((batch, seq, out))
}

fn rms_norm(
    xs: &Tensor,
    weight: &Tensor,
    eps: f64,
    differentiable: bool,
) -> candle_core::Result<Tensor> {
    if differentiable {
        candle_nn::ops::rms_norm_slow(xs, weight, eps as f32)
    } else {
        candle_nn::ops::rms_norm(xs, weight, eps as f32)
    }
}

fn repeat_kv(xs: &Tensor, n_rep: usize) -> candle_core::Result<Tensor> {
    if n_rep == 1 {
        return Ok(xs.clone());
    }
    let (batch, kv_heads, seq, head_dim) = xs.dims4()?;
    Tensor::cat(&vec![xs; n_rep], 2)?.reshape((batch, kv_heads * n_rep, seq, head_dim))
}

/// `[seq, offset + seq]` additive mask hiding later positions; `None` when a single new
/// position may see everything before it.
fn causal_mask(seq: usize, offset: usize, device: &Device) -> candle_core::Result<Option<Tensor>> {
    if seq == 1 {
        return Ok(None);
    }
    let total = offset + seq;
    let values: Vec<f32> = (0..seq)
        .flat_map(|i| (0..total).map(move |j| if j > offset + i { f32::NEG_INFINITY } else { 0.0 }))
        .collect();
    Tensor::from_vec(values, (seq, total), device).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiny::{random_tensors, tiny_config};

    fn small_model() -> Llama {
        let config = ModelConfig {
            hidden_size: 32,
            intermediate_size: 48,
            num_hidden_layers: 2,
            ..tiny_config()
        };
        Llama::from_tensors(
            config.clone(),
            &random_tensors(&config, 5, &Device::Cpu).unwrap(),
            &Device::Cpu,
        )
        .unwrap()
    }

    #[test]
    fn incremental_decoding_with_the_cache_matches_a_full_forward_pass() {
        let model = small_model();
        let ids: Vec<u32> = vec![256, 259, 72, 105, 257, 260, 79];
        let full = Tensor::from_vec(ids.clone(), (1, ids.len()), &Device::Cpu).unwrap();
        let expected = model
            .forward(&full, None, None, false)
            .unwrap()
            .squeeze(0)
            .unwrap()
            .get(ids.len() - 1)
            .unwrap();

        let mut cache = KvCache::default();
        let head = Tensor::from_vec(ids[..5].to_vec(), (1, 5), &Device::Cpu).unwrap();
        model.forward(&head, None, Some(&mut cache), false).unwrap();
        let mut last = None;
        for &id in &ids[5..] {
            let one = Tensor::from_vec(vec![id], (1, 1), &Device::Cpu).unwrap();
            last = Some(
                model
                    .forward(&one, None, Some(&mut cache), false)
                    .unwrap()
                    .squeeze(0)
                    .unwrap()
                    .get(0)
                    .unwrap(),
            );
        }
        assert_eq!(cache.len(), ids.len());
        let diff = (last.unwrap() - expected)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(diff < 1e-4, "cached logits differ by {diff}");
    }

    #[test]
    fn the_differentiable_ops_give_the_same_logits_as_the_fused_kernels() {
        let model = small_model();
        let ids =
            Tensor::from_vec(vec![256u32, 259, 72, 105, 257, 260], (2, 3), &Device::Cpu).unwrap();
        let fused = model.forward(&ids, None, None, false).unwrap();
        let slow = model.forward(&ids, None, None, true).unwrap();
        let diff =
            (fused - slow).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(diff < 1e-4, "logits differ by {diff}");
    }

    #[test]
    fn a_shape_whose_heads_do_not_divide_the_width_is_refused() {
        let config = ModelConfig { num_attention_heads: 7, ..tiny_config() };
        assert!(matches!(config.validate(), Err(LocalError::BadModel { .. })));
    }

    #[test]
    fn the_tiny_model_has_about_two_and_a_half_million_parameters() {
        assert_eq!(tiny_config().parameter_count(), 2_365_696);
    }
}
