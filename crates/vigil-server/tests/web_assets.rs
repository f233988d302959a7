//! The built web apps are served as a CDN would: the precompressed copy the
//! browser accepts (brotli over gzip) with `Vary: Accept-Encoding`,
//! content-hashed assets and model directories cached for a year and the
//! rest (the HTML, the models' manifest) revalidated, 304s for what the
//! browser has, and ranges.

mod common;

use common::Harness;
use reqwest::header;

/// A built student app as `web/tools/precompress.mjs` leaves it. The copies'
/// bytes say which file was sent (the client here never decompresses).
fn web_dir() -> tempfile::TempDir {
    let web = tempfile::tempdir().unwrap();
    let dist = web.path().join("student/dist");
    std::fs::create_dir_all(dist.join("assets")).unwrap();
    std::fs::create_dir_all(dist.join(WASM_DIR)).unwrap();
    // A group directory left at its plain name (a build that did not hash it).
    std::fs::create_dir_all(dist.join("models/face")).unwrap();
    std::fs::write(dist.join("index.html"), "<!doctype html><title>vigil</title>").unwrap();
    std::fs::write(dist.join("assets/index-Ab12Cd34.js"), "console.log('the page');".repeat(100)).unwrap();
    std::fs::write(dist.join("assets/index-Ab12Cd34.js.br"), "BROTLI").unwrap();
    std::fs::write(dist.join("assets/index-Ab12Cd34.js.gz"), "GZIP").unwrap();
    std::fs::write(dist.join(WASM_DIR).join("vision.wasm"), b"\0asm\x01\0\0\0 the model".repeat(50)).unwrap();
    std::fs::write(dist.join(WASM_DIR).join("vision.wasm.br"), "WASM-BROTLI").unwrap();
    std::fs::write(dist.join("models/face/face.task"), "an unhashed model").unwrap();
    std::fs::write(
        dist.join("models/manifest.json"),
        format!(r#"{{"layout":6,"groups":{{"wasm":"{}"}}}}"#, WASM_DIR.trim_start_matches("models/")),
    )
    .unwrap();
    web
}

/// A model group directory as the student app's build names it: the group and 16 hex digits of its content's hash.
const WASM_DIR: &str = "models/wasm-0123456789abcdef";

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

    // A model in its content-hashed directory: compressed where a copy
    // exists, and kept for a year (a changed model is in another directory).
    let wasm_path = format!("/student/{WASM_DIR}/vision.wasm");
    let wasm = get(&h_, &wasm_path, &[(header::ACCEPT_ENCODING, "br")]).await;
    assert_eq!(
        (h(&wasm, header::CONTENT_ENCODING), h(&wasm, header::CONTENT_TYPE)),
        ("br".into(), "application/wasm".into())
    );
    assert_eq!(h(&wasm, header::CACHE_CONTROL), "public, max-age=31536000, immutable");
    assert!(h(&wasm, header::VARY).to_ascii_lowercase().contains("accept-encoding"), "{:?}", wasm.headers());
    let last_modified = h(&wasm, header::LAST_MODIFIED);
    assert!(!last_modified.is_empty());

    // A browser that asks anyway (a reload): a 304 with no body, still immutable.
    let again =
        get(&h_, &wasm_path, &[(header::ACCEPT_ENCODING, "br"), (header::IF_MODIFIED_SINCE, &last_modified)]).await;
    assert_eq!(again.status(), 304);
    assert_eq!(h(&again, header::CACHE_CONTROL), "public, max-age=31536000, immutable");
    assert!(again.bytes().await.unwrap().is_empty());

    // The manifest, at its fixed URL, says where the groups are now: always
    // revalidated, so a new build's directories are found at once; and so is
    // a model directory without a hash in its name.
    for path in ["/student/models/manifest.json", "/student/models/face/face.task"] {
        let res = get(&h_, path, &[]).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(h(&res, header::CACHE_CONTROL), "no-cache", "{path}");
        let last_modified = h(&res, header::LAST_MODIFIED);
        let again = get(&h_, path, &[(header::IF_MODIFIED_SINCE, &last_modified)]).await;
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(h(&again, header::CACHE_CONTROL), "no-cache", "{path}");
    }
    let manifest = get(&h_, "/student/models/manifest.json", &[]).await.text().await.unwrap();
    assert!(manifest.contains("wasm-0123456789abcdef"), "{manifest}");

    // The entry point: always revalidated, so a new build is picked up at once.
    let html = get(&h_, "/student/", &[(header::ACCEPT_ENCODING, "br, gzip")]).await;
    assert_eq!(html.status(), 200);
    assert_eq!(h(&html, header::CACHE_CONTROL), "no-cache");
    assert!(html.text().await.unwrap().contains("<title>vigil</title>"));

    // Ranges, uncompressed.
    let part = get(&h_, &wasm_path, &[(header::RANGE, "bytes=0-3")]).await;
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().await.unwrap().as_ref(), b"\0asm");

    // A miss is a 404 with no caching promise, in a hashed directory too
    // (the file may come with the next build).
    for path in ["/student/assets/gone-00000000.js", "/student/models/wasm-ffffffffffffffff/vision.wasm"] {
        let missing = get(&h_, path, &[]).await;
        assert_eq!(missing.status(), 404, "{path}");
        assert_eq!(h(&missing, header::CACHE_CONTROL), "", "{path}");
    }
}
