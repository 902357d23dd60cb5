//! Content negotiation for cached bodies: which encoding a request accepts (RFC 9110
//! `Accept-Encoding` with q-values), and the compressed variants of a rendered body, built
//! once per render instead of once per request. Feed readers nearly all send
//! `Accept-Encoding: gzip`, so compressing the cached body on every poll would spend the CPU
//! that caching saved. How hard follows who shares the body (`Effort`), and a large one is
//! compressed off the async workers (`respond`). Responses that are not cached are still
//! compressed by tower-http's layer, which leaves a response alone once it carries
//! `Content-Encoding`.

use std::io::Write;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{header, HeaderMap};

/// Bodies shorter than this are sent as they are: the headers would cost more than the saving.
const MIN_COMPRESSIBLE: usize = 512;

/// Marks a response whose encoding `conditional` chose, so the compression layer leaves it
/// alone even when it went out uncompressed (too small, or compression did not help).
#[derive(Clone, Copy, Debug)]
pub struct Negotiated;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Brotli,
}

impl Encoding {
    pub fn header_value(self) -> Option<&'static str> {
        match self {
            Encoding::Identity => None,
            Encoding::Gzip => Some("gzip"),
            Encoding::Brotli => Some("br"),
        }
    }

    /// The metric label.
    pub fn name(self) -> &'static str {
        self.header_value().unwrap_or("identity")
    }
}

/// The best encoding `headers` accept: the highest q-value among br and gzip (br when they
/// tie, as it is smaller), identity when neither is acceptable or the header is absent.
/// `*` stands for any encoding not named; `q=0` refuses.
pub fn negotiate(headers: &HeaderMap) -> Encoding {
    let mut gzip: Option<f32> = None;
    let mut brotli: Option<f32> = None;
    let mut any: Option<f32> = None;
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let quality = parts
                .filter_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            match name.as_str() {
                "gzip" | "x-gzip" => gzip = Some(quality),
                "br" => brotli = Some(quality),
                "*" => any = Some(quality),
                _ => {}
            }
        }
    }
    let gzip = gzip.or(any).unwrap_or(0.0);
    let brotli = brotli.or(any).unwrap_or(0.0);
    if brotli > 0.0 && brotli >= gzip {
        Encoding::Brotli
    } else if gzip > 0.0 {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

/// How hard a body is compressed, by how many answers share it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effort {
    /// A body every reader shares (a feed, the home page): compressed once, sent many times.
    Thorough,
    /// A body one client chose (a cursor's page, a search): compressed for about one answer.
    /// A crawl of 320 KB API pages (BENCHMARKS section 14): gzip 1 answers in 7 ms where gzip 6
    /// took 20, with 67 KB where 6 gave 47; brotli 3 in 8.5 ms where 4 took 11, as small
    /// (55 KB). Brotli 1, the fastest elsewhere, is slower here and twice the size.
    Quick,
}

/// Bodies at least this large are compressed on a blocking thread (`respond`): gzip 6 takes
/// about 12 ms for a 320 KB API page, which on an async worker holds up every request that
/// worker serves.
const OFF_THREAD_BYTES: usize = 16 * 1024;

/// `body` compressed with `encoding`, or `None` when that would not make it smaller.
/// Levels are moderate: this runs once per render, and a render follows every change,
/// including each new API query. Brotli 5 and up set up hash tables that cost 4.7 ms even
/// for an 11 KB API page (quality 4: 0.12 ms, and 6% larger); gzip 6 is as small as 9.
pub fn compress(encoding: Encoding, body: &[u8], effort: Effort) -> Option<Bytes> {
    let (gzip_level, brotli_quality) = match effort {
        Effort::Thorough => (6, 4),
        Effort::Quick => (1, 3),
    };
    if body.len() < MIN_COMPRESSIBLE {
        return None;
    }
    let compressed = match encoding {
        Encoding::Identity => return None,
        Encoding::Gzip => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 4), flate2::Compression::new(gzip_level));
            encoder.write_all(body).ok()?;
            encoder.finish().ok()?
        }
        Encoding::Brotli => {
            let mut output = Vec::with_capacity(body.len() / 4);
            // A window just large enough for the body: the encoder's memory follows the
            // window, and a larger one finds nothing more in a body that fits.
            let lgwin = (usize::BITS - body.len().leading_zeros()).clamp(16, 22) as i32;
            let params = brotli::enc::BrotliEncoderParams {
                quality: brotli_quality,
                lgwin,
                size_hint: body.len(),
                ..Default::default()
            };
            brotli::BrotliCompress(&mut &body[..], &mut output, &params).ok()?;
            output
        }
    };
    (compressed.len() < body.len()).then(|| Bytes::from(compressed))
}

