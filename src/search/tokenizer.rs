//! How text becomes search terms, the same way for posts and for queries: Chinese, Japanese
//! and Korean runs become overlapping two-character terms (as Lucene's CJK analyzer does;
//! `依赖注入` is 依赖 赖注 注入, found by a phrase of the same bigrams), everything else splits
//! into words of letters and digits, lowercased and stemmed (English). Bigrams need no
//! dictionary: jieba's costs ~33 MB resident, more than half of the serving budget.
//!
//! A one-character query (锁, 池, 栈) is answered from fields of their own that hold each CJK
//! character of a post's title and body as a term, without positions (a single character
//! is never part of a phrase), so the bigram fields and their ranking stay as they were.
//! BENCHMARKS.md section 12 has what the characters cost.

use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, Stemmer, TextAnalyzer, Token, TokenStream, Tokenizer,
};

/// The name the analyzer is registered under in the index.
pub const ANALYZER: &str = "planet_text";
/// Exact, lowercased values (tags).
pub const EXACT: &str = "planet_exact";

/// Names the analyzer of the character fields under which it is registered.
pub const CHARACTERS: &str = "planet_characters";

/// The analyzer every text field and every query word goes through.
pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(CjkBigramTokenizer::default()).build()
}

/// What becomes of a word: dropped at 40 bytes or more, lowercased, stemmed (English). Run
/// by the tokenizer on its word terms only: CJK terms are never that long and have no case,
/// and the English stemmer leaves them as they are, so these filters were a fifth of the
/// index build's samples spent on terms they cannot change (a 100,000-post reindex 9.3-9.8
/// s → 8.2 s).
fn word_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(tantivy::tokenizer::RawTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(Stemmer::new(Language::English))
        .build()
}

/// Whole values, lowercased: a tag is matched as it is written.
pub fn exact_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(tantivy::tokenizer::RawTokenizer::default()).filter(LowerCaser).build()
}

/// Each CJK character of a text, once per occurrence: the terms of the character fields.
pub fn characters_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(CjkCharacterTokenizer).build()
}

/// Whether a query term is one CJK character (searched in the character fields).
pub fn is_one_character(term: &str) -> bool {
    let mut chars = term.chars();
    matches!((chars.next(), chars.next()), (Some(c), None) if is_cjk(c))
}

/// The terms of `text`, with their byte ranges, in order.
pub fn terms(text: &str) -> Vec<Token> {
    let mut analyzer = analyzer();
    let mut stream = analyzer.token_stream(text);
    let mut tokens = Vec::new();
    stream.process(&mut |token: &Token| tokens.push(token.clone()));
    tokens
}

/// Han ideographs (with the extension blocks and compatibility forms), kana and hangul:
/// scripts written without spaces between words.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // hiragana, katakana
        | 0x3400..=0x4DBF    // Han extension A
        | 0x4E00..=0x9FFF    // Han
        | 0xAC00..=0xD7AF    // hangul syllables
        | 0xF900..=0xFAFF    // Han compatibility
        | 0x20000..=0x2FA1F) // Han extensions B-F and compatibility supplement
}

/// Splits text into CJK bigrams and alphanumeric words, the words through `word_analyzer`.
#[derive(Clone)]
pub struct CjkBigramTokenizer {
    words: TextAnalyzer,
}

impl Default for CjkBigramTokenizer {
    fn default() -> CjkBigramTokenizer {
        CjkBigramTokenizer { words: word_analyzer() }
    }
}

/// Each CJK character of a text, nothing else.
#[derive(Clone, Default)]
pub struct CjkCharacterTokenizer;

impl Tokenizer for CjkCharacterTokenizer {
    type TokenStream<'a> = CharacterTokens<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> CharacterTokens<'a> {
        CharacterTokens { characters: text.char_indices(), token: Token::default() }
    }
}

/// The CJK characters of a text one at a time, in one reused token: a post's body has
/// hundreds, and a string allocated for each was most of the index build's added time.
pub struct CharacterTokens<'a> {
    characters: std::str::CharIndices<'a>,
    token: Token,
}

