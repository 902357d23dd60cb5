//! Secrets and variables from the environment (never from feeds.toml, which is public):
//! the admin token (checked for strength), the digest's signing secret, and where the push
//! targets' hook URLs and signing secrets are looked up.

use std::sync::Arc;

/// Secrets, read from the environment by `main` (never from feeds.toml).
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    /// `PLANET_ADMIN_TOKEN`: enables POST /admin/refresh.
    pub admin_token: Option<String>,
    /// `PLANET_DIGEST_SECRET`: signs subscription links; without it nobody can subscribe.
    pub digest_secret: Option<String>,
    /// Where push targets' `url_env` and `secret_env` are looked up: the process environment,
    /// or a fixed set (tests).
    pub variables: Variables,
}

/// Environment variables, read when needed (a reload may name new ones).
#[derive(Clone, Default)]
pub struct Variables(Option<Arc<std::collections::HashMap<String, String>>>);

impl Variables {
    /// A fixed set instead of the process environment.
    pub fn fixed(values: impl IntoIterator<Item = (String, String)>) -> Variables {
        Variables(Some(Arc::new(values.into_iter().collect())))
    }

    pub fn get(&self, name: &str) -> Option<String> {
        match &self.0 {
            Some(values) => values.get(name).cloned(),
            None => std::env::var(name).ok(),
        }
    }
}

impl std::fmt::Debug for Variables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The values are hook URLs with tokens and signing secrets.
        write!(f, "Variables({})", if self.0.is_some() { "fixed" } else { "environment" })
    }
}

/// Characters an admin token needs at least: it is the only thing between the Internet and
/// `POST /admin/refresh`.
pub const MIN_ADMIN_TOKEN_CHARS: usize = 32;

impl Secrets {
    /// Reads the secrets, trimmed (a stray space or newline from an env file would make a
    /// token that can never match); a weak admin token is refused.
    pub fn from_environment() -> anyhow::Result<Secrets> {
        let read = |name: &str| std::env::var(name).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let secrets = Secrets {
            admin_token: read("PLANET_ADMIN_TOKEN"),
            digest_secret: read("PLANET_DIGEST_SECRET"),
            variables: Variables::default(),
        };
        if let Some(token) = &secrets.admin_token {
            anyhow::ensure!(
                token.chars().count() >= MIN_ADMIN_TOKEN_CHARS,
                "PLANET_ADMIN_TOKEN has {} characters; it needs at least {MIN_ADMIN_TOKEN_CHARS} \
                 (for example `openssl rand -hex 32`), or leave it unset to turn /admin/refresh off",
                token.chars().count()
            );
            anyhow::ensure!(
                has_variety(token),
                "PLANET_ADMIN_TOKEN is long enough but too regular (few distinct characters, or one \
                 pattern repeated); use a random one, for example `openssl rand -hex 32`"
            );
        }
        Ok(secrets)
    }
}

/// Whether a token looks random enough to guard the admin endpoints: at least 10 distinct
/// characters, at least 96 bits by the entropy of its own character counts, and not one
/// short pattern repeated. `openssl rand -hex 32` gives ~15 distinct and ~240 bits;
/// `aaaa...` gives 1 and 0.
pub fn has_variety(token: &str) -> bool {
    let chars: Vec<char> = token.chars().collect();
    let mut counts = std::collections::HashMap::new();
    for c in &chars {
        *counts.entry(*c).or_insert(0usize) += 1;
    }
    let total = chars.len() as f64;
    let bits_per_char: f64 = counts.values().map(|&n| n as f64 / total).map(|p| -p * p.log2()).sum();
    let repeated = (1..=chars.len() / 2).any(|period| {
        chars.len().is_multiple_of(period) && chars.iter().enumerate().all(|(i, c)| *c == chars[i % period])
    });
    counts.len() >= 10 && bits_per_char * total >= 96.0 && !repeated
}
