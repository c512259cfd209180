//! Tokenizers and chat templates.
//!
//! `tt-local/tiny` uses a byte-level tokenizer made here: ids 0–255 are the UTF-8 bytes, then
//! five special tokens (begin, end of turn, and the system, user and assistant headers).
//! Its chat template is `<begin>` followed by `<role> content <end>` per message.
//!
//! Hugging Face models use their `tokenizer.json` and one of three templates, picked from
//! the special tokens the tokenizer has:
//! ChatML (`<|im_start|>role\ncontent<|im_end|>\n`, Qwen2 and SmolLM2) when it has
//! `<|im_start|>`; Llama 3 headers (`<|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>`)
//! when it has `<|start_header_id|>`; otherwise a plain template
//! (`### System:\ncontent</s>\n\n### User:\ncontent</s>\n\n### Assistant:\n`, every message
//! ending with the tokenizer's end-of-sequence token).

use std::path::Path;

use tt_domain::{ChatMessage, ChatRole};

use crate::error::LocalError;

/// Begin-of-text id of the byte tokenizer.
const BYTE_BOS: u32 = 256;
/// End-of-turn id of the byte tokenizer.
const BYTE_END: u32 = 257;
/// Vocabulary of the byte tokenizer (256 bytes, five specials, padded to a multiple of 8).
pub(crate) const BYTE_VOCAB: usize = 264;

const END_OF_SEQUENCE_NAMES: [&str; 5] =
    ["</s>", "<|endoftext|>", "<|end_of_text|>", "<eos>", "<|eot_id|>"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChatFormat {
    Bytes,
    ChatMl,
    Llama3,
    Plain,
}

#[derive(Debug, Clone)]
enum Vocabulary {
    Bytes,
    Hf(Box<tokenizers::Tokenizer>),
}

/// A conversation as token ids, with the ids that training computes its loss on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Encoded {
    /// The ids.
    pub(crate) ids: Vec<u32>,
    /// For each id, whether the model learns to produce it (assistant text and its end token).
    pub(crate) trained: Vec<bool>,
}

impl Encoded {
    fn push(&mut self, ids: &[u32], trained: bool) {
        self.ids.extend_from_slice(ids);
        self.trained.extend(std::iter::repeat_n(trained, ids.len()));
    }
}

/// A tokenizer with its chat template and stop tokens.
#[derive(Debug, Clone)]
pub(crate) struct TextTokenizer {
    vocabulary: Vocabulary,
    format: ChatFormat,
    begin: Option<u32>,
    end_of_turn: Option<u32>,
    stops: Vec<u32>,
}

impl TextTokenizer {
    /// The byte-level tokenizer of `tt-local/tiny`.
    pub(crate) fn bytes() -> Self {
        Self {
            vocabulary: Vocabulary::Bytes,
            format: ChatFormat::Bytes,
            begin: Some(BYTE_BOS),
            end_of_turn: Some(BYTE_END),
            stops: vec![BYTE_END],
        }
    }

    /// Loads `tokenizer.json` and picks the chat template from its special tokens.
    pub(crate) fn from_file(path: &Path) -> Result<Self, LocalError> {
        let tokenizer = tokenizers::Tokenizer::from_file(path).map_err(|err| {
            LocalError::Tokenizer { message: format!("cannot load `{}`: {err}", path.display()) }
        })?;
        let id = |name: &str| tokenizer.token_to_id(name);
        let end_of_sequence = END_OF_SEQUENCE_NAMES.iter().find_map(|name| id(name));
        let (format, begin, end_of_turn) = if let Some(im_end) =
            id("<|im_end|>").filter(|_| id("<|im_start|>").is_some())
        {
            (ChatFormat::ChatMl, None, Some(im_end))
        } else if let Some(eot) = id("<|eot_id|>").filter(|_| id("<|start_header_id|>").is_some()) {
            (ChatFormat::Llama3, id("<|begin_of_text|>"), Some(eot))
        } else {
            (ChatFormat::Plain, id("<s>").or_else(|| id("<|begin_of_text|>")), end_of_sequence)
        };
        let stops: Vec<u32> = end_of_turn.into_iter().chain(end_of_sequence).collect();
        Ok(Self {
            vocabulary: Vocabulary::Hf(Box::new(tokenizer)),
            format,
            begin,
            end_of_turn,
            stops,
        })
    }

    /// Ids that end an answer.
    pub(crate) fn stops(&self) -> &[u32] {
        &self.stops
    }

    /// The largest id plus one.
    pub(crate) fn vocab_size(&self) -> usize {
        match &self.vocabulary {
            Vocabulary::Bytes => BYTE_VOCAB,
            Vocabulary::Hf(tokenizer) => tokenizer.get_vocab_size(true),
        }
    }

