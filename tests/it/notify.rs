//! Group-robot and webhook messages checked by what their receivers run: the Standard
//! Webhooks reference implementation (PyPI `standardwebhooks`, which the README's test
//! command installs) verifies planet's signatures.

use std::process::Command;

use planet::notify::signature;

/// Asks the reference implementation to verify a delivery; returns its error, if any.
fn verified_by_the_reference(
    secret: &str,
    id: &str,
    timestamp: i64,
    signature: &str,
    body: &str,
) -> Result<(), String> {
    let script = "import sys, json\n\
                  from standardwebhooks.webhooks import Webhook\n\
                  secret, id, ts, sig, body = sys.argv[1:6]\n\
                  Webhook(secret).verify(body, {'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': sig})\n";
    let output = Command::new("python3")
        .args(["-c", script, secret, id, &timestamp.to_string(), signature, body])
        .output()
        .expect("python3 runs");
    output.status.success().then_some(()).ok_or_else(|| String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn standard_webhooks_signatures_are_accepted_by_the_reference_verifier_and_tampering_is_not() {
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let body = r#"{"type":"posts.new","posts":[{"title":"依赖注入 & Span<T>"}]}"#;
    let now = chrono::Utc::now().timestamp();
    let signed = signature::standard_webhooks(secret, "msg_2026120201", now, body.as_bytes()).unwrap();
    verified_by_the_reference(secret, "msg_2026120201", now, &signed, body).unwrap();
    let tampered = body.replace("依赖注入", "依赖注入!");
    assert!(verified_by_the_reference(secret, "msg_2026120201", now, &signed, &tampered).is_err());
    assert!(verified_by_the_reference(secret, "msg_other", now, &signed, body).is_err(), "the id is signed too");
}
