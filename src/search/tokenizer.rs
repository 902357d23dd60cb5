//! How text becomes search terms, the same way for posts and for queries: Chinese, Japanese
//! and Korean runs become overlapping two-character terms (as Lucene's CJK analyzer does;
//! `依赖注入` is 依赖 赖注 注入, found by a phrase of the same bigrams), everything else splits
//! into words of letters and digits, lowercased and stemmed (English). Bigrams need no
//! dictionary: jieba's costs ~33 MB resident, more than half of the serving budget.
//!
//! Posts are indexed with each CJK character as a term too, at the position of the bigram it
//! starts, so a one-character query (锁, 池, 栈) finds every post holding that character.
//! Queries keep bigrams only (a lone character is a term of its own), so a phrase of bigrams
//! still means what it did. BENCHMARKS.md section 12 has what the unigrams cost.

use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, Stemmer, TextAnalyzer, Token, TokenStream, Tokenizer,
};

/// The name the analyzer is registered under in the index.
pub const ANALYZER: &str = "planet_text";
/// Exact, lowercased values (tags).
pub const EXACT: &str = "planet_exact";

/// The analyzer every text field is indexed with: bigrams and single CJK characters.
pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(CjkBigramTokenizer { unigrams: true })
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(Stemmer::new(Language::English))
        .build()
}

/// The analyzer query words and snippets go through: bigrams, and a lone character alone.
fn query_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(CjkBigramTokenizer { unigrams: false })
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(Stemmer::new(Language::English))
        .build()
}

/// Whole values, lowercased: a tag is matched as it is written.
pub fn exact_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(tantivy::tokenizer::RawTokenizer::default()).filter(LowerCaser).build()
}

/// The query terms of `text`, with their byte ranges, in order.
pub fn terms(text: &str) -> Vec<Token> {
    let mut analyzer = query_analyzer();
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

/// Splits text into CJK bigrams (with each character too, when `unigrams`) and alphanumeric
/// words.
#[derive(Clone, Default)]
pub struct CjkBigramTokenizer {
    unigrams: bool,
}

pub struct BufferedTokens {
    tokens: Vec<Token>,
    next: usize,
}

impl Tokenizer for CjkBigramTokenizer {
    type TokenStream<'a> = BufferedTokens;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> BufferedTokens {
        BufferedTokens { tokens: split(text, self.unigrams), next: 0 }
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
/// With `unigrams`, each character of a longer run is a term too, at the position of the
/// bigram it starts (the last at the last bigram's): positions never decrease.
fn split(text: &str, unigrams: bool) -> Vec<Token> {
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
        let mut push = |from: usize, to: usize, at: usize| {
            tokens.push(Token {
                offset_from: from,
                offset_to: to,
                position: at,
                text: text[from..to].to_string(),
                position_length: 1,
            });
        };
        match kind {
            Class::Cjk if run.len() > 1 => {
                for (k, pair) in run.windows(2).enumerate() {
                    push(pair[0].0, end_of(pair[1]), position + k);
                    if unigrams {
                        push(pair[0].0, end_of(pair[0]), position + k);
                    }
                }
                if unigrams {
                    push(run[run.len() - 1].0, end_of(run[run.len() - 1]), position + run.len() - 2);
                }
                position += run.len() - 1;
            }
            _ => {
                push(start, end_of(run[run.len() - 1]), position);
                position += 1;
            }
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

    fn indexed(text: &str) -> Vec<(String, usize)> {
        let mut analyzer = analyzer();
        let mut stream = analyzer.token_stream(text);
        let mut tokens = Vec::new();
        stream.process(&mut |token: &Token| tokens.push((token.text.clone(), token.position)));
        tokens
    }

    #[test]
    fn posts_are_indexed_with_each_character_beside_its_bigram() {
        let expected = [("线程", 0), ("线", 0), ("程池", 1), ("程", 1), ("池", 1), ("asp", 2)];
        let expected: Vec<(String, usize)> = expected.iter().map(|(t, p)| (t.to_string(), *p)).collect();
        assert_eq!(indexed("线程池 ASP"), expected);
        assert_eq!(texts("线程池"), ["线程", "程池"], "queries keep bigrams only");
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
