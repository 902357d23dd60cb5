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
    TextAnalyzer::builder(CjkBigramTokenizer)
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

/// Splits text into CJK bigrams and alphanumeric words.
#[derive(Clone, Default)]
pub struct CjkBigramTokenizer;

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

pub struct BufferedTokens {
    tokens: Vec<Token>,
    next: usize,
}

impl Tokenizer for CjkBigramTokenizer {
    type TokenStream<'a> = BufferedTokens;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> BufferedTokens {
        BufferedTokens { tokens: split(text), next: 0 }
    }
}

impl TokenStream for BufferedTokens {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
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

/// Runs of one class: each word run is a term; each CJK run gives its bigrams (a lone
/// character is a term of its own), at consecutive positions so phrases match across them.
fn split(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut position = 0;
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
        let mut push = |from: usize, to: usize| {
            tokens.push(Token {
                offset_from: from,
                offset_to: to,
                position,
                text: text[from..to].to_string(),
                position_length: 1,
            });
            position += 1;
        };
        match kind {
            Class::Cjk if run.len() > 1 => {
                for pair in run.windows(2) {
                    push(pair[0].0, end_of(pair[1]));
                }
            }
            _ => push(start, end_of(run[run.len() - 1])),
        }
    }
    tokens
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

    #[test]
    fn offsets_point_at_the_source_text() {
        let text = "读 Blazor 组件";
        for token in terms(text) {
            assert!(text.get(token.offset_from..token.offset_to).is_some());
        }
    }
}
