//! The full-text index beside the store (tantivy; the only module that imports it). It is
//! derived data: sled stays the store of record. Every post write puts the post's id in the
//! store's `search_pending` outbox in the same transaction; `catch_up` takes the outbox into
//! the index and commits before it clears it, so a crash anywhere leaves ids to take in
//! again (re-indexing a post is idempotent: delete by id, add). An index that is missing, of
//! an older schema, or was being rebuilt when the process died is rebuilt from the store.
//! Which members are shown is decided per query (`Request::visible`), not by deleting their
//! documents: a member removed from feeds.toml and added back needs no re-index.

mod directory;
mod indexing;
pub mod query;
pub mod snippet;
mod tiers;
pub mod tokenizer;

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, PhraseQuery, Query, RangeQuery, TermQuery, TermSetQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, FAST, INDEXED, STORED, STRING,
};
use tantivy::{DocAddress, Index, IndexReader, IndexWriter, Order, ReloadPolicy, TantivyDocument, Term};

use crate::model::MemberId;
pub use query::ParsedQuery;

/// The layout of the index's documents and its analyzers. A change means a rebuild, which
/// happens by itself on the next start (`planet reindex --if-needed` does it before).
/// 2: the character fields.
pub const INDEX_SCHEMA_VERSION: u32 = 2;
const VERSION_FILE: &str = "planet-index-version";
/// The writer's memory: tantivy's minimum per thread is 15 MB; one thread.
const WRITER_BYTES: usize = 16_000_000;
/// Outbox entries taken per commit.
const CATCH_UP_BATCH: usize = 2_000;
/// Results at most, in any order, for any query: a page past it is empty.
pub const MAX_RESULTS: usize = 1_000;

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    member: Field,
    tag: Field,
    title: Field,
    body: Field,
    /// Each CJK character of the title and of the body, without positions: what a
    /// one-character query is looked up in.
    title_characters: Field,
    body_characters: Field,
    author: Field,
    member_name: Field,
    tags: Field,
    published: Field,
}

/// Text fields searched by words, with their weight: a word in a title says more than one in
/// the body.
fn weighted_fields(fields: &Fields) -> [(Field, f32); 5] {
    [(fields.title, 3.0), (fields.tags, 2.0), (fields.author, 1.5), (fields.member_name, 1.5), (fields.body, 1.0)]
}

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer::ANALYZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let characters = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer::CHARACTERS)
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    let exact = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default().set_tokenizer(tokenizer::EXACT).set_index_option(IndexRecordOption::Basic),
    );
    let fields = Fields {
        id: builder.add_text_field("id", STRING | STORED),
        member: builder.add_text_field("member", STRING),
        tag: builder.add_text_field("tag", exact),
        title: builder.add_text_field("title", text.clone()),
        body: builder.add_text_field("body", text.clone()),
        title_characters: builder.add_text_field("title_characters", characters.clone()),
        body_characters: builder.add_text_field("body_characters", characters),
        author: builder.add_text_field("author", text.clone()),
        member_name: builder.add_text_field("member_name", text.clone()),
        tags: builder.add_text_field("tags", text),
        published: builder.add_i64_field("published", INDEXED | FAST),
    };
    (builder.build(), fields)
}

/// The index directory that goes with a store: beside it, never inside sled's files.
pub fn path_for_store(store_path: &Path) -> PathBuf {
    let mut name = store_path.as_os_str().to_owned();
    name.push(".search");
    PathBuf::from(name)
}

pub struct SearchIndex {
    /// What the version file says of an index that is whole: its schema and its store.
    stamp: String,
    path: PathBuf,
    index: Index,
    reader: IndexReader,
    fields: Fields,
    /// One writer at a time (tantivy's lock would refuse a second).
    writing: Mutex<()>,
    /// The index holds every stored post (a rebuild finished); until then searches get 503.
    ready: AtomicBool,
    /// Bumped by every commit, before the writer's lock is released: part of the version
    /// that cached searches are kept under.
    generation: AtomicU64,
    /// Where the newest posts' tiers begin, per commit (`tiers`).
    tiers: tiers::TierCache,
}

/// A search's result: a post id and its publication time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub id: String,
    pub published_millis: i64,
}

/// The order of results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ranking {
    /// Relevance with a recency boost; `offset` results skipped.
    Relevance { offset: usize },
    /// Newest first, strictly older than (millis, id) when given.
    Newest { before: Option<(i64, String)> },
}

/// What to find. Every filter is a term or range query on the index, so none reads posts it
/// will not return.
pub struct Request<'a> {
    pub query: &'a ParsedQuery,
    /// Members whose posts may be shown (the configured ones).
    pub visible: &'a [MemberId],
    /// Only this member's posts.
    pub member: Option<&'a MemberId>,
    /// Posts under each of these tags: (tag, members whose feeds.toml entry has the tag). A
    /// caller that knows the members moves `tag:` filters of the text here.
    pub tags: Vec<(String, Vec<MemberId>)>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub ranking: Ranking,
    pub limit: usize,
    pub now: DateTime<Utc>,
    /// Posts taken down (few): left out by id.
    pub hidden: &'a [String],
}

