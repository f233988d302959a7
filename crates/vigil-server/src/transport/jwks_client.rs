//! vigil's HTTP client for LTI platforms: the real [`JwksFetcher`] (an
//! HTTPS GET) and [`PlatformPoster`] (token and Assessment Control POSTs,
//! membership GETs),
//! with reqwest, a whole-request timeout, no redirects, and the body read in
//! chunks up to a limit ([`vigil_lti::MAX_JWKS_BYTES`] for key sets,
//! [`vigil_lti::MAX_RESPONSE_BYTES`] for service answers), so a platform
//! that sends more is refused before more is buffered.

use std::time::Duration;

use futures::future::BoxFuture;
use vigil_lti::HttpsUrl;

use crate::service::acs::{Fetched, PlatformPoster, Posted};
use crate::service::lti::{FetchError, JwksFetcher};

/// How long a key set fetch may take, connection to last byte.
pub const JWKS_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct HttpJwksFetcher {
    client: reqwest::Client,
    max_bytes: usize,
}

impl HttpJwksFetcher {
    pub fn new(timeout: Duration) -> Result<Self, FetchError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // A platform's JWKS URL is registered exactly; following a
            // redirect would let it point vigil anywhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("vigil/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FetchError::Transport(e.to_string()))?;
        Ok(HttpJwksFetcher { client, max_bytes: vigil_lti::MAX_JWKS_BYTES })
    }

    async fn get(&self, url: &HttpsUrl) -> Result<Vec<u8>, FetchError> {
        let response = self
            .client
            .get(url.as_str())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(classify)?;
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        read_bounded(response, self.max_bytes).await
    }
}

/// The body, read chunk by chunk and refused as soon as it passes `max`
/// (a declared length over it is refused before any is read).
async fn read_bounded(mut response: reqwest::Response, max: usize) -> Result<Vec<u8>, FetchError> {
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(FetchError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(classify)? {
        if body.len() + chunk.len() > max {
            return Err(FetchError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn classify(e: reqwest::Error) -> FetchError {
    if e.is_timeout() { FetchError::Timeout } else { FetchError::Transport(e.without_url().to_string()) }
}

impl JwksFetcher for HttpJwksFetcher {
    fn fetch<'a>(&'a self, url: &'a HttpsUrl) -> BoxFuture<'a, Result<Vec<u8>, FetchError>> {
        Box::pin(self.get(url))
    }
}

impl HttpJwksFetcher {
    /// A POST to a platform's service endpoint; the answer's status and
    /// body (at most [`vigil_lti::MAX_RESPONSE_BYTES`]), whatever the status.
    async fn post_to(
        &self,
        url: &HttpsUrl,
        content_type: &'static str,
        bearer: Option<&str>,
        body: String,
    ) -> Result<Posted, FetchError> {
        let mut request = self
            .client
            .post(url.as_str())
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(classify)?;
        let status = response.status().as_u16();
        let body = read_bounded(response, vigil_lti::MAX_RESPONSE_BYTES).await?;
        Ok(Posted { status, body })
    }
}

impl HttpJwksFetcher {
    /// A GET of a platform's service endpoint, the body read up to `max`.
    async fn get_from(
        &self,
        url: &HttpsUrl,
        accept: &'static str,
        bearer: &str,
        max: usize,
    ) -> Result<Fetched, FetchError> {
        let response = self
            .client
            .get(url.as_str())
            .header(reqwest::header::ACCEPT, accept)
            .bearer_auth(bearer)
            .send()
            .await
            .map_err(classify)?;
        let status = response.status().as_u16();
        let links: Vec<&str> =
            response.headers().get_all(reqwest::header::LINK).iter().filter_map(|v| v.to_str().ok()).collect();
        let link = (!links.is_empty()).then(|| links.join(", "));
        let body = read_bounded(response, max).await?;
        Ok(Fetched { status, body, link })
    }
}

impl PlatformPoster for HttpJwksFetcher {
    fn get<'a>(
        &'a self,
        url: &'a HttpsUrl,
        accept: &'static str,
        bearer: &'a str,
        max_bytes: usize,
    ) -> BoxFuture<'a, Result<Fetched, FetchError>> {
        Box::pin(self.get_from(url, accept, bearer, max_bytes))
    }

    fn post<'a>(
        &'a self,
        url: &'a HttpsUrl,
        content_type: &'static str,
        bearer: Option<&'a str>,
        body: String,
    ) -> BoxFuture<'a, Result<Posted, FetchError>> {
        Box::pin(self.post_to(url, content_type, bearer, body))
    }
}
