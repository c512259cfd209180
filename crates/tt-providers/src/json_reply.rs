//! Finding the JSON in an LLM's reply: models wrap it in code fences, prefix it with
//! "Here is the JSON:" or follow it with remarks, so the reply is scanned for a value that
//! parses, rather than parsed whole.

use serde_json::Value;

/// How many `{` / `[` positions are tried before giving up, which bounds the work on a long
/// reply full of braces.
const MAX_CANDIDATES: usize = 64;

/// The first JSON object or array in `text`, scanning left to right, that `accept` turns
/// into a value. Text before and after the JSON is ignored.
pub(crate) fn find_json<T>(text: &str, mut accept: impl FnMut(Value) -> Option<T>) -> Option<T> {
    let starts = text.char_indices().filter(|&(_, c)| c == '{' || c == '[').map(|(i, _)| i);
    for start in starts.take(MAX_CANDIDATES) {
        let mut values = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
        if let Some(Ok(value)) = values.next()
            && let Some(found) = accept(value)
        {
            return Some(found);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_object(text: &str) -> Option<Value> {
        find_json(text, |v| v.is_object().then_some(v))
    }

    #[test]
    fn json_is_found_inside_code_fences_and_prose() {
        let reply = "Sure! Here it is:\n```json\n{\"score\": 0.5}\n```\nHope that helps {not json}";
        assert_eq!(first_object(reply), Some(serde_json::json!({"score": 0.5})));
    }

    #[test]
    fn a_reply_without_json_gives_nothing() {
        assert_eq!(first_object("no braces at all"), None);
        assert_eq!(first_object("{ broken"), None);
    }

    #[test]
    fn later_candidates_are_tried_when_earlier_ones_are_refused() {
        let reply = r#"{"a": 1} then {"b": 2}"#;
        assert_eq!(find_json(reply, |v| v.get("b").cloned()), Some(serde_json::json!(2)));
    }
}