impl SearchIndex {
    /// Opens the index at `path` for the store named `store_identity`; one that is missing,
    /// not of `INDEX_SCHEMA_VERSION`, or built from another store is emptied and reports
    /// `is_ready() == false` until `rebuild`.
    pub fn open(path: &Path, store_identity: &str) -> anyhow::Result<SearchIndex> {
        let (schema, fields) = schema();
        let stamp = format!("{INDEX_SCHEMA_VERSION} {store_identity}");
        let current = std::fs::read_to_string(path.join(VERSION_FILE)).ok().is_some_and(|text| text.trim() == stamp);
        // Read with pread, not mapped: see `directory`.
        let directory = || directory::ReadAtDirectory::open(path);
        let opened = match current {
            true => directory().ok().and_then(|d| Index::open(d).ok()).filter(|index| index.schema() == schema),
            false => None,
        };
        let ready = opened.is_some();
        let index = match opened {
            Some(index) => index,
            None => {
                if path.exists() {
                    std::fs::remove_dir_all(path).with_context(|| format!("failed to clear {}", path.display()))?;
                }
                std::fs::create_dir_all(path).with_context(|| format!("failed to create {}", path.display()))?;
                Index::create(directory()?, schema, tantivy::IndexSettings::default())
                    .with_context(|| format!("failed to create {}", path.display()))?
            }
        };
        index.tokenizers().register(tokenizer::ANALYZER, tokenizer::analyzer());
        index.tokenizers().register(tokenizer::EXACT, tokenizer::exact_analyzer());
        index.tokenizers().register(tokenizer::CHARACTERS, tokenizer::characters_analyzer());
        // A hit's id is read from the doc store; tantivy keeps 100 decompressed blocks per
        // segment by default, which over many searches is the whole store in memory. A few
        // blocks keep neighbouring hits cheap.
        let reader =
            index.reader_builder().reload_policy(ReloadPolicy::Manual).doc_store_cache_num_blocks(4).try_into()?;
        Ok(SearchIndex {
            stamp,
            path: path.to_path_buf(),
            index,
            reader,
            fields,
            writing: Mutex::new(()),
            ready: AtomicBool::new(ready),
            generation: AtomicU64::new(0),
            tiers: tiers::TierCache::default(),
        })
    }

