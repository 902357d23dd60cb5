//! Turns a feed's bytes into UTF-8 text whose XML declaration agrees with it. The charset
//! comes from, in order: a byte-order mark, the HTTP `charset`, the XML declaration, then
//! sniffing (chardetng, told the site is in `.cn`). A label the bytes contradict (they do not
//! decode cleanly in it) is not trusted and the next source is asked. Pure: no I/O.

mod mojibake;

use encoding_rs::{Encoding, GB18030, UTF_16BE, UTF_16LE, UTF_8};

pub use mojibake::{is_double_encoded, repair_mangled};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CharsetSource {
    ByteOrderMark,
    Http,
    XmlDeclaration,
    Sniffed,
}

#[derive(Debug, Clone)]
pub struct Decoded {
    pub text: String,
    /// The encoding's name (for UTF-32, which encoding_rs lacks, `UTF-32LE`/`UTF-32BE`).
    pub encoding: &'static str,
    pub source: CharsetSource,
    pub warnings: Vec<String>,
}

/// Decodes `bytes`; `content_type` is the HTTP `Content-Type` header, if any.
pub fn to_utf8(bytes: &[u8], content_type: Option<&str>) -> Decoded {
    to_utf8_from(bytes, content_type, None)
}

/// Like `to_utf8`, with the host the bytes came from: its country-code TLD tells the sniffer
/// which legacy encoding to favour (a `.jp` site's Shift_JIS). Other hosts get `.cn`'s bias,
/// since the community's sites that omit a charset are Chinese.
pub fn to_utf8_from(bytes: &[u8], content_type: Option<&str>, host: Option<&str>) -> Decoded {
    let mut warnings = Vec::new();
    let decoded = by_byte_order_mark(bytes)
        .or_else(|| by_label(bytes, http_charset(content_type), CharsetSource::Http, &mut warnings))
        .or_else(|| by_label(bytes, declared_charset(bytes), CharsetSource::XmlDeclaration, &mut warnings))
        .unwrap_or_else(|| sniffed(bytes, tld_hint(host)));
    let text = with_utf8_declaration(&decoded.0);
    Decoded { text, encoding: decoded.1, source: decoded.2, warnings }
}

type Found = (String, &'static str, CharsetSource);

fn by_byte_order_mark(bytes: &[u8]) -> Option<Found> {
    let found = |text: String, name| Some((text, name, CharsetSource::ByteOrderMark));
    match bytes {
        [0xFF, 0xFE, 0, 0, rest @ ..] => found(utf32(rest, false), "UTF-32LE"),
        [0, 0, 0xFE, 0xFF, rest @ ..] => found(utf32(rest, true), "UTF-32BE"),
        [0xEF, 0xBB, 0xBF, rest @ ..] => found(UTF_8.decode_without_bom_handling(rest).0.into_owned(), "UTF-8"),
        [0xFF, 0xFE, rest @ ..] => found(UTF_16LE.decode_without_bom_handling(rest).0.into_owned(), "UTF-16LE"),
        [0xFE, 0xFF, rest @ ..] => found(UTF_16BE.decode_without_bom_handling(rest).0.into_owned(), "UTF-16BE"),
        // No mark, but `<?` in a wide encoding is as good as one.
        [b'<', 0, 0, 0, ..] => found(utf32(bytes, false), "UTF-32LE"),
        [0, 0, 0, b'<', ..] => found(utf32(bytes, true), "UTF-32BE"),
        [b'<', 0, b'?', 0, ..] => found(UTF_16LE.decode_without_bom_handling(bytes).0.into_owned(), "UTF-16LE"),
        [0, b'<', 0, b'?', ..] => found(UTF_16BE.decode_without_bom_handling(bytes).0.into_owned(), "UTF-16BE"),
        _ => None,
    }
}

fn utf32(bytes: &[u8], big_endian: bool) -> String {
    bytes
        .chunks_exact(4)
        .map(|chunk| {
            let array = [chunk[0], chunk[1], chunk[2], chunk[3]];
            let value = if big_endian { u32::from_be_bytes(array) } else { u32::from_le_bytes(array) };
            char::from_u32(value).unwrap_or('\u{FFFD}')
        })
        .collect()
}

/// Decodes with a declared label if the bytes agree with it; otherwise records why not.
fn by_label(bytes: &[u8], label: Option<String>, source: CharsetSource, warnings: &mut Vec<String>) -> Option<Found> {
    let label = label?;
    let Some(encoding) = encoding_for_label(&label) else {
        if let Some((code_page, table)) = oem_code_page(&label) {
            return match table.decode_string_checked(bytes) {
                Some(text) => Some((text, code_page, source)),
                None => {
                    warnings.push(format!(
                        "the bytes are not valid {label} as declared ({source:?}); charset detected instead"
                    ));
                    None
                }
            };
        }
        warnings.push(format!("unknown charset '{label}' ({source:?}) ignored"));
        return None;
    };
    // A wide encoding named by a label we could read as ASCII is a contradiction: the bytes
    // are ASCII-compatible (wide documents were recognised by their first bytes already).
    if encoding == UTF_16LE || encoding == UTF_16BE {
        warnings.push(format!("charset '{label}' ({source:?}) contradicts ASCII-compatible bytes; ignored"));
        return None;
    }
    // Non-ASCII bytes that happen to be valid UTF-8 are UTF-8: real text in a legacy
    // encoding almost never forms valid multi-byte sequences, while servers that label
    // everything iso-8859-1 are common.
    if encoding != UTF_8 && !bytes.is_ascii() && std::str::from_utf8(bytes).is_ok() {
        warnings.push(format!("charset '{label}' ({source:?}) contradicts bytes that are valid UTF-8; read as UTF-8"));
        return None;
    }
    match encoding.decode_without_bom_handling_and_without_replacement(bytes) {
        Some(text) => Some((text.into_owned(), encoding.name(), source)),
        None if encoding == UTF_8 && mostly_utf8(bytes) => {
            warnings.push("a few bytes are not valid UTF-8 (a character cut in two?); they were replaced".to_string());
            Some((String::from_utf8_lossy(bytes).into_owned(), UTF_8.name(), source))
        }
        None => {
            warnings
                .push(format!("the bytes are not valid {label} as declared ({source:?}); charset detected instead"));
            None
        }
    }
}

/// encoding_rs maps `gb2312` to GBK; its GBK decoder reads all of GB18030, which is what
/// sites labelling themselves gb2312 actually send. Name it GB18030 for clarity.
fn encoding_for_label(label: &str) -> Option<&'static Encoding> {
    let label = label.trim().to_ascii_lowercase();
    let label = match label.as_str() {
        "ms-cyrl" => "windows-1251".to_string(),
        "macroman" => "macintosh".to_string(),
        "maccyrillic" | "mac-cyrillic" => "x-mac-cyrillic".to_string(),
        other if other.starts_with("windows_") => other.replace('_', "-"),
        other => other.to_string(),
    };
    let encoding = Encoding::for_label(label.as_bytes())?;
    Some(if encoding == encoding_rs::GBK { GB18030 } else { encoding })
}

