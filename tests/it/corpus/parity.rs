//! "A member's feed that Python's feedparser can read should never yield fewer posts in
//! planet": every file of the corpus goes through both, and planet must find at least as many
//! entries, except where the difference is listed here with its reason. feedparser runs in a
//! real Python (scripts/feedparser_counts.py); the README's test command installs it.

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};

use super::{corpus, files_under, run, Case};

/// Files where feedparser finds entries planet does not, and why that is accepted.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    ("feedparser/tests/wellformed/cdf/", "Microsoft CDF (1997) is not a feed format planet reads"),
    ("cdf_item_abstract_xml_base.xml", "Microsoft CDF (1997) is not a feed format planet reads"),
    ("rdf/rdf_item_title.xml", "an RSS 1.0 item without the <link> RSS 1.0 requires; feed-rs drops it"),
    ("rdf/rdf_item_description.xml", "an RSS 1.0 item without the <link> RSS 1.0 requires; feed-rs drops it"),
    ("rdf/rdf_item_rdf_about.xml", "an RSS 1.0 item without the <link> RSS 1.0 requires; feed-rs drops it"),
    ("rdf/rss090_item_title.xml", "an RSS 0.90 item without a <link>; feed-rs drops it"),
    ("rdf/rss090_channel_title.xml", "an RSS 0.90 item without a <link>; feed-rs drops it"),
    ("illformed/rdf_channel_empty_textinput.xml", "an RSS 1.0 item without a <link>; feed-rs drops it"),
    ("namespace/unknown-namespace.xml", "<item> inside an Atom <feed> is not an Atom entry"),
    ("http_entry_contributor_url_base_content_location.xml", "<item> inside an Atom <feed> is not an Atom entry"),
    ("http_entry_contributor_url_base_docuri.xml", "<item> inside an Atom <feed> is not an Atom entry"),
    ("http/http_status_304.xml", "<item> inside an Atom <feed> is not an Atom entry"),
    ("http/target.xml", "<item> inside an Atom <feed> is not an Atom entry"),
    (
        "namespace/rss2.0NSwithModulesNoDefNS.xml",
        "every RSS element under a namespace prefix (<r:rss>); feed-rs finds no root",
    ),
    (
        "namespace/rss2.0NSwithModulesNoDefNSLocalNameClash.xml",
        "every RSS element under a namespace prefix (<r:rss>); feed-rs finds no root",
    ),
    ("fixture/xml/xml_iso8859.xml", "a bare <rdf> root without RSS namespaces is not a feed"),
    (
        "node-feedparser/test/feeds/illegally-nested.xml",
        "feedparser counts ten empty <item /> elements nested in real items; planet keeps the ten real posts",
    ),
];

fn feedparser_counts(paths: &[String]) -> HashMap<String, usize> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/feedparser_counts.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is needed for the feedparser comparison");
    let mut input = child.stdin.take().unwrap();
    let list = paths.join("\n");
    let writer = std::thread::spawn(move || input.write_all(list.as_bytes()));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        output.status.success(),
        "feedparser did not run (install it: pip install -r requirements-test.txt): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            (value["path"].as_str().unwrap().to_string(), value["entries"].as_u64().unwrap() as usize)
        })
        .collect()
}

#[test]
fn planet_never_finds_fewer_posts_than_feedparser_in_the_corpus() {
    let files: Vec<_> =
        files_under(&corpus()).into_iter().filter(|p| !p.to_string_lossy().ends_with(".serde.json")).collect();
    let paths: Vec<String> = files.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let reference = feedparser_counts(&paths);
    let (mut compared, mut more, mut same, mut known, mut fewer) = (0, 0, 0, 0, Vec::new());
    for (path, name) in files.iter().zip(&paths) {
        let theirs = reference[name];
        if theirs == 0 {
            continue;
        }
        compared += 1;
        let report = run(path, Case::read(path).as_ref());
        let ours = report.posts.len() + report.filtered_out;
        if ours > theirs {
            more += 1;
        } else if ours == theirs {
            same += 1;
        } else if let Some((_, why)) = KNOWN_DIFFERENCES.iter().find(|(pattern, _)| name.contains(pattern)) {
            known += 1;
            println!("  known difference: {name}: feedparser {theirs}, planet {ours}: {why}");
        } else {
            fewer.push(format!("{name}: feedparser {theirs}, planet {ours} ({})", report.error.unwrap_or_default()));
        }
    }
    println!("parity: {compared} files where feedparser finds entries: planet finds as many in {same}, more in {more}, fewer in {} unexplained and {known} known", fewer.len());
    assert!(compared > 1200, "the corpus looks incomplete");
    assert!(fewer.is_empty(), "{fewer:#?}");
}
