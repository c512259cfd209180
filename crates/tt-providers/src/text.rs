//! Text normalisation shared by the similarity judge and the augmenters' de-duplication.
//! Everything works on `char`s, never bytes, so accents, CJK and emoji are safe.

/// Punctuation: ASCII punctuation plus the common Unicode marks (quotes, dashes, ellipsis,
/// inverted marks, CJK full-width punctuation). Emoji and symbols are not punctuation: an
/// answer of "👍" is content.
pub(crate) fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation()
        || matches!(
            c,
            '¡' | '¿'
                | '«'
                | '»'
                | '‘'
                | '’'
                | '“'
                | '”'
                | '…'
                | '–'
                | '—'
                | '·'
                | '。'
                | '、'
                | '，'
                | '．'
                | '！'
                | '？'
                | '：'
                | '；'
                | '「'
                | '」'
                | '『'
                | '』'
                | '（'
                | '）'
                | '【'
                | '】'
                | '・'
                | '〜'
        )
}

/// Scripts written without spaces between words; each of their characters counts as a token,
/// so that token overlap means something for Chinese and Japanese.
fn is_unspaced_script(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF     // hiragana, katakana
        | 0x3400..=0x4DBF   // CJK extension A
        | 0x4E00..=0x9FFF   // CJK unified ideographs
        | 0xF900..=0xFAFF   // CJK compatibility ideographs
        | 0x20000..=0x2FA1F // CJK extensions B–F and supplement
    )
}

/// Lower case, whitespace runs collapsed to one space, punctuation and spaces trimmed from
/// both ends: `"  Hello,   World! "` → `"hello,   world"` → `"hello, world"`.
pub(crate) fn normalise(text: &str) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    collapsed.trim_matches(|c: char| is_punctuation(c) || c.is_whitespace()).to_owned()
}

/// Lower-cased word tokens: runs of characters that are neither whitespace nor punctuation,
/// with each character of an unspaced script (CJK) as its own token.
pub(crate) fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_whitespace() || is_punctuation(c) || is_unspaced_script(c) {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            if is_unspaced_script(c) {
                out.push(c.to_string());
            }
        } else {
            current.push(c);
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalising_ignores_case_spacing_and_surrounding_punctuation() {
        assert_eq!(normalise("  Hello,   World! "), "hello, world");
        assert_eq!(normalise("«Ça va?»"), "ça va");
        assert_eq!(normalise("👍"), "👍");
        assert_eq!(normalise("?!"), "");
    }

    #[test]
    fn tokens_split_words_and_cjk_characters() {
        assert_eq!(tokens("Reset it, please!"), ["reset", "it", "please"]);
        assert_eq!(tokens("日本語です"), ["日", "本", "語", "で", "す"]);
        assert_eq!(tokens("Café 😀 ok"), ["café", "😀", "ok"]);
        assert!(tokens(" ... ").is_empty());
    }
}
