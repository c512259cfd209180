//! API key format: `tt_` + an 8-character lookup prefix + a 32-character secret, all in
//! base62. Only the SHA-256 of the whole key is stored; the prefix finds the row.

use sha2::{Digest, Sha256};

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const PREFIX_LEN: usize = 8;
const SECRET_LEN: usize = 32;
/// Random bytes needed to make one key: one per base62 character.
pub const API_KEY_RANDOM_BYTES: usize = PREFIX_LEN + SECRET_LEN;

/// A freshly made key: the full text (shown once) and its parts to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    /// The whole key, `tt_…`. Show it once, never store it.
    pub key: String,
    /// The non-secret lookup prefix (the 8 characters after `tt_`).
    pub prefix: String,
    /// SHA-256 of the whole key.
    pub hash: [u8; 32],
}

/// Builds a key from `random` bytes (from a CSPRNG; the domain draws none itself).
/// Each byte picks one base62 character; the modulo bias is negligible at 40 characters.
pub fn make_api_key(random: &[u8; API_KEY_RANDOM_BYTES]) -> NewApiKey {
    let body: String =
        random.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect();
    let key = format!("tt_{body}");
    NewApiKey { prefix: body[..PREFIX_LEN].to_owned(), hash: hash_api_key(&key), key }
}

/// The lookup prefix of a presented key, or `None` when it does not look like one of ours.
pub fn api_key_prefix(key: &str) -> Option<&str> {
    let body = key.strip_prefix("tt_")?;
    let well_formed =
        body.len() == PREFIX_LEN + SECRET_LEN && body.bytes().all(|b| b.is_ascii_alphanumeric());
    well_formed.then(|| &body[..PREFIX_LEN])
}

/// SHA-256 of a key. Keys carry about 238 bits of randomness, so a fast hash is enough;
/// a slow password hash would only add latency to every request.
pub fn hash_api_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_made_key_has_the_tt_format_and_its_own_prefix_and_hash() {
        let random: [u8; API_KEY_RANDOM_BYTES] = std::array::from_fn(|i| (i * 37 % 256) as u8);
        let made = make_api_key(&random);
        assert!(made.key.starts_with("tt_"));
        assert_eq!(made.key.len(), 3 + 40);
        assert_eq!(api_key_prefix(&made.key), Some(made.prefix.as_str()));
        assert_eq!(hash_api_key(&made.key), made.hash);
    }

    #[test]
    fn malformed_keys_have_no_prefix() {
        assert_eq!(api_key_prefix("tt_short"), None);
        assert_eq!(api_key_prefix("sk_0123456789012345678901234567890123456789"), None);
        assert_eq!(api_key_prefix("tt_012345678901234567890123456789012345678!"), None);
        assert_eq!(api_key_prefix("tt_é12345678901234567890123456789012345678"), None);
    }
}
