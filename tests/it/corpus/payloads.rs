//! The corpus's XSS payload lists, wrapped into feeds the four ways HTML reaches planet (an
//! escaped RSS description, a CDATA content:encoded, Atom `type="html"` and `type="xhtml"`),
//! and into titles and author names: nothing executable survives in the stored HTML, and
//! titles and names come out as plain text.

use super::{corpus, files_under, html, run_bytes};
use planet::sanitize::escape_text;

fn wrappings(payload: &str) -> Vec<String> {
    let escaped = escape_text(payload);
    let cdata = payload.replace("]]>", "]]]]><![CDATA[>");
    vec![
        format!("<rss version=\"2.0\"><channel><title>t</title><item><title>{escaped}</title><author>{escaped}</author><guid>1</guid><description>{escaped}</description></item></channel></rss>"),
        format!("<rss version=\"2.0\" xmlns:content=\"http://purl.org/rss/1.0/modules/content/\"><channel><title>t</title><item><guid>1</guid><content:encoded><![CDATA[{cdata}]]></content:encoded></item></channel></rss>"),
        format!("<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title><entry><id>1</id><title type=\"html\">{escaped}</title><author><name>{escaped}</name></author><content type=\"html\">{escaped}</content></entry></feed>"),
        format!("<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title><entry><id>1</id><title>x</title><content type=\"xhtml\"><div xmlns=\"http://www.w3.org/1999/xhtml\">{payload}</div></content></entry></feed>"),
    ]
}

#[test]
fn xss_payloads_wrapped_in_feeds_leave_nothing_executable() {
    let lists = files_under(&corpus().join("payloadsallthethings/xss-injection/Intruders"));
    let (mut payloads, mut documents, mut posts, mut problems) = (0, 0, 0, Vec::new());
    for list in lists {
        let bytes = std::fs::read(&list).unwrap();
        for payload in String::from_utf8_lossy(&bytes).lines().filter(|l| !l.trim().is_empty()) {
            payloads += 1;
            for document in wrappings(payload) {
                documents += 1;
                let report = run_bytes(document.as_bytes());
                for post in &report.posts {
                    posts += 1;
                    for problem in html::executable_parts(&post.content_html) {
                        problems.push(format!("{payload:?}: {problem}"));
                    }
                    // Titles and names are text: escaped for HTML they can hold no element.
                    for text in [Some(&post.title), post.author.as_ref()].into_iter().flatten() {
                        for problem in html::executable_parts(&escape_text(text)) {
                            problems.push(format!("{payload:?} in a title or name: {problem}"));
                        }
                        if text.contains('\u{0}') {
                            problems.push(format!("{payload:?}: NUL in a title or name"));
                        }
                    }
                }
            }
        }
    }
    println!(
        "xss payloads: {payloads} payloads in {documents} documents, {posts} posts stored, {} with executable content",
        problems.len()
    );
    assert!(payloads > 2000, "the payload lists look incomplete");
    assert!(problems.is_empty(), "{:#?}", &problems[..problems.len().min(20)]);
}
