//! What every HTTP key-service provider must do when its service misbehaves, run against the
//! imitations of ward-imitations (Vault Transit, Azure Key Vault, Cloud KMS).

use std::time::Duration;

use ward_crypto::{DataKey, DekId, KeyEncryptionKey, KeyMaterial};

/// What every HTTP provider does when its service misbehaves: throttling and passing errors are
/// retried; a service that stays down is a typed error (`says` in it) that shows none of `hidden`
/// and no key bytes; a service that does not answer within `impatient`'s 200 ms timeout is an
/// error (`timed_out` in it) at once.
pub(crate) async fn resilience(
    service: &dyn ward_imitations::Troubled,
    kek: &dyn KeyEncryptionKey,
    impatient: &dyn KeyEncryptionKey,
    provider: &str,
    says: &str,
    timed_out: &str,
    hidden: &[&str],
) {
    let material = KeyMaterial::generate().unwrap();
    let secret = material.to_base64().to_string();
    let dek = DataKey::new(DekId(5), material);
    let wrapped = kek.wrap(&dek, b"ws").await.unwrap();

    service.refuse(&[429, 503, 429]);
    let before = service.requests();
    assert_eq!(kek.unwrap(&wrapped, b"ws").await.unwrap().id(), DekId(5));
    assert_eq!(
        service.requests() - before,
        4,
        "three refusals, then the answer"
    );

    service.refuse(&[500; 8]);
    let mut hidden = hidden.to_vec();
    hidden.push(&secret);
    for result in [
        kek.unwrap(&wrapped, b"ws").await.map(|_| ()),
        kek.wrap(&dek, b"ws").await.map(|_| ()),
    ] {
        crate::conformance::assert_service_failure(&result.unwrap_err(), provider, says, &hidden);
    }

    service.refuse(&[]);
    service.stall(Duration::from_secs(2));
    let started = std::time::Instant::now();
    let err = impatient.wrap(&dek, b"ws").await.unwrap_err();
    crate::conformance::assert_service_failure(&err, provider, timed_out, &hidden);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    service.stall(Duration::ZERO);
}

/// A policy that gives up after 200 ms and one retry.
pub(crate) fn impatient() -> ward_crypto::HttpPolicy {
    ward_crypto::HttpPolicy {
        request_timeout: Duration::from_millis(200),
        attempts: 2,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(10),
        ..ward_crypto::HttpPolicy::default()
    }
}
