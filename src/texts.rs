//! Every interface text, in Chinese and in English (`[site] language` starting with `en`):
//! the site's pages, feed health, the digest and its mails, the subscription pages. One
//! table per language, so a translation is checked in one place. `{name}` marks a value
//! that `fill` puts in; date fields are chrono formats. Templates get the table as `t`.

use serde::Serialize;

use crate::config::Site;

#[derive(Debug, Serialize)]
pub struct Texts {
    pub home: &'static str,
    pub search: &'static str,
    pub search_placeholder: &'static str,
    pub search_results: &'static str,
    pub search_none: &'static str,
    pub search_hint: &'static str,
    pub search_feed: &'static str,
    pub more_results: &'static str,
    pub about: &'static str,
    pub subscribe: &'static str,
    pub members: &'static str,
    pub failing: &'static str,
    pub no_posts: &'static str,
    pub older: &'static str,
    pub footer: &'static str,
    pub feed_status: &'static str,
    pub feed: &'static str,
    pub state: &'static str,
    pub posts: &'static str,
    pub join_title: &'static str,
    pub join_text: &'static str,
    pub check_text: &'static str,
    pub member_count: &'static str,
    pub events: &'static str,
    pub previous_week: &'static str,
    pub next_week: &'static str,
    pub subscribe_digest: &'static str,
    pub email: &'static str,
    pub subscribe_button: &'static str,
    pub read_online: &'static str,
    pub unsubscribe: &'static str,
    pub digest_link: &'static str,
    /// A day heading on the site: chrono's format, `{weekday}` from `weekdays`.
    pub day_label: &'static str,
    /// A post's time in the digest (chrono's format).
    pub post_time: &'static str,
    /// A meetup's time in the digest (chrono's format).
    pub event_time: &'static str,
    pub not_fetched_yet: &'static str,
    pub moved_to: &'static str,
    pub last_success: &'static str,
    pub gone: &'static str,
    pub next_try: &'static str,
    pub failing_in_a_row: &'static str,
    pub feed_ok: &'static str,
    /// The digest's title when `[digest] title` is not set.
    pub default_digest_title: &'static str,
    pub week_label: &'static str,
    pub digest_subject: &'static str,
    pub headline_empty: &'static str,
    pub headline: &'static str,
    pub digest_more: &'static str,
    /// Under the last post of a member's day that the river's daily cap shortened.
    pub river_more: &'static str,
    /// Before the links to the other places a member published an article.
    pub also_on: &'static str,
    pub subscriptions_closed_heading: &'static str,
    pub subscriptions_closed: &'static str,
    pub links_closed_heading: &'static str,
    pub links_closed: &'static str,
    pub invalid_address_heading: &'static str,
    pub address_missing: &'static str,
    pub address_invalid: &'static str,
    pub too_many_requests_heading: &'static str,
    pub too_many_requests: &'static str,
    pub confirm_subject: &'static str,
    pub confirm_mail: &'static str,
    pub check_inbox_heading: &'static str,
    pub check_inbox: &'static str,
    pub invalid_link_heading: &'static str,
    pub confirm_heading: &'static str,
    pub confirm_question: &'static str,
    pub confirm_button: &'static str,
    pub link_used: &'static str,
    pub subscribed_heading: &'static str,
    pub subscribed: &'static str,
    pub unsubscribe_heading: &'static str,
    pub unsubscribe_question: &'static str,
    pub unsubscribe_button: &'static str,
    pub unsubscribed_heading: &'static str,
    pub unsubscribed: &'static str,
    /// Monday first.
    pub weekdays: [&'static str; 7],
}

pub const CHINESE: Texts = Texts {
    home: "首页",
    search: "搜索",
    search_placeholder: "搜索文章，如 依赖注入、Blazor",
    search_results: "“{query}”的搜索结果",
    search_none: "没有找到相关的文章。",
    search_hint: "多个词之间是“并且”；用引号搜索短语，用 member:成员ID 或 tag:标签 缩小范围。",
    search_feed: "订阅这个搜索的新文章：",
    more_results: "更多结果",
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
    day_label: "%Y年%-m月%-d日 {weekday}",
    post_time: "%-m月%-d日 %H:%M",
    event_time: "%Y年%-m月%-d日 %H:%M",
    not_fetched_yet: "尚未抓取",
    moved_to: "已永久迁移到 {url}，请更新 feeds.toml",
    last_success: "上次成功：{time}",
    gone: "订阅源已删除（HTTP 410），不再抓取",
    next_try: "下次重试：{time}",
    failing_in_a_row: "抓取失败（连续 {count} 次）：{error}",
    feed_ok: "正常 · 订阅源中有 {count} 篇文章",
    default_digest_title: "{site}周报",
    week_label: "{year} 第 {number} 周",
    digest_subject: "{title} · {week} · {count} 篇",
    headline_empty: "本周没有成员发表文章。",
    headline: "本周 {members} 位成员发表了 {posts} 篇文章",
    digest_more: "还有 {count} 篇，见成员页",
    river_more: "还有 {count} 篇",
    also_on: "也发布于",
    subscriptions_closed_heading: "暂不开放订阅",
    subscriptions_closed: "这个站点没有配置邮件发送。",
    links_closed_heading: "暂不开放",
    links_closed: "暂不开放订阅。",
    invalid_address_heading: "地址无效",
    address_missing: "请填写电子邮箱地址。",
    address_invalid: "不是有效的电子邮箱地址： {address}",
    too_many_requests_heading: "请求太频繁",
    too_many_requests: "请稍后再试。",
    confirm_subject: "请确认订阅 {title}",
    confirm_mail: "有人（希望是你）在这个地址订阅了社区周报。点击下面的链接确认：\n\n{link}\n\n如果不是你，请忽略这封邮件，我们不会再发信。链接 48 小时内有效。\n",
    check_inbox_heading: "请查收邮件",
    check_inbox: "如果地址有效，我们已发送一封确认邮件。点击邮件中的链接完成订阅。",
    invalid_link_heading: "链接无效",
    confirm_heading: "确认订阅",
    confirm_question: "确认用这个地址订阅社区周报？",
    confirm_button: "确认订阅",
    link_used: "这个链接已经用过，或者已有更新的确认邮件。如需订阅，请重新提交。",
    subscribed_heading: "订阅成功",
    subscribed: "你将收到社区周报。",
    unsubscribe_heading: "退订",
    unsubscribe_question: "不再接收社区周报？",
    unsubscribe_button: "确认退订",
    unsubscribed_heading: "已退订",
    unsubscribed: "你不会再收到社区周报。",
    weekdays: ["星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"],
};

pub const ENGLISH: Texts = Texts {
    home: "Home",
    search: "Search",
    search_placeholder: "Search posts, e.g. Blazor",
    search_results: "Results for “{query}”",
    search_none: "No posts found.",
    search_hint: "Every word must match; quote a phrase; narrow with member:ID or tag:name.",
    search_feed: "Subscribe to new posts for this search:",
    more_results: "More results",
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
    day_label: "{weekday}, %-d %B %Y",
    post_time: "%a %-d %b %H:%M",
    event_time: "%A %-d %B %H:%M",
    not_fetched_yet: "not fetched yet",
    moved_to: "moved permanently to {url}: update feeds.toml",
    last_success: "last success: {time}",
    gone: "gone (HTTP 410): no longer fetched",
    next_try: "next try: {time}",
    failing_in_a_row: "failing ({count} in a row): {error}",
    feed_ok: "OK · {count} posts in the feed",
    default_digest_title: "{site} weekly",
    week_label: "{year} week {number}",
    digest_subject: "{title} · {week} · {count} posts",
    headline_empty: "No member posted this week.",
    headline: "{members} members wrote {posts} posts this week.",
    digest_more: "and {count} more on the member's page",
    river_more: "{count} more",
    also_on: "Also on",
    subscriptions_closed_heading: "Subscriptions are closed",
    subscriptions_closed: "This planet does not send mail.",
    links_closed_heading: "Closed",
    links_closed: "Subscriptions are closed.",
    invalid_address_heading: "Invalid address",
    address_missing: "Please give an email address.",
    address_invalid: "This is not an email address: {address}",
    too_many_requests_heading: "Too many requests",
    too_many_requests: "Please try again later.",
    confirm_subject: "Please confirm: {title}",
    confirm_mail: "Someone (we hope you) subscribed this address to the weekly digest. Confirm with this link:\n\n{link}\n\nIf it was not you, ignore this mail; nothing more will be sent. The link works for 48 hours.\n",
    check_inbox_heading: "Check your inbox",
    check_inbox: "If the address is valid, a confirmation mail is on its way. Follow its link to subscribe.",
    invalid_link_heading: "Invalid link",
    confirm_heading: "Confirm",
    confirm_question: "Subscribe this address to the weekly digest?",
    confirm_button: "Subscribe",
    link_used: "This link was used already, or a newer confirmation was mailed. Subscribe again if you like.",
    subscribed_heading: "Subscribed",
    subscribed: "You will receive the weekly digest.",
    unsubscribe_heading: "Unsubscribe",
    unsubscribe_question: "Stop receiving the weekly digest?",
    unsubscribe_button: "Unsubscribe",
    unsubscribed_heading: "Unsubscribed",
    unsubscribed: "You will not receive the digest any more.",
    weekdays: ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
};

/// The table in the site's language.
pub fn for_site(site: &Site) -> &'static Texts {
    if site.english() {
        &ENGLISH
    } else {
        &CHINESE
    }
}

