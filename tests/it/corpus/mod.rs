//! Tests over `tests/data/corpus`, real data no one here wrote (tests/data/README.md says
//! where each set comes from). feedparser's files state their expectation in a header
//! comment (`expect`); each test runs planet's pipeline on them and prints its pass counts,
//! so the figures show in the test output.

mod expect;
mod html;

use std::path::{Path, PathBuf};

use chrono::Utc;
use planet::check::{self, CheckReport};
use planet::config::{self, Config, Member, MemberId};
use url::Url;

pub use expect::Case;

pub fn corpus() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/corpus");
    assert!(root.is_dir(), "the test corpus is missing at {}; it is part of the repository", root.display());
    root
}

pub fn files_under(directory: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![directory.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn config() -> Config {
    config::parse(config::CHECK_DEFAULTS, Path::new("(defaults)")).unwrap()
}

fn anonymous_member() -> Member {
    Member::anonymous(MemberId::parse("corpus").unwrap())
}

/// Runs the pipeline on a corpus file as feedparser's harness would serve it: files whose
/// path contains `http` come from `http://127.0.0.1:8097/<path>` with their `Header:` lines.
pub fn run(path: &Path, case: Option<&Case>) -> CheckReport {
    let bytes = std::fs::read(path).unwrap();
    let relative = path.strip_prefix(corpus().join("feedparser")).ok().map(|p| p.to_string_lossy().replace('\\', "/"));
    let served = relative.as_deref().filter(|r| r.contains("http"));
    let content_type = case.and_then(|c| c.header("content-type"));
    let base = served.map(|r| Url::parse(&format!("http://127.0.0.1:8097/{r}")).unwrap());
    let base = match (base, case.and_then(|c| c.header("content-location"))) {
        (Some(base), Some(location)) => base.join(&location).ok(),
        (None, Some(location)) => Url::parse(&location).ok(),
        (base, None) => base,
    };
    let served_content_type = content_type.filter(|_| served.is_some());
    check::bytes(
        &config(),
        &anonymous_member(),
        &path.to_string_lossy(),
        &bytes,
        served_content_type.as_deref(),
        base.as_ref(),
        Utc::now(),
    )
}

/// The checker's verdict on a fragment, for other test modules.
pub fn html_problems(fragment: &str) -> Vec<String> {
    html::executable_parts(fragment)
}

/// Runs the pipeline on an in-memory document, with no base URL.
pub fn run_bytes(bytes: &[u8]) -> CheckReport {
    check::bytes(&config(), &anonymous_member(), "(memory)", bytes, None, None, Utc::now())
}

#[test]
fn no_input_in_the_whole_corpus_panics() {
    let files = files_under(&corpus());
    let (mut parsed, mut failed, mut panicked) = (0, 0, Vec::new());
    for path in &files {
        let case = Case::read(path);
        let report = run(path, case.as_ref());
        if report.panicked {
            panicked.push(path.display().to_string());
        }
        if report.ok {
            parsed += 1;
        } else {
            failed += 1;
        }
    }
    println!(
        "whole corpus: {} files, {parsed} parsed, {failed} failed with a reason, {} panicked",
        files.len(),
        panicked.len()
    );
    assert!(files.len() > 2000, "the corpus looks incomplete");
    assert!(panicked.is_empty(), "panicked on: {panicked:#?}");
}

#[test]
fn feedparser_sanitize_cases_leave_nothing_executable() {
    let files = files_under(&corpus().join("feedparser/tests/wellformed/sanitize"));
    let (mut checked_posts, mut exact, mut comparable, mut unparsed) = (0, 0, 0, Vec::new());
    let mut executable = Vec::new();
    for path in &files {
        let case = Case::read(path);
        let report = run(path, case.as_ref());
        if !report.ok {
            unparsed.push(format!("{}: {}", path.display(), report.error.unwrap_or_default()));
            continue;
        }
        let title = report.feed_title.clone().unwrap_or_default();
        for problem in html::executable_parts(&planet::sanitize::escape_text(&title)) {
            executable.push(format!("{} feed title: {problem}", path.display()));
        }
        for post in &report.posts {
            checked_posts += 1;
            for problem in html::executable_parts(&post.content_html) {
                executable.push(format!("{}: {problem}", path.display()));
            }
        }
        if let (Some(expected), Some(post)) =
            (case.as_ref().and_then(|c| c.expected_entry_html()), report.posts.first())
        {
            comparable += 1;
            exact += usize::from(html::same_meaning(&expected, &post.content_html));
        }
    }
    println!(
        "sanitize: {} files, {checked_posts} posts checked, {} with executable content, {} unparsed; same result as feedparser in {exact} of {comparable}",
        files.len(),
        executable.len(),
        unparsed.len()
    );
    assert!(executable.is_empty(), "executable content survived: {executable:#?}");
    assert!(unparsed.is_empty(), "sanitize cases that did not parse: {unparsed:#?}");
}

mod base;
mod hostile_at_scale;
mod parity;
mod payloads;
mod text;
