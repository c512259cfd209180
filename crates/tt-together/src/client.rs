//! The client value: one `reqwest::Client` with timeouts, the API root and the key.

use std::time::Duration;

use reqwest::{Method, RequestBuilder, Url};
use tt_providers::ProviderError;

use crate::config::TogetherConfig;
use crate::http::error_chain;

/// Together AI as a [`tt_providers::FineTuner`] and an [`tt_providers::Inference`].
///
/// Cheap to clone (the connection pool is shared).
#[derive(Debug, Clone)]
pub struct TogetherClient {
    pub(crate) http: reqwest::Client,
    base_url: Url,
    api_key: String,
    pub(crate) max_retries: usize,
    pub(crate) retry_min_delay: Duration,
    pub(crate) retry_max_delay: Duration,
    pub(crate) max_retry_after: Duration,
}

impl TogetherClient {
    /// A client for `config`. Fails with [`ProviderError::Unauthorized`] when the key is
    /// empty, and with [`ProviderError::Rejected`] when the base URL is not an absolute
    /// `http(s)` URL.
    pub fn new(config: TogetherConfig) -> Result<Self, ProviderError> {
        if config.api_key.trim().is_empty() {
            return Err(ProviderError::Unauthorized {
                message: "no Together API key is configured".to_owned(),
            });
        }
        let base_url = Url::parse(config.base_url.trim_end_matches('/')).map_err(|err| {
            ProviderError::Rejected {
                message: format!("invalid Together base URL `{}`: {err}", config.base_url),
            }
        })?;
        if !matches!(base_url.scheme(), "http" | "https") || base_url.cannot_be_a_base() {
            return Err(ProviderError::Rejected {
                message: format!(
                    "invalid Together base URL `{}`: expected http(s)://host/…",
                    config.base_url
                ),
            });
        }
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(concat!("tuned-tensor/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| ProviderError::Transport { message: error_chain(&err) })?;
        Ok(Self {
            http,
            base_url,
            api_key: config.api_key,
            max_retries: config.max_retries,
            retry_min_delay: config.retry_min_delay,
            retry_max_delay: config.retry_max_delay,
            max_retry_after: config.max_retry_after,
        })
    }

    /// `base_url/segment/segment…`, each segment percent-encoded.
    pub(crate) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base_url.clone();
        url.path_segments_mut()
            .expect("checked in new: the base URL can be a base")
            .pop_if_empty()
            .extend(segments);
        url
    }

    /// An authenticated request to `base_url/segments…`.
    pub(crate) fn request(&self, method: Method, segments: &[&str]) -> RequestBuilder {
        self.http.request(method, self.url(segments)).bearer_auth(&self.api_key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base_url: &str) -> Result<TogetherClient, ProviderError> {
        TogetherClient::new(TogetherConfig::new("key").with_base_url(base_url))
    }

    #[test]
    fn urls_are_built_under_the_base_path_with_or_without_a_trailing_slash() {
        for base in ["http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1/"] {
            let url = client(base).unwrap().url(&["fine-tunes", "ft-1", "events"]);
            assert_eq!(url.as_str(), "http://127.0.0.1:9/v1/fine-tunes/ft-1/events");
        }
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        let url = client("http://127.0.0.1:9/v1").unwrap().url(&["fine-tunes", "../x y"]);
        assert_eq!(url.path(), "/v1/fine-tunes/..%2Fx%20y");
    }

    #[test]
    fn an_empty_key_or_a_bad_base_url_is_refused() {
        assert!(matches!(
            TogetherClient::new(TogetherConfig::new(" ")),
            Err(ProviderError::Unauthorized { .. })
        ));
        assert!(matches!(client("not a url"), Err(ProviderError::Rejected { .. })));
        assert!(matches!(client("ftp://example.com/v1"), Err(ProviderError::Rejected { .. })));
    }
}