/// IBM/DOS code pages by the labels Python and IANA use (`437`, `cp850`, `ibm866`,
/// `csIBM855`, `cspc8codepage437`, `cp_is` ...).
fn oem_code_page(label: &str) -> Option<(&'static str, &'static oem_cp::code_table_type::TableType)> {
    let label = label.trim().to_ascii_lowercase();
    let number: u16 = match label.as_str() {
        "cp_is" => 861,
        "cp_gr" => 869,
        "cspc8codepage437" => 437,
        "cspc775baltic" => 775,
        "cspc850multilingual" => 850,
        "cspcp852" => 852,
        "cspc862latinhebrew" => 862,
        other => other.trim_start_matches("csibm").trim_start_matches("ibm").trim_start_matches("cp").parse().ok()?,
    };
    const NAMES: &[(u16, &str)] = &[
        (437, "IBM437"),
        (720, "IBM720"),
        (737, "IBM737"),
        (775, "IBM775"),
        (850, "IBM850"),
        (852, "IBM852"),
        (855, "IBM855"),
        (857, "IBM857"),
        (858, "IBM858"),
        (860, "IBM860"),
        (861, "IBM861"),
        (862, "IBM862"),
        (863, "IBM863"),
        (864, "IBM864"),
        (865, "IBM865"),
        (866, "IBM866"),
        (869, "IBM869"),
        (874, "IBM874"),
    ];
    let name = NAMES.iter().find(|(n, _)| *n == number)?.1;
    Some((name, oem_cp::code_table::DECODING_TABLE_CP_MAP.get(&number)?))
}

fn tld_hint(host: Option<&str>) -> &[u8] {
    let tld = host.and_then(|h| h.rsplit('.').next()).unwrap_or("");
    if tld.len() == 2 && tld.bytes().all(|b| b.is_ascii_alphabetic()) {
        tld.as_bytes()
    } else {
        b"cn"
    }
}

fn http_charset(content_type: Option<&str>) -> Option<String> {
    content_type?.split(';').skip(1).find_map(|parameter| {
        let (name, value) = parameter.split_once('=')?;
        (name.trim().eq_ignore_ascii_case("charset")).then(|| value.trim().trim_matches(['"', '\'']).to_string())
    })
}

/// The `encoding` pseudo-attribute of an `<?xml ...?>` declaration near the start.
fn declared_charset(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(1024)];
    let start = find(head, b"<?xml")?;
    let end = start + find(&head[start..], b"?>")?;
    let declaration = std::str::from_utf8(&head[start..end]).ok()?;
    pseudo_attribute(declaration, "encoding")
}

fn pseudo_attribute(declaration: &str, name: &str) -> Option<String> {
    let after = &declaration[declaration.find(name)? + name.len()..];
    let after = after.trim_start().strip_prefix('=')?.trim_start();
    let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &after[1..];
    Some(value[..value.find(quote)?].to_string())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

fn sniffed(bytes: &[u8], tld: &[u8]) -> Found {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return (text.to_string(), "UTF-8", CharsetSource::Sniffed);
    }
    if mostly_utf8(bytes) {
        return (String::from_utf8_lossy(bytes).into_owned(), "UTF-8", CharsetSource::Sniffed);
    }
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(bytes, true);
    let encoding = detector.guess(Some(tld), true);
    let encoding = if encoding == encoding_rs::GBK { GB18030 } else { encoding };
    (encoding.decode_without_bom_handling(bytes).0.into_owned(), encoding.name(), CharsetSource::Sniffed)
}

