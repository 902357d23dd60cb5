//! Text mangled before it reached the feed, repaired: UTF-8 read as Latin-1 or
//! Windows-1252 and encoded again (mojibake: `å…³äºŽ` for 关于), and C1 control characters
//! meant as Windows-1252 punctuation. Used on titles, names, tags and, before and after the
//! sanitizer's parse, on bodies. Pure: no I/O.

use std::borrow::Cow;

/// Whether `text` is UTF-8 that was read as Latin-1 or Windows-1252 and encoded again, which
/// `repair_mangled` undoes (for a warning to the member).
pub fn is_double_encoded(text: &str) -> bool {
    !text.is_ascii() && undo_double_encoding(text).is_some()
}

/// Repairs text mangled before it reached the feed: UTF-8 that was read as Latin-1 and
/// encoded again ("â€¦" for "…"), and C1 control characters (U+0080-U+009F) that were meant
/// as Windows-1252 punctuation (`&#146;` for a right quote), as feedparser and HTML5 do.
/// A C1 control that Windows-1252 leaves undefined means nothing and is dropped, so no C1
/// control reaches any output. Borrows when there is nothing to repair, as there almost
/// never is.
pub fn repair_mangled(text: &str) -> Cow<'_, str> {
    if text.is_ascii() {
        return Cow::Borrowed(text);
    }
    let text = match undo_double_encoding(text) {
        Some(undone) => Cow::Owned(undone),
        None => Cow::Borrowed(text),
    };
    // C1 controls are U+0080-U+009F: C2 80 to C2 9F in UTF-8.
    let has_c1 = text.as_bytes().windows(2).any(|pair| pair[0] == 0xc2 && (0x80..=0x9f).contains(&pair[1]));
    if !has_c1 {
        return text;
    }
    let repaired = text
        .chars()
        .filter_map(|c| match u8::try_from(c as u32) {
            Ok(byte @ 0x80..=0x9f) => {
                let mapped = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&[byte]).0.chars().next();
                mapped.filter(|m| !is_c1_control(*m))
            }
            _ => Some(c),
        })
        .collect();
    Cow::Owned(repaired)
}

fn is_c1_control(c: char) -> bool {
    ('\u{80}'..='\u{9f}').contains(&c)
}

/// Reverses UTF-8 bytes that were read as Latin-1 or Windows-1252. Each run of characters
/// that map back to one byte is decoded as UTF-8; bytes that do not form UTF-8 keep their
/// characters, so a sequence cut short at the end of an excerpt, or a character the
/// mangling did not touch, leaves the rest repaired. The text counts as mangled when it
/// held at least one multi-byte sequence and almost no stray bytes.
fn undo_double_encoding(text: &str) -> Option<String> {
    // Mangled text holds a UTF-8 lead byte read as a character: U+00C2 to U+00F4 (C3 82 to
    // C3 B4 in UTF-8). Text without one (CJK, most Latin text) cannot be mangled this way.
    let has_lead = text.as_bytes().windows(2).any(|pair| pair[0] == 0xc3 && (0x82..=0xb4).contains(&pair[1]));
    if !has_lead {
        return None;
    }
    let mut undone = Undone { text: String::with_capacity(text.len()), sequences: 0, strays: 0 };
    let mut run: Vec<(u8, char)> = Vec::new();
    for c in text.chars() {
        match byte_read_as(c) {
            Some(byte) => run.push((byte, c)),
            None => {
                undone.run(&run);
                run.clear();
                undone.text.push(c);
            }
        }
    }
    undone.run(&run);
    let mangled = undone.sequences > 0 && undone.strays <= 1 + undone.sequences / 8;
    (mangled && undone.text != text).then_some(undone.text)
}

/// The byte a character stands for when a byte was read as Latin-1 or Windows-1252.
fn byte_read_as(c: char) -> Option<u8> {
    if let Ok(byte) = u8::try_from(c as u32) {
        return Some(byte);
    }
    let mut utf8 = [0; 4];
    let (encoded, _, unmappable) = encoding_rs::WINDOWS_1252.encode(c.encode_utf8(&mut utf8));
    (!unmappable && encoded.len() == 1).then(|| encoded[0])
}

/// Text decoded so far, with the multi-byte sequences repaired and the non-ASCII
/// characters that formed no sequence (kept as they were; `strays` counts their groups).
struct Undone {
    text: String,
    sequences: usize,
    strays: usize,
}

impl Undone {
    fn run(&mut self, run: &[(u8, char)]) {
        let bytes: Vec<u8> = run.iter().map(|(byte, _)| *byte).collect();
        let mut at = 0;
        for chunk in bytes.utf8_chunks() {
            self.text.push_str(chunk.valid());
            self.sequences += chunk.valid().chars().filter(|c| !c.is_ascii()).count();
            at += chunk.valid().len();
            for (_, original) in &run[at..at + chunk.invalid().len()] {
                self.text.push(*original);
            }
            self.strays += usize::from(!chunk.invalid().is_empty());
            at += chunk.invalid().len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mangled_text_is_repaired() {
        assert_eq!(repair_mangled("\u{e2}\u{80}\u{a6}"), "…");
        assert_eq!(repair_mangled("â€¦"), "…");
        assert_eq!(repair_mangled("don\u{92}t"), "don\u{2019}t");
        assert_eq!(repair_mangled("café"), "café");
        assert_eq!(repair_mangled("长沙"), "长沙");
    }

    #[test]
    fn mangled_text_cut_short_or_beside_untouched_characters_is_still_repaired() {
        let latin1 = |text: &str| -> String { text.bytes().map(char::from).collect() };
        let cut = latin1("关于 MicroPython 的内存管理");
        let cut: String = cut.chars().take(cut.chars().count() - 2).collect();
        assert_eq!(repair_mangled(&cut), format!("关于 MicroPython 的内存管{}", '\u{e7}'));
        assert_eq!(repair_mangled(&format!("{}：长沙", latin1("关于"))), "关于：长沙");
        assert_eq!(repair_mangled("Größe, café, naïve"), "Größe, café, naïve");
    }

    #[test]
    fn no_c1_control_survives_repair() {
        // 0x81, 0x8D, 0x8F, 0x90, 0x9D have no Windows-1252 character.
        assert_eq!(repair_mangled("a\u{81}b\u{9d}c\u{85}"), "abc…");
        let mangled: String = "依赖".bytes().map(char::from).collect();
        assert!(mangled.contains('\u{9d}'), "依 is E4 BE 9D");
        assert_eq!(repair_mangled(&mangled), "依赖");
    }
}