impl TokenStream for CharacterTokens<'_> {
    fn advance(&mut self) -> bool {
        let Some((at, c)) = self.characters.by_ref().find(|(_, c)| is_cjk(*c)) else { return false };
        // A new token's position is usize::MAX: the first character is at 0.
        self.token.position = self.token.position.wrapping_add(1);
        self.token.offset_from = at;
        self.token.offset_to = at + c.len_utf8();
        self.token.text.clear();
        self.token.text.push(c);
        true
    }

    fn token(&self) -> &Token {
        &self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

impl Tokenizer for CjkBigramTokenizer {
    type TokenStream<'a> = BigramTokens<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> BigramTokens<'a> {
        BigramTokens {
            text,
            characters: text.char_indices().peekable(),
            in_run: None,
            token: Token::default(),
            words: &mut self.words,
        }
    }
}

/// The terms of a text one at a time, in one reused token: each word run is a term; each CJK
/// run gives its bigrams (a lone character is a term of its own), at consecutive positions
/// so phrases match across them. A vector of tokens with a string each, built up front, cost
/// a 100,000-post reindex 13.3-14.0 s against 9.3-9.8 (BENCHMARKS.md section 14, eleventh
/// session).
pub struct BigramTokens<'a> {
    text: &'a str,
    characters: std::iter::Peekable<std::str::CharIndices<'a>>,
    /// Inside a CJK run: where its last character read starts, the first of the next bigram.
    in_run: Option<usize>,
    token: Token,
    words: &'a mut TextAnalyzer,
}

#[derive(PartialEq, Clone, Copy)]
enum Class {
    Cjk,
    Word,
    Other,
}

fn class(c: char) -> Class {
    if is_cjk(c) {
        Class::Cjk
    } else if c.is_alphanumeric() {
        Class::Word
    } else {
        Class::Other
    }
}

impl BigramTokens<'_> {
    /// The next character if it is of `kind`, taken; its start and end.
    fn take_next(&mut self, kind: Class) -> Option<(usize, usize)> {
        let (at, c) = self.characters.next_if(|(_, c)| class(*c) == kind)?;
        Some((at, at + c.len_utf8()))
    }

    fn emit(&mut self, from: usize, to: usize) -> bool {
        // A new token's position is usize::MAX: the first term is at 0.
        self.token.position = self.token.position.wrapping_add(1);
        self.token.offset_from = from;
        self.token.offset_to = to;
        self.token.text.clear();
        self.token.text.push_str(&self.text[from..to]);
        true
    }

    /// The word at `from..to` as `word_analyzer` makes it; false when it drops the word, whose
    /// position stays taken (as the filter did when it ran after the tokenizer).
    fn emit_word(&mut self, from: usize, to: usize) -> bool {
        self.token.position = self.token.position.wrapping_add(1);
        let text = self.text;
        let mut word = self.words.token_stream(&text[from..to]);
        if !word.advance() {
            return false;
        }
        self.token.offset_from = from;
        self.token.offset_to = to;
        self.token.text.clear();
        self.token.text.push_str(&word.token().text);
        true
    }
}

