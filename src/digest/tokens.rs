//! Signed tokens for the subscription links: `purpose.address.expiry.mac`, the MAC an
//! HMAC-SHA256 under the secret from `PLANET_DIGEST_SECRET`. Confirmation tokens expire after
//! two days; unsubscribe tokens do not (an old digest's link must still work). Pure.

use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Confirm,
    Unsubscribe,
}

impl Purpose {
    fn label(self) -> &'static str {
        match self {
            Purpose::Confirm => "confirm",
            Purpose::Unsubscribe => "unsubscribe",
        }
    }
}

pub const CONFIRM_VALID_FOR: TimeDelta = TimeDelta::hours(48);

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

fn mac(secret: &[u8], payload: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(payload.as_bytes());
    mac
}

/// A token for `address`; `expires` is `None` for tokens that do not expire.
pub fn sign(secret: &[u8], purpose: Purpose, address: &str, expires: Option<DateTime<Utc>>) -> String {
    let payload = format!("{}.{}.{}", purpose.label(), hex(address.as_bytes()), expires.map_or(0, |t| t.timestamp()));
    let tag = mac(secret, &payload).finalize().into_bytes();
    format!("{payload}.{}", hex(&tag))
}

/// The address a valid, unexpired token of this purpose was made for.
pub fn verify(secret: &[u8], purpose: Purpose, token: &str, now: DateTime<Utc>) -> Result<String, &'static str> {
    verify_with_expiry(secret, purpose, token, now).map(|(address, _)| address)
}

/// `verify`, with the expiry the token was signed with (seconds; 0 for none): it names the
/// request a confirmation link was mailed for.
pub fn verify_with_expiry(
    secret: &[u8],
    purpose: Purpose,
    token: &str,
    now: DateTime<Utc>,
) -> Result<(String, i64), &'static str> {
    let mut parts = token.trim().splitn(4, '.');
    let (Some(label), Some(address), Some(expiry), Some(tag)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("the link is incomplete");
    };
    if label != purpose.label() {
        return Err("the link is not for this");
    }
    let payload = format!("{label}.{address}.{expiry}");
    let tag = unhex(tag).ok_or("the link is damaged")?;
    mac(secret, &payload).verify_slice(&tag).map_err(|_| "the link is not valid")?;
    let expiry: i64 = expiry.parse().map_err(|_| "the link is damaged")?;
    if expiry != 0 && now.timestamp() > expiry {
        return Err("the link has expired; please subscribe again");
    }
    let address = String::from_utf8(unhex(address).ok_or("the link is damaged")?).map_err(|_| "the link is damaged")?;
    Ok((address, expiry))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_with_the_secret_the_purpose_and_in_time() {
        let now = Utc::now();
        let token = sign(b"secret", Purpose::Confirm, "a@b.cn", Some(now + CONFIRM_VALID_FOR));
        assert_eq!(verify(b"secret", Purpose::Confirm, &token, now).unwrap(), "a@b.cn");
        assert!(verify(b"other", Purpose::Confirm, &token, now).is_err());
        assert!(verify(b"secret", Purpose::Unsubscribe, &token, now).is_err());
        assert!(verify(b"secret", Purpose::Confirm, &token, now + TimeDelta::hours(49)).is_err());
        let forged = token.replace(&hex(b"a@b.cn"), &hex(b"victim@b.cn"));
        assert!(verify(b"secret", Purpose::Confirm, &forged, now).is_err());
        let forever = sign(b"secret", Purpose::Unsubscribe, "a@b.cn", None);
        assert!(verify(b"secret", Purpose::Unsubscribe, &forever, now + TimeDelta::days(3650)).is_ok());
    }
}
