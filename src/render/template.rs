//! The template environment (minijinja, templates compiled into the binary, HTML escaped
//! on output). Pages, the digest and its mails all render through here, with the interface
//! texts of `crate::texts` as `t`.

use std::sync::OnceLock;

use crate::config::Site;
use minijinja::Environment;

pub(crate) fn environment() -> &'static Environment<'static> {
    static ENVIRONMENT: OnceLock<Environment<'static>> = OnceLock::new();
    ENVIRONMENT.get_or_init(|| {
        let mut environment = Environment::new();
        environment.set_formatter(escape_without_slashes);
        for (name, source) in [
            ("base.html", include_str!("templates/base.html")),
            ("posts.html", include_str!("templates/posts.html")),
            ("also_on.html", include_str!("templates/also_on.html")),
            ("index.html", include_str!("templates/index.html")),
            ("member.html", include_str!("templates/member.html")),
            ("search.html", include_str!("templates/search.html")),
            ("digest_entry.html", include_str!("templates/digest_entry.html")),
            ("about.html", include_str!("templates/about.html")),
            ("digest.html", include_str!("templates/digest.html")),
            ("subscribe_form.html", include_str!("templates/subscribe_form.html")),
            ("message.html", include_str!("templates/message.html")),
            ("email.html", include_str!("templates/email.html")),
            ("email_body.html", include_str!("templates/email_body.html")),
            ("email.txt", include_str!("templates/email.txt")),
        ] {
            environment.add_template(name, source).expect("templates are valid");
        }
        environment
    })
}

/// minijinja's HTML escaping also writes `/` as `&#x2f;`, which is valid but turns every URL
/// into noise for people reading the source of a page or a mail. Escaping `& < > " '` is what
/// HTML needs in text and in quoted attributes; other modes (the `.txt` mail) stay unescaped.
fn escape_without_slashes(
    out: &mut minijinja::Output,
    state: &minijinja::State,
    value: &minijinja::Value,
) -> Result<(), minijinja::Error> {
    if matches!(state.auto_escape(), minijinja::AutoEscape::Html)
        && !value.is_safe()
        && !value.is_none()
        && !value.is_undefined()
    {
        let text = value.to_string();
        return out
            .write_str(&crate::sanitize::escape_text(&text))
            .map_err(|_| minijinja::Error::new(minijinja::ErrorKind::WriteFailure, "write failed"));
    }
    minijinja::escape_formatter(out, state, value)
}

pub(crate) fn render(template: &str, values: minijinja::Value) -> String {
    environment().get_template(template).and_then(|t| t.render(values)).unwrap_or_else(|error| {
        format!(
            "<!doctype html><title>error</title><p>template error: {}",
            crate::sanitize::escape_text(&error.to_string())
        )
    })
}

/// The interface texts (`crate::texts`) in the site's language, as templates see them (`t`).
pub(crate) fn texts(site: &Site) -> &'static crate::texts::Texts {
    crate::texts::for_site(site)
}
