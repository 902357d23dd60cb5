//! Query parameters, read once for every route that takes them: each named once, each of a
//! bounded length, few of them. A query string is what a client varies for free, and it ends
//! up in render-cache keys: `?limit=1&limit=1...` or a 60 KB tag would otherwise be accepted
//! and cached under a key as long as the request. Handlers then check which names they take.

use std::collections::HashMap;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::Error;

/// Parameters in one query at most.
pub const MAX_PARAMETERS: usize = 8;
/// Characters of a parameter's value at most (a cursor is about 60; `q` has its own, 200).
pub const MAX_VALUE_CHARS: usize = 256;
/// Characters of a tag at most: a stored tag is never longer (`parse::entry`).
pub const MAX_TAG_CHARS: usize = 50;

/// The query's parameters, each once. A repeated, overlong or surplus parameter is a 400.
pub struct Params(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Params, Error> {
        parse(parts.uri.query().unwrap_or_default()).map(Params)
    }
}

/// The parameters of a query string, checked.
pub fn parse(query: &str) -> Result<HashMap<String, String>, Error> {
    let mut parameters = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if parameters.len() >= MAX_PARAMETERS {
            return Err(Error::bad("query", format!("more than {MAX_PARAMETERS} parameters")));
        }
        let name = name.into_owned();
        if name.chars().count() > 32 {
            return Err(Error::bad("query", "a parameter's name is longer than 32 characters"));
        }
        let limit = if name == "tag" { MAX_TAG_CHARS } else { MAX_VALUE_CHARS };
        if value.chars().count() > limit {
            return Err(Error::bad("query", format!("parameter '{name}' is longer than {limit} characters")));
        }
        if parameters.contains_key(&name) {
            return Err(Error::bad("query", format!("parameter '{name}' is given more than once")));
        }
        parameters.insert(name, value.into_owned());
    }
    Ok(parameters)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_parameter_is_refused() {
        assert!(parse("limit=1&limit=1").is_err());
        assert!(parse("limit=1&member=a").is_ok());
    }

    #[test]
    fn overlong_values_and_too_many_parameters_are_refused() {
        assert!(parse(&format!("tag={}", "t".repeat(51))).is_err());
        assert!(parse(&format!("tag={}", "长".repeat(50))).is_ok());
        assert!(parse(&format!("before={}", "c".repeat(257))).is_err());
        let many: Vec<String> = (0..9).map(|n| format!("p{n}=1")).collect();
        assert!(parse(&many.join("&")).is_err());
    }
}
