//! Pages sent again without rendering them: the tag page of a busy repository is asked for far
//! more often than its data changes.
//!
//! A page is kept when its render offers it (see `portolan_app::ssr::reuse`: the rows were
//! all read, from the registry client's caches) and is sent again only while what it was built
//! from is still what the caches hold — the same tag list, the same digests, the same referrer
//! lists — so a reused page is the page a new render would give, never staler than the tag
//! TTL. Keyed by the address, who is asking (their identity, all of it: roles come from it) and
//! the origin the request reached; bounded in bytes.
//!
//! Every response still carries its own Content-Security-Policy nonce. The page is kept gzip
//! compressed in pieces cut at the nonce: each piece a run of deflate blocks that ends
//! byte-aligned and refers to nothing before it, so a response is the pieces with a new nonce
//! between them in stored blocks, and a CRC-32 combined from the pieces' own — nothing is
//! compressed again. Clients that do not take gzip get pages rendered afresh.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use flate2::{Compress, Compression, FlushCompress};
use portolan_app::ssr::AppState;
use portolan_app::ssr::RequestOrigin;
use portolan_app::ssr::auth::CurrentUser;
use portolan_app::ssr::reuse::{BuiltFrom, Reuse};

/// Bytes of compressed pages kept at most.
const CAPACITY_BYTES: u64 = 16 * 1024 * 1024;
/// A page is never kept longer than this, whatever its data.
const KEPT_AT_MOST: Duration = Duration::from_secs(600);
/// Larger pages are not kept.
const LARGEST_PAGE: usize = 4 * 1024 * 1024;

/// The kept pages of this replica.
#[derive(Clone)]
pub struct PageCache {
    pages: moka::sync::Cache<String, Arc<KeptPage>>,
}

impl Default for PageCache {
    fn default() -> Self {
        Self::new(CAPACITY_BYTES)
    }
}

impl PageCache {
    pub fn new(capacity_bytes: u64) -> Self {
        let pages = moka::sync::Cache::builder()
            .max_capacity(capacity_bytes)
            .weigher(|k: &String, v: &Arc<KeptPage>| u32::try_from(k.len() + v.weight()).unwrap_or(u32::MAX))
            .time_to_live(KEPT_AT_MOST)
            .build();
        Self { pages }
    }
}

/// A page as kept: its headers, and its body as gzip pieces cut at the nonce.
struct KeptPage {
    headers: HeaderMap,
    /// The Content-Security-Policy cut at the nonce.
    policy: Vec<String>,
    body: Spliced,
    built_from: BuiltFrom,
}

impl KeptPage {
    fn weight(&self) -> usize {
        self.body.pieces.iter().map(|p| p.deflated.len()).sum::<usize>() + 1024
    }

    fn response(&self, nonce: &str) -> Response {
        let mut response = Response::new(Body::from(self.body.gzip(nonce)));
        *response.headers_mut() = self.headers.clone();
        if let Ok(v) = HeaderValue::from_str(&self.policy.join(nonce)) {
            response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
        }
        response
    }
}

/// One piece of the body between two nonces.
struct Piece {
    /// Raw deflate blocks, not final, ending byte-aligned (a sync flush).
    deflated: Bytes,
    /// The CRC-32 of the piece's plain bytes (it knows their length).
    crc: crc32fast::Hasher,
    plain_len: u64,
}

/// A body whose pieces are joined by a value given per response.
struct Spliced {
    pieces: Vec<Piece>,
}

impl Spliced {
    /// `plain` cut at every `nonce`, each piece compressed on its own.
    fn new(plain: &[u8], nonce: &str) -> Self {
        let pieces = split(plain, nonce.as_bytes())
            .into_iter()
            .map(|piece| {
                let mut crc = crc32fast::Hasher::new();
                crc.update(piece);
                Piece { deflated: deflate(piece), crc, plain_len: piece.len() as u64 }
            })
            .collect();
        Self { pieces }
    }