/// `template` with each `{name}` replaced by its value (values are not searched again).
pub fn fill(template: &str, values: &[(&str, &dyn std::fmt::Display)]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let named =
            after.find('}').and_then(|end| values.iter().find(|(name, _)| *name == &after[..end]).map(|v| (end, v)));
        match named {
            Some((end, (_, value))) => {
                out.push_str(&value.to_string());
                rest = &after[end + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_puts_each_named_value_in_and_leaves_other_braces_alone() {
        let text = fill("{count} posts, {missing} and {count} again", &[("count", &3)]);
        assert_eq!(text, "3 posts, {missing} and 3 again");
        assert_eq!(fill("{v}", &[("v", &"{v}")]), "{v}", "a value is not filled again");
    }

    #[test]
    fn both_languages_name_the_same_placeholders() {
        let placeholders = |text: &str| {
            let mut names: Vec<String> = text
                .split('{')
                .skip(1)
                .filter_map(|part| part.split_once('}'))
                .map(|(name, _)| name.to_string())
                .collect();
            names.sort();
            names
        };
        let chinese = serde_json::to_value(&CHINESE).unwrap();
        let english = serde_json::to_value(&ENGLISH).unwrap();
        for (field, text) in chinese.as_object().unwrap() {
            if let (Some(zh), Some(en)) = (text.as_str(), english[field].as_str()) {
                assert_eq!(placeholders(zh), placeholders(en), "{field}");
            }
        }
    }
}