/// UTF-8 with a few broken sequences, such as an excerpt cut in the middle of a character,
/// is still UTF-8: at least 20 valid multi-byte characters for every invalid sequence.
fn mostly_utf8(bytes: &[u8]) -> bool {
    let (mut multibyte, mut invalid) = (0usize, 0usize);
    for chunk in bytes.utf8_chunks() {
        multibyte += chunk.valid().chars().filter(|c| !c.is_ascii()).count();
        invalid += usize::from(!chunk.invalid().is_empty());
    }
    invalid > 0 && multibyte >= 20 * invalid
}

/// The text is UTF-8 now; a declaration naming another encoding would make the XML parser
/// decode it a second time, so it is rewritten to say UTF-8.
fn with_utf8_declaration(text: &str) -> String {
    let head_end = text.len().min(1024);
    let head_end = (0..=head_end).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
    let Some(start) = text[..head_end].find("<?xml") else { return text.to_string() };
    let Some(length) = text[start..].find("?>") else { return text.to_string() };
    let declaration = &text[start..start + length];
    let Some(encoding) = pseudo_attribute(declaration, "encoding") else { return text.to_string() };
    if encoding.eq_ignore_ascii_case("utf-8") {
        return text.to_string();
    }
    let rewritten = declaration.replacen(&encoding, "utf-8", 1);
    format!("{}{}{}", &text[..start], rewritten, &text[start + length..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbk_without_any_declaration_is_detected() {
        let (bytes, _, _) = GB18030.encode("<rss><channel><title>长沙.NET技术社区的博客文章</title></channel></rss>");
        let decoded = to_utf8(&bytes, None);
        assert!(decoded.text.contains("长沙.NET技术社区的博客文章"), "{}", decoded.text);
        assert_eq!(decoded.source, CharsetSource::Sniffed);
    }

    #[test]
    fn a_declaration_the_bytes_contradict_is_not_trusted() {
        let (body, _, _) = GB18030.encode("<rss><channel><title>中文标题测试内容</title></channel></rss>");
        let mut bytes = br#"<?xml version="1.0" encoding="utf-8"?>"#.to_vec();
        bytes.extend_from_slice(&body);
        let decoded = to_utf8(&bytes, None);
        assert!(decoded.text.contains("中文标题测试内容"), "{}", decoded.text);
        assert!(!decoded.warnings.is_empty());
    }

    #[test]
    fn the_http_charset_wins_over_the_declaration() {
        let (body, _, _) =
            encoding_rs::BIG5.encode("<?xml version=\"1.0\" encoding=\"gb2312\"?><rss><title>中文</title></rss>");
        let decoded = to_utf8(&body, Some("application/xml; charset=big5"));
        assert!(decoded.text.contains("中文"));
        assert!(decoded.text.contains("encoding=\"utf-8\""));
        assert_eq!(decoded.source, CharsetSource::Http);
    }

    #[test]
    fn utf8_with_one_character_cut_in_two_stays_utf8() {
        let mut bytes = "<rss><title>".as_bytes().to_vec();
        bytes.extend_from_slice("依赖注入与中间件管道的设计思路以及在实际项目中的应用".as_bytes());
        let cut = "长".as_bytes();
        bytes.extend_from_slice(&cut[..2]);
        bytes.extend_from_slice(b"</title></rss>");
        let decoded = to_utf8(&bytes, None);
        assert_eq!(decoded.encoding, "UTF-8");
        assert!(decoded.text.contains("依赖注入与中间件管道"));
    }

    #[test]
    fn dos_code_pages_and_python_labels_decode() {
        let decoded = to_utf8(b"<?xml version=\"1.0\" encoding=\"cp437\"?><t>\x80</t>", None);
        assert!(decoded.text.contains("<t>Ç</t>"), "{}", decoded.text);
        let decoded = to_utf8(b"<?xml version=\"1.0\" encoding=\"windows_1251\"?><t>\xc0</t>", None);
        assert!(decoded.text.contains("<t>А</t>"), "{}", decoded.text);
    }

    #[test]
    fn a_japanese_host_makes_undeclared_shift_jis_readable() {
        let (bytes, _, _) = encoding_rs::SHIFT_JIS
            .encode("<rss><title>日本語のブログ記事のタイトルです。よろしくお願いします。</title></rss>");
        let decoded = to_utf8_from(&bytes, None, Some("blog.example.jp"));
        assert!(decoded.text.contains("日本語のブログ記事"), "{}", decoded.text);
    }

    #[test]
    fn utf16_with_a_byte_order_mark_decodes() {
        let mut bytes = vec![0xFF, 0xFE];
        for unit in "<rss>é</rss>".encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        assert_eq!(to_utf8(&bytes, None).text, "<rss>é</rss>");
    }
}