/// Answers with `rendered` as `conditional` does, once the compressed variant the request
/// needs is built: a large one on a blocking thread holding one of the read permits, and when
/// none is free the body goes out uncompressed, never a stalled worker or a 503.
pub async fn respond(
    state: &super::AppState,
    rendered: Arc<super::Rendered>,
    headers: &HeaderMap,
    cache_control: &'static str,
) -> axum::response::Response {
    let mut encoding = negotiate(headers);
    let building = rendered.body.len() >= OFF_THREAD_BYTES
        && !rendered.has_variant(encoding)
        && !super::not_modified(&rendered, headers);
    if building {
        let built = match state.service.reads.try_take() {
            Some(permit) => {
                let (service, rendered) = (Arc::clone(&state.service), Arc::clone(&rendered));
                tokio::task::spawn_blocking(move || {
                    let _permit = permit;
                    rendered.encoded(encoding, &service.metrics);
                })
                .await
                .is_ok()
            }
            None => false,
        };
        if !built {
            encoding = Encoding::Identity;
        }
    }
    super::conditional_in(state, &rendered, headers, cache_control, encoding)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepting(value: &str) -> Encoding {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, value.parse().unwrap());
        negotiate(&headers)
    }

    #[test]
    fn no_header_means_identity() {
        assert_eq!(negotiate(&HeaderMap::new()), Encoding::Identity);
    }

    #[test]
    fn brotli_wins_a_tie_and_q_values_decide_otherwise() {
        assert_eq!(accepting("gzip, deflate, br"), Encoding::Brotli);
        assert_eq!(accepting("gzip"), Encoding::Gzip);
        assert_eq!(accepting("br;q=0.5, gzip;q=0.8"), Encoding::Gzip);
        assert_eq!(accepting("br;q=0, gzip"), Encoding::Gzip);
        assert_eq!(accepting("gzip;q=0, br;q=0"), Encoding::Identity);
        assert_eq!(accepting("identity"), Encoding::Identity);
        assert_eq!(accepting("deflate"), Encoding::Identity);
    }

    #[test]
    fn a_star_covers_the_encodings_not_named() {
        assert_eq!(accepting("*"), Encoding::Brotli);
        assert_eq!(accepting("br;q=0, *"), Encoding::Gzip);
        assert_eq!(accepting("*;q=0"), Encoding::Identity);
    }

    #[test]
    fn garbage_in_the_header_is_ignored() {
        assert_eq!(accepting("gzip;q=abc"), Encoding::Gzip);
        assert_eq!(accepting(",,;;"), Encoding::Identity);
    }

    #[test]
    fn compressed_bodies_inflate_to_the_original() {
        let body = "长沙.NET技术社区 <entry>ASP.NET Core</entry>\n".repeat(200);
        let gzip = compress(Encoding::Gzip, body.as_bytes(), Effort::Thorough).unwrap();
        let mut inflated = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gzip[..]), &mut inflated).unwrap();
        assert_eq!(inflated, body);
        let brotli = compress(Encoding::Brotli, body.as_bytes(), Effort::Thorough).unwrap();
        let mut decompressed = Vec::new();
        brotli::BrotliDecompress(&mut &brotli[..], &mut decompressed).unwrap();
        assert_eq!(decompressed, body.as_bytes());
        assert!(brotli.len() < body.len() / 10);
    }

    #[test]
    fn small_bodies_are_not_compressed() {
        assert_eq!(compress(Encoding::Gzip, b"{\"data\":[]}", Effort::Thorough), None);
    }
}
