//! The member list as OPML 2.0, for readers who follow members one by one.

use crate::config::{Member, Site};
use crate::sanitize::escape_text;

pub fn opml(site: &Site, members: &[Member], now: chrono::DateTime<chrono::Utc>) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n<head>\n");
    out.push_str(&format!("  <title>{}</title>\n", escape_text(&site.title)));
    out.push_str(&format!("  <dateCreated>{}</dateCreated>\n", now.to_rfc2822()));
    out.push_str("</head>\n<body>\n");
    for member in members {
        for feed in &member.feeds {
            let html_url =
                member.site.as_ref().map(|u| format!(" htmlUrl=\"{}\"", escape_text(u.as_str()))).unwrap_or_default();
            out.push_str(&format!(
                "  <outline type=\"rss\" text=\"{name}\" title=\"{name}\" xmlUrl=\"{feed}\"{html_url}/>\n",
                name = escape_text(&member.name),
                feed = escape_text(feed.as_str()),
            ));
        }
    }
    out.push_str("</body>\n</opml>\n");
    out
}