    fn encode_text(&self, text: &str) -> Result<Vec<u32>, LocalError> {
        match &self.vocabulary {
            Vocabulary::Bytes => Ok(text.bytes().map(u32::from).collect()),
            Vocabulary::Hf(tokenizer) => tokenizer
                .encode(text, false)
                .map(|encoding| encoding.get_ids().to_vec())
                .map_err(|err| LocalError::Tokenizer { message: err.to_string() }),
        }
    }

    /// The text of generated ids, special tokens left out.
    pub(crate) fn decode(&self, ids: &[u32]) -> Result<String, LocalError> {
        match &self.vocabulary {
            Vocabulary::Bytes => {
                let bytes: Vec<u8> = ids.iter().filter_map(|&id| u8::try_from(id).ok()).collect();
                Ok(String::from_utf8_lossy(&bytes).into_owned())
            }
            Vocabulary::Hf(tokenizer) => tokenizer
                .decode(ids, true)
                .map_err(|err| LocalError::Tokenizer { message: err.to_string() }),
        }
    }

    /// Encodes a conversation with the chat template. Assistant messages are marked trained
    /// (their text and end token); with `generation_prompt`, the assistant header is appended
    /// so that the model answers next.
    pub(crate) fn encode_chat(
        &self,
        messages: &[ChatMessage],
        generation_prompt: bool,
    ) -> Result<Encoded, LocalError> {
        let mut encoded = Encoded::default();
        if let Some(begin) = self.begin {
            encoded.push(&[begin], false);
        }
        for message in messages {
            encoded.push(&self.header(message.role)?, false);
            let trained = message.role == ChatRole::Assistant;
            encoded.push(&self.encode_text(&message.content)?, trained);
            encoded.push(&self.end_of_message()?, trained);
            if self.format == ChatFormat::ChatMl || self.format == ChatFormat::Plain {
                encoded.push(
                    &self.encode_text(if self.format == ChatFormat::ChatMl {
                        "\n"
                    } else {
                        "\n\n"
                    })?,
                    false,
                );
            }
        }
        if generation_prompt {
            encoded.push(&self.header(ChatRole::Assistant)?, false);
        }
        Ok(encoded)
    }

    fn header(&self, role: ChatRole) -> Result<Vec<u32>, LocalError> {
        let name = match role {
            ChatRole::System => "system",
            ChatRole::User => "user",
            ChatRole::Assistant => "assistant",
        };
        match self.format {
            ChatFormat::Bytes => Ok(vec![match role {
                ChatRole::System => 258,
                ChatRole::User => 259,
                ChatRole::Assistant => 260,
            }]),
            ChatFormat::ChatMl => self.encode_text(&format!("<|im_start|>{name}\n")),
            ChatFormat::Llama3 => {
                self.encode_text(&format!("<|start_header_id|>{name}<|end_header_id|>\n\n"))
            }
            ChatFormat::Plain => {
                let title = match role {
                    ChatRole::System => "System",
                    ChatRole::User => "User",
                    ChatRole::Assistant => "Assistant",
                };
                self.encode_text(&format!("### {title}:\n"))
            }
        }
    }

    fn end_of_message(&self) -> Result<Vec<u32>, LocalError> {
        match self.end_of_turn {
            Some(end) => Ok(vec![end]),
            None => Err(LocalError::Tokenizer {
                message: "the tokenizer has no end-of-sequence token".to_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(role: ChatRole, content: &str) -> ChatMessage {
        ChatMessage { role, content: content.to_owned() }
    }

    #[test]
    fn the_byte_template_marks_only_the_answer_and_its_end_as_trained() {
        let tokenizer = TextTokenizer::bytes();
        let encoded = tokenizer
            .encode_chat(
                &[message(ChatRole::User, "Hi"), message(ChatRole::Assistant, "Yo")],
                false,
            )
            .unwrap();
        assert_eq!(encoded.ids, [BYTE_BOS, 259, 72, 105, BYTE_END, 260, 89, 111, BYTE_END]);
        assert_eq!(encoded.trained, [false, false, false, false, false, false, true, true, true]);
        assert_eq!(tokenizer.decode(&encoded.ids).unwrap(), "HiYo");
    }

    #[test]
    fn a_generation_prompt_ends_with_the_assistant_header() {
        let encoded =
            TextTokenizer::bytes().encode_chat(&[message(ChatRole::User, "Hi")], true).unwrap();
        assert_eq!(encoded.ids.last(), Some(&260));
        assert!(encoded.trained.iter().all(|&trained| !trained));
    }
}