    /// The gzip member of the pieces joined by `nonce`.
    fn gzip(&self, nonce: &str) -> Vec<u8> {
        let nonce = nonce.as_bytes();
        let deflated: usize = self.pieces.iter().map(|p| p.deflated.len()).sum();
        let mut out = Vec::with_capacity(deflated + self.pieces.len() * (nonce.len() + 5) + 32);
        // ID1 ID2, deflate, no flags, no time, no extra flags, unknown OS.
        out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
        let mut crc = crc32fast::Hasher::new();
        let mut len: u64 = 0;
        let mut nonce_crc = crc32fast::Hasher::new();
        nonce_crc.update(nonce);
        for (i, piece) in self.pieces.iter().enumerate() {
            if i > 0 {
                stored_block(&mut out, nonce, false);
                crc.combine(&nonce_crc);
                len += nonce.len() as u64;
            }
            out.extend_from_slice(&piece.deflated);
            crc.combine(&piece.crc);
            len += piece.plain_len;
        }
        stored_block(&mut out, &[], true);
        out.extend_from_slice(&crc.finalize().to_le_bytes());
        // ISIZE: the length modulo 2^32.
        out.extend_from_slice(&((len & 0xffff_ffff) as u32).to_le_bytes());
        out
    }
}

/// `text` cut at each occurrence of `at` (which is left out).
fn split<'a>(text: &'a [u8], at: &[u8]) -> Vec<&'a [u8]> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.windows(at.len()).position(|w| w == at) {
        pieces.push(&rest[..i]);
        rest = &rest[i + at.len()..];
    }
    pieces.push(rest);
    pieces
}

/// Raw deflate of `plain`, ending with a sync flush: byte-aligned, not final, and — a fresh
/// compressor for each piece — referring to nothing before it.
fn deflate(plain: &[u8]) -> Bytes {
    let mut compress = Compress::new(Compression::default(), false);
    let mut out = Vec::with_capacity(plain.len() / 4 + 64);
    let mut input = plain;
    loop {
        if out.capacity() - out.len() < 1024 {
            out.reserve(out.capacity().max(4096));
        }
        let before = compress.total_in();
        // Compression into a Vec with room cannot fail.
        let _ = compress.compress_vec(input, &mut out, FlushCompress::Sync);
        input = &input[(compress.total_in() - before) as usize..];
        // Done when all input is in and the flush left room to spare (nothing more pending).
        if input.is_empty() && out.capacity() - out.len() >= 64 {
            break;
        }
    }
    Bytes::from(out)
}

/// A stored deflate block holding `data` (at most 65,535 bytes), at a byte boundary.
fn stored_block(out: &mut Vec<u8>, data: &[u8], last: bool) {
    let len = u16::try_from(data.len()).expect("a nonce is short");
    out.push(u8::from(last));
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(data);
}

/// Whether the client takes gzip (`Accept-Encoding` names it, or `*`, without `q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let coding = parts.next().unwrap_or_default();
        let refused = parts.any(|p| p.strip_prefix("q=").is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q <= 0.0)));
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
    })
}

/// The nonce in a Content-Security-Policy (`'nonce-…'`).
fn nonce_of(policy: &str) -> Option<&str> {
    let start = policy.find("'nonce-")? + "'nonce-".len();
    let len = policy[start..].find('\'')?;
    Some(&policy[start..start + len]).filter(|n| n.len() >= 16)
}

/// A fresh nonce, as Leptos makes them.
fn fresh_nonce() -> String {
    leptos::nonce::Nonce::new().to_string()
}

