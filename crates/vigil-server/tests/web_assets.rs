//! The built web apps are served as a CDN would: the precompressed copy the
//! browser accepts (brotli over gzip) with `Vary: Accept-Encoding`,
//! content-hashed assets cached for a year and the rest revalidated, 304s
//! for what the browser has, and ranges.

mod common;

use common::Harness;
use reqwest::header;

/// A built student app as `web/tools/precompress.mjs` leaves it. The copies'
/// bytes say which file was sent (the client here never decompresses).
fn web_dir() -> tempfile::TempDir {
    let web = tempfile::tempdir().unwrap();
    let dist = web.path().join("student/dist");
    std::fs::create_dir_all(dist.join("assets")).unwrap();
    std::fs::create_dir_all(dist.join("models/wasm")).unwrap();
    std::fs::write(dist.join("index.html"), "<!doctype html><title>vigil</title>").unwrap();
    std::fs::write(dist.join("assets/index-Ab12Cd34.js"), "console.log('the page');".repeat(100)).unwrap();
    std::fs::write(dist.join("assets/index-Ab12Cd34.js.br"), "BROTLI").unwrap();
    std::fs::write(dist.join("assets/index-Ab12Cd34.js.gz"), "GZIP").unwrap();
    std::fs::write(dist.join("models/wasm/vision.wasm"), b"\0asm\x01\0\0\0 the model".repeat(50)).unwrap();
    std::fs::write(dist.join("models/wasm/vision.wasm.br"), "WASM-BROTLI").unwrap();
    web
}

async fn get(h: &Harness, path: &str, headers: &[(header::HeaderName, &str)]) -> reqwest::Response {
    let mut req = reqwest::Client::new().get(format!("{}{path}", h.base));
    for (name, value) in headers {
        req = req.header(name, *value);
    }
    req.send().await.expect("a response")
}

fn h(res: &reqwest::Response, name: header::HeaderName) -> String {
    res.headers().get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_apps_are_served_compressed_cached_and_revalidated() {
    let web = web_dir();
    let dir = web.path().to_owned();
    let h_ = Harness::start_configured(&[], move |c| c.web_dir = Some(dir)).await;
    let js = "/student/assets/index-Ab12Cd34.js";

    // The encoding the browser accepts, brotli first; the type stays the file's.
    let br = get(&h_, js, &[(header::ACCEPT_ENCODING, "gzip, deflate, br, zstd")]).await;
    assert_eq!(br.status(), 200);
    assert_eq!(h(&br, header::CONTENT_ENCODING), "br");
    assert!(h(&br, header::CONTENT_TYPE).starts_with("text/javascript"), "{}", h(&br, header::CONTENT_TYPE));
    assert!(h(&br, header::VARY).to_ascii_lowercase().contains("accept-encoding"), "{:?}", br.headers());
    assert_eq!(h(&br, header::CACHE_CONTROL), "public, max-age=31536000, immutable");
    assert_eq!(br.text().await.unwrap(), "BROTLI");
    let gz = get(&h_, js, &[(header::ACCEPT_ENCODING, "gzip")]).await;
    assert_eq!((h(&gz, header::CONTENT_ENCODING), gz.text().await.unwrap()), ("gzip".into(), "GZIP".into()));
    let plain = get(&h_, js, &[]).await;
    assert_eq!(h(&plain, header::CONTENT_ENCODING), "");
    assert!(plain.text().await.unwrap().starts_with("console.log"));

    // A model: compressed where a copy exists, revalidated rather than kept for a year.
    let wasm = get(&h_, "/student/models/wasm/vision.wasm", &[(header::ACCEPT_ENCODING, "br")]).await;
    assert_eq!(
        (h(&wasm, header::CONTENT_ENCODING), h(&wasm, header::CONTENT_TYPE)),
        ("br".into(), "application/wasm".into())
    );
    assert_eq!(h(&wasm, header::CACHE_CONTROL), "no-cache");
    let last_modified = h(&wasm, header::LAST_MODIFIED);
    assert!(!last_modified.is_empty());

    // A revisit: the browser's copy is still good, nothing is sent again.
    let again = get(
        &h_,
        "/student/models/wasm/vision.wasm",
        &[(header::ACCEPT_ENCODING, "br"), (header::IF_MODIFIED_SINCE, &last_modified)],
    )
    .await;
    assert_eq!(again.status(), 304);
    assert_eq!(h(&again, header::CACHE_CONTROL), "no-cache");
    assert!(again.bytes().await.unwrap().is_empty());

    // The entry point: always revalidated, so a new build is picked up at once.
    let html = get(&h_, "/student/", &[(header::ACCEPT_ENCODING, "br, gzip")]).await;
    assert_eq!(html.status(), 200);
    assert_eq!(h(&html, header::CACHE_CONTROL), "no-cache");
    assert!(html.text().await.unwrap().contains("<title>vigil</title>"));

    // Ranges, uncompressed.
    let part = get(&h_, "/student/models/wasm/vision.wasm", &[(header::RANGE, "bytes=0-3")]).await;
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().await.unwrap().as_ref(), b"\0asm");

    // A miss is a 404 with no caching promise.
    let missing = get(&h_, "/student/assets/gone-00000000.js", &[]).await;
    assert_eq!(missing.status(), 404);
    assert_eq!(h(&missing, header::CACHE_CONTROL), "");
}