    /// Changes whenever what a search finds may have changed.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Bytes the index's files take on disk.
    pub fn size_on_disk(&self) -> u64 {
        std::fs::read_dir(&self.path)
            .map(|entries| entries.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
            .unwrap_or(0)
    }

    fn writer(&self) -> anyhow::Result<IndexWriter> {
        self.index.writer_with_num_threads(1, WRITER_BYTES).context("failed to open the search index for writing")
    }

    /// The posts that match, in the requested order; at most `limit` (and never past
    /// `MAX_RESULTS` in all).
    pub fn search(&self, request: &Request<'_>) -> anyhow::Result<Vec<Hit>> {
        let searcher = self.reader.searcher();
        let query = self.build_query(request);
        let published = |address: DocAddress| -> anyhow::Result<i64> {
            let column = searcher.segment_reader(address.segment_ord).fast_fields().i64("published")?;
            Ok(column.first(address.doc_id).unwrap_or_default())
        };
        let id_of = |address: DocAddress| -> anyhow::Result<String> {
            let document: TantivyDocument = searcher.doc(address)?;
            Ok(document.get_first(self.fields.id).and_then(|v| v.as_str()).unwrap_or_default().to_string())
        };
        match &request.ranking {
            Ranking::Relevance { offset } => {
                if *offset >= MAX_RESULTS {
                    return Ok(Vec::new());
                }
                let limit = request.limit.min(MAX_RESULTS - offset).max(1);
                let now = request.now.timestamp_millis();
                let collector = |want: usize| {
                    TopDocs::with_limit(want).tweak_score(move |segment: &tantivy::SegmentReader| {
                        let column = segment.fast_fields().i64("published").ok();
                        move |doc: tantivy::DocId, score: tantivy::Score| {
                            let published = column.as_ref().and_then(|c| c.first(doc)).unwrap_or(now);
                            score * recency_boost(now, published)
                        }
                    })
                };
                let bounds = self.tiers.bounds(&searcher)?;
                let found = tiers::collect_by_tier(
                    &searcher,
                    &query,
                    self.fields.published,
                    &bounds,
                    offset + limit,
                    collector,
                )?;
                found
                    .into_iter()
                    .skip(*offset)
                    .map(|(_, a)| Ok(Hit { id: id_of(a)?, published_millis: published(a)? }))
                    .collect()
            }
            Ranking::Newest { before } => {
                // Posts that share the cursor's millisecond are told apart by id afterwards;
                // a handful more than the page covers them.
                let take = (request.limit + 32).min(MAX_RESULTS);
                let collector =
                    |want: usize| TopDocs::with_limit(want).order_by_fast_field::<i64>("published", Order::Desc);
                let bounds = self.tiers.bounds(&searcher)?;
                let found = tiers::collect_by_tier(&searcher, &query, self.fields.published, &bounds, take, collector)?;
                let mut hits = found
                    .into_iter()
                    .map(|(time, a)| Ok(Hit { id: id_of(a)?, published_millis: time.unwrap_or_default() }))
                    .collect::<anyhow::Result<Vec<Hit>>>()?;
                hits.sort_by(|a, b| (b.published_millis, &b.id).cmp(&(a.published_millis, &a.id)));
                if let Some((millis, id)) = before {
                    hits.retain(|hit| (hit.published_millis, &hit.id) < (*millis, id));
                }
                hits.truncate(request.limit);
                Ok(hits)
            }
        }
    }

    fn build_query(&self, request: &Request<'_>) -> BooleanQuery {
        let f = &self.fields;
        let member_terms = |members: &[MemberId]| -> Box<dyn Query> {
            Box::new(TermSetQuery::new(members.iter().map(|m| Term::from_field_text(f.member, m.as_str()))))
        };
        let mut must: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, member_terms(request.visible))];
        if !request.hidden.is_empty() {
            let ids = request.hidden.iter().map(|id| Term::from_field_text(f.id, id));
            must.push((Occur::MustNot, Box::new(TermSetQuery::new(ids))));
        }
        for clause in &request.query.clauses {
            must.push((Occur::Must, Box::new(self.clause_query(clause))));
        }
        if !request.query.members.is_empty() {
            let named: Vec<MemberId> = request.query.members.iter().filter_map(|m| MemberId::parse(m).ok()).collect();
            must.push((Occur::Must, member_terms(&named)));
        }
        if let Some(member) = request.member {
            must.push((Occur::Must, member_terms(std::slice::from_ref(member))));
        }
        // `tag:` in the text counts the post's own tags; `Request::tags` also the members'.
        let text_tags = request.query.tags.iter().map(|tag| (tag.clone(), Vec::new()));
        for (tag, tagged_members) in request.tags.iter().cloned().chain(text_tags) {
            let on_post: Box<dyn Query> =
                Box::new(TermQuery::new(Term::from_field_text(f.tag, &tag), IndexRecordOption::Basic));
            let either =
                BooleanQuery::new(vec![(Occur::Should, on_post), (Occur::Should, member_terms(&tagged_members))]);
            must.push((Occur::Must, Box::new(either)));
        }
        let upper = match (&request.ranking, request.until) {
            (Ranking::Newest { before: Some((millis, _)) }, until) => {
                Some(until.map_or(*millis, |u| u.timestamp_millis().min(*millis)))
            }
            (_, until) => until.map(|u| u.timestamp_millis()),
        };
        if request.since.is_some() || upper.is_some() {
            let bound = |millis: Option<i64>| {
                millis.map_or(Bound::Unbounded, |m| Bound::Included(Term::from_field_i64(f.published, m)))
            };
            let range = RangeQuery::new(bound(request.since.map(|s| s.timestamp_millis())), bound(upper));
            must.push((Occur::Must, Box::new(range)));
        }
        BooleanQuery::new(must)
    }

    /// A word or phrase, in any of the weighted fields; one CJK character also anywhere in a
    /// title or body (inside a word, where the bigram fields do not have it alone).
    fn clause_query(&self, terms: &[String]) -> BooleanQuery {
        let f = &self.fields;
        let mut fields = weighted_fields(f).to_vec();
        if let [term] = terms {
            if tokenizer::is_one_character(term) {
                fields.extend([(f.title_characters, 3.0), (f.body_characters, 1.0)]);
            }
        }
        let per_field = fields.into_iter().map(|(field, weight)| {
            let query: Box<dyn Query> = if let [term] = terms {
                Box::new(TermQuery::new(Term::from_field_text(field, term), IndexRecordOption::WithFreqs))
            } else {
                Box::new(PhraseQuery::new(terms.iter().map(|t| Term::from_field_text(field, t)).collect()))
            };
            (Occur::Should, Box::new(BoostQuery::new(query, weight)) as Box<dyn Query>)
        });
        BooleanQuery::new(per_field.collect())
    }
}

/// Newer posts rank higher among equally relevant ones: twice the score today, 1.5 times at
/// three months, fading toward 1.
pub fn recency_boost(now_millis: i64, published_millis: i64) -> f32 {
    let age_days = ((now_millis - published_millis).max(0) as f64 / 86_400_000.0) as f32;
    1.0 + 1.0 / (1.0 + age_days / 90.0)
}

#[cfg(test)]
mod tests;