/// The middleware: sends a kept page when it is still current, else renders and keeps what
/// the render offers.
pub async fn serve(State((state, cache)): State<(AppState, PageCache)>, mut request: Request, next: Next) -> Response {
    if request.method() != Method::GET || !request.uri().path().starts_with("/r/") || !accepts_gzip(request.headers()) {
        return next.run(request).await;
    }
    let who = request.extensions().get::<CurrentUser>().and_then(|c| c.0.as_ref()).and_then(|i| serde_json::to_string(i).ok());
    let origin = request.extensions().get::<RequestOrigin>().map(|o| o.0.clone()).unwrap_or_default();
    let key = format!("{}\n{origin}\n{}", request.uri(), who.unwrap_or_default());
    if let Some(page) = cache.pages.get(&key) {
        if page.built_from.still_current(&state).await {
            metrics::counter!("portolan_cache_lookups_total", "cache" => "pages", "result" => "hit").increment(1);
            return page.response(&fresh_nonce());
        }
        cache.pages.invalidate(&key);
    }
    metrics::counter!("portolan_cache_lookups_total", "cache" => "pages", "result" => "miss").increment(1);
    let slot = Arc::new(Reuse::default());
    request.extensions_mut().insert(slot.clone());
    let response = next.run(request).await;
    let Some(built_from) = slot.take() else { return response };
    let (parts, body) = response.into_parts();
    let policy = parts.headers.get(header::CONTENT_SECURITY_POLICY).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let keepable = parts.status == StatusCode::OK
        && !parts.headers.contains_key(header::SET_COOKIE)
        && !parts.headers.contains_key(header::CONTENT_ENCODING)
        && policy.as_deref().and_then(nonce_of).is_some();
    if !keepable {
        return Response::from_parts(parts, body);
    }
    // The page is whole in memory already (pages are rendered whole before they are sent).
    let plain = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(plain) if plain.len() <= LARGEST_PAGE => plain,
        Ok(plain) => return Response::from_parts(parts, Body::from(plain)),
        Err(e) => {
            tracing::warn!(error = %e, "reading a rendered page");
            return (StatusCode::INTERNAL_SERVER_ERROR, "The page could not be sent; reload it.").into_response();
        }
    };
    let policy = policy.unwrap_or_default();
    let nonce = nonce_of(&policy).unwrap_or_default().to_owned();
    let mut headers = parts.headers.clone();
    headers.remove(header::CONTENT_LENGTH);
    headers.remove(header::CONTENT_SECURITY_POLICY);
    headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    if !headers.get_all(header::VARY).iter().any(|v| v.to_str().is_ok_and(|v| v.to_ascii_lowercase().contains("accept-encoding"))) {
        headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    let page = Arc::new(KeptPage {
        headers,
        policy: policy.split(nonce.as_str()).map(str::to_owned).collect(),
        body: Spliced::new(&plain, &nonce),
        built_from,
    });
    cache.pages.insert(key, page.clone());
    page.response(&nonce)
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn gunzip(bytes: &[u8]) -> String {
        let mut out = String::new();
        flate2::read::GzDecoder::new(bytes).read_to_string(&mut out).expect("valid gzip");
        out
    }

    #[test]
    fn a_kept_page_is_sent_with_each_responses_own_nonce() {
        let old = "AAAAAAAAAAAAAAAAAAAAAA";
        let rows: String = (0..2000).map(|i| format!("<tr><td>row {i}</td><td>sha256:{i:064x}</td></tr>\n")).collect();
        let page = format!("<html><script nonce=\"{old}\">a()</script>{rows}<script nonce=\"{old}\">b()</script></html>");
        let spliced = Spliced::new(page.as_bytes(), old);
        assert_eq!(spliced.pieces.len(), 3);
        for nonce in ["BBBBBBBBBBBBBBBBBBBBBB", "x_-9Zq0aLw1b2C3d4E5f6G", old] {
            let gz = spliced.gzip(nonce);
            assert_eq!(gunzip(&gz), page.replace(old, nonce), "the same page, the new nonce everywhere");
            assert!(gz.len() < page.len() / 4, "compressed: {} of {}", gz.len(), page.len());
        }
    }

    #[test]
    fn pages_without_the_nonce_and_empty_pieces_are_whole() {
        let nonce = "CCCCCCCCCCCCCCCCCCCCCC";
        for page in ["", "no nonce here", "CCCCCCCCCCCCCCCCCCCCCC", "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC at the start"] {
            let gz = Spliced::new(page.as_bytes(), nonce).gzip("DDDDDDDDDDDDDDDDDDDDDD");
            assert_eq!(gunzip(&gz), page.replace(nonce, "DDDDDDDDDDDDDDDDDDDDDD"));
        }
        // Incompressible bytes, larger than any one deflate output buffer.
        let noise: String = (0..300_000u32).map(|i| char::from(b'!' + (i.wrapping_mul(2_654_435_761) >> 27) as u8)).collect();
        let gz = Spliced::new(noise.as_bytes(), nonce).gzip(nonce);
        assert_eq!(gunzip(&gz), noise);
    }

    #[test]
    fn gzip_is_taken_unless_refused() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
            accepts_gzip(&m)
        };
        assert!(h("br, gzip") && h("gzip;q=0.5") && h("*") && h("deflate, GZIP"));
        assert!(!h("br") && !h("gzip;q=0") && !h("identity") && !accepts_gzip(&HeaderMap::new()));
        assert_eq!(nonce_of("script-src 'self' 'nonce-abcdefghijklmnop1234' 'x'"), Some("abcdefghijklmnop1234"));
        assert_eq!(nonce_of("default-src 'none'"), None);
    }
}