impl TokenStream for BigramTokens<'_> {
    fn advance(&mut self) -> bool {
        if let Some(first) = self.in_run {
            if let Some((second, end)) = self.take_next(Class::Cjk) {
                self.in_run = Some(second);
                return self.emit(first, end);
            }
            self.in_run = None;
        }
        while let Some((start, c)) = self.characters.next() {
            let end = start + c.len_utf8();
            match class(c) {
                Class::Other => continue,
                Class::Word => {
                    let mut last = end;
                    while let Some((_, end)) = self.take_next(Class::Word) {
                        last = end;
                    }
                    if self.emit_word(start, last) {
                        return true;
                    }
                }
                Class::Cjk => match self.take_next(Class::Cjk) {
                    Some((second, end)) => {
                        self.in_run = Some(second);
                        return self.emit(start, end);
                    }
                    None => return self.emit(start, end),
                },
            }
        }
        false
    }

    fn token(&self) -> &Token {
        &self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str) -> Vec<String> {
        terms(text).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn chinese_runs_become_overlapping_bigrams() {
        assert_eq!(texts("依赖注入"), ["依赖", "赖注", "注入"]);
        assert_eq!(texts("库"), ["库"]);
    }

    #[test]
    fn the_character_fields_hold_each_cjk_character_and_nothing_else() {
        let mut analyzer = characters_analyzer();
        let mut stream = analyzer.token_stream("线程池 ASP.NET 锁");
        let mut found = Vec::new();
        stream.process(&mut |token: &Token| found.push(token.text.clone()));
        assert_eq!(found, ["线", "程", "池", "锁"]);
        assert!(is_one_character("锁") && !is_one_character("锁池") && !is_one_character("a"));
    }

    #[test]
    fn latin_words_are_lowercased_and_stemmed_between_chinese() {
        assert_eq!(texts("在ASP.NET Core中使用Middlewares"), ["在", "asp", "net", "core", "中使", "使用", "middlewar"]);
    }

    #[test]
    fn positions_are_consecutive_so_phrases_match() {
        let positions: Vec<usize> = terms("EF Core 中间件").iter().map(|t| t.position).collect();
        assert_eq!(positions, [0, 1, 2, 3]);
    }

    /// The terms as first written: every run collected, then its bigrams; the streaming
    /// tokenizer must give the same terms at the same offsets and positions.
    fn terms_by_runs(text: &str) -> Vec<(String, usize, usize, usize)> {
        let mut terms = Vec::new();
        let mut chars = text.char_indices().peekable();
        while let Some((start, c)) = chars.next() {
            let kind = class(c);
            if kind == Class::Other {
                continue;
            }
            let mut run = vec![(start, c)];
            while let Some(&(at, next)) = chars.peek() {
                if class(next) != kind {
                    break;
                }
                run.push((at, next));
                chars.next();
            }
            let end_of = |(at, c): (usize, char)| at + c.len_utf8();
            let spans: Vec<(usize, usize)> = match kind {
                Class::Cjk if run.len() > 1 => run.windows(2).map(|pair| (pair[0].0, end_of(pair[1]))).collect(),
                _ => vec![(start, end_of(run[run.len() - 1]))],
            };
            for (from, to) in spans {
                terms.push((text[from..to].to_string(), from, to, terms.len()));
            }
        }
        terms
    }

    /// The terms as the analyzer first made them: `terms_by_runs`, then each through the
    /// filters that ran after the tokenizer on every term.
    fn terms_filtered_after(text: &str) -> Vec<(String, usize, usize, usize)> {
        let mut filters = TextAnalyzer::builder(tantivy::tokenizer::RawTokenizer::default())
            .filter(RemoveLongFilter::limit(40))
            .filter(LowerCaser)
            .filter(Stemmer::new(Language::English))
            .build();
        let mut kept = Vec::new();
        for (term, from, to, position) in terms_by_runs(text) {
            let mut stream = filters.token_stream(&term);
            if stream.advance() {
                kept.push((stream.token().text.clone(), from, to, position));
            }
        }
        kept
    }

    fn streamed(text: &str) -> Vec<(String, usize, usize, usize)> {
        let mut found = Vec::new();
        analyzer()
            .token_stream(text)
            .process(&mut |t: &Token| found.push((t.text.clone(), t.offset_from, t.offset_to, t.position)));
        found
    }

    proptest::proptest! {
        #[test]
        fn the_streamed_terms_are_those_of_the_runs_filtered_after_at_their_offsets_and_positions(
            text in "([依赖注入库线程池ぁアカ한글가]{1,4}|[a-zA-Z]{1,12}|Testing|Middlewares|ÉCOLE|İstanbul|[0-9]{1,3}|x{38,42}|[ ,.!？、-]){0,12}"
        ) {
            proptest::prop_assert_eq!(streamed(&text), terms_filtered_after(&text));
        }
    }

    #[test]
    fn a_lone_character_between_runs_is_a_term_and_a_run_ends_at_a_word() {
        assert_eq!(texts("库 a依赖b注"), ["库", "a", "依赖", "b", "注"]);
        assert_eq!(streamed(""), []);
    }

    #[test]
    fn a_word_of_forty_bytes_is_dropped_and_keeps_its_position() {
        let long = "x".repeat(40);
        let kept: Vec<(String, usize)> =
            terms(&format!("短 {long} 词")).into_iter().map(|t| (t.text, t.position)).collect();
        assert_eq!(kept, [("短".to_string(), 0), ("词".to_string(), 2)]);
    }

    #[test]
    fn offsets_point_at_the_source_text() {
        let text = "读 Blazor 组件";
        for token in terms(text) {
            assert!(text.get(token.offset_from..token.offset_to).is_some());
        }
    }
}
