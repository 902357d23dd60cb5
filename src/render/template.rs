//! The template environment (minijinja, templates compiled into the binary, HTML escaped
//! on output) and the interface texts, in Chinese or in English when the site's `language`
//! starts with `en`. Pages, the digest and its mails all render through here.

use std::sync::OnceLock;

use minijinja::Environment;
use serde::Serialize;

use crate::config::Site;

pub(crate) fn environment() -> &'static Environment<'static> {
    static ENVIRONMENT: OnceLock<Environment<'static>> = OnceLock::new();
    ENVIRONMENT.get_or_init(|| {
        let mut environment = Environment::new();
        environment.set_formatter(escape_without_slashes);
        for (name, source) in [
            ("base.html", include_str!("templates/base.html")),
            ("posts.html", include_str!("templates/posts.html")),
            ("index.html", include_str!("templates/index.html")),
            ("member.html", include_str!("templates/member.html")),
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

#[derive(Serialize)]
pub(crate) struct Texts {
    home: &'static str,
    about: &'static str,
    subscribe: &'static str,
    members: &'static str,
    failing: &'static str,
    no_posts: &'static str,
    older: &'static str,
    footer: &'static str,
    feed_status: &'static str,
    feed: &'static str,
    state: &'static str,
    posts: &'static str,
    join_title: &'static str,
    join_text: &'static str,
    check_text: &'static str,
    member_count: &'static str,
    events: &'static str,
    previous_week: &'static str,
    next_week: &'static str,
    subscribe_digest: &'static str,
    email: &'static str,
    subscribe_button: &'static str,
    read_online: &'static str,
    unsubscribe: &'static str,
    digest_link: &'static str,
}

const CHINESE: Texts = Texts {
    home: "首页",
    about: "关于",
    subscribe: "订阅",
    members: "成员",
    failing: "抓取失败",
    no_posts: "还没有文章。",
    older: "更早的文章",
    footer: "长沙.NET技术社区 · 由 planet 聚合成员博客",
    feed_status: "订阅源状态",
    feed: "订阅源",
    state: "状态",
    posts: "文章",
    join_title: "如何加入",
    join_text: "在仓库的 feeds.toml 末尾添加你的博客，然后提交 Pull Request：",
    check_text: "提交前可以先检查你的订阅源，看看 planet 会读到什么：",
    member_count: "现有成员：",
    events: "近期活动",
    previous_week: "上一周",
    next_week: "下一周",
    subscribe_digest: "订阅周报",
    email: "电子邮箱",
    subscribe_button: "订阅",
    read_online: "在网页上阅读",
    unsubscribe: "退订",
    digest_link: "社区周报",
};

const ENGLISH: Texts = Texts {
    home: "Home",
    about: "About",
    subscribe: "Subscribe",
    members: "Members",
    failing: "failing",
    no_posts: "No posts yet.",
    older: "Older posts",
    footer: "Changsha .NET community · members' blogs gathered by planet",
    feed_status: "Feed status",
    feed: "Feed",
    state: "State",
    posts: "Posts",
    join_title: "How to join",
    join_text: "Add your blog at the end of feeds.toml in the repository and open a pull request:",
    check_text: "Before you do, check what planet reads from your feed:",
    member_count: "Members so far:",
    events: "Upcoming meetups",
    previous_week: "Previous week",
    next_week: "Next week",
    subscribe_digest: "Weekly digest by email",
    email: "Email address",
    subscribe_button: "Subscribe",
    read_online: "Read it on the web",
    unsubscribe: "Unsubscribe",
    digest_link: "Weekly digest",
};

pub(crate) fn texts(site: &Site) -> &'static Texts {
    if site.english() {
        &ENGLISH
    } else {
        &CHINESE
    }
}
