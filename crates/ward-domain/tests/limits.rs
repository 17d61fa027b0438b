use std::time::Duration;

use futures::future::join_all;
use time::OffsetDateTime;
use ward_crypto::CachePolicy;
use ward_domain::{Action, RateDecision, RateLimit, audit};

use crate::common::Fixture;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_hits_allow_exactly_the_limit_on_every_replica() {
    for f in Fixture::all().await {
        let backend = f.backend();
        // Two pools stand for two replicas of the service.
        let other = ward_domain::Domain::new(
            f.test_db.connect_again().await,
            crate::common::kek(),
            CachePolicy::new(),
        );
        let limit = RateLimit::per_minute(10);
        // The middle of a window, so the 24 hits below share it.
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_030).unwrap();
        let hits = (0..24).map(|i| {
            let limits = if i % 2 == 0 {
                f.domain.rate_limits()
            } else {
                other.rate_limits()
            };
            async move { limits.hit("upload:user:a", limit, now).await }
        });
        let outcomes = join_all(hits).await;
        let allowed = outcomes
            .iter()
            .filter(|o| matches!(o, Ok(RateDecision::Allowed { .. })))
            .count();
        let refused: Vec<Duration> = outcomes
            .iter()
            .filter_map(|o| match o {
                Ok(RateDecision::Refused { retry_after }) => Some(*retry_after),
                _ => None,
            })
            .collect();
        assert_eq!(allowed, 10, "{backend:?}: {outcomes:?}");
        assert_eq!(refused.len(), 14, "{backend:?}");
        assert!(
            refused.iter().all(|d| *d == Duration::from_secs(30)),
            "{refused:?}"
        );
        // Another subject has its own count; the next window starts afresh.
        let limits = f.domain.rate_limits();
        assert_eq!(
            limits.hit("upload:user:b", limit, now).await.unwrap(),
            RateDecision::Allowed { remaining: 9 }
        );
        let later = now + time::Duration::seconds(60);
        assert_eq!(
            limits.hit("upload:user:a", limit, later).await.unwrap(),
            RateDecision::Allowed { remaining: 9 }
        );
        assert!(
            limits.hit("", limit, now).await.is_err(),
            "an empty subject"
        );
        f.cleanup().await;
    }
}

#[tokio::test]
async fn a_quota_change_is_audited_and_takes_effect() {
    for f in Fixture::all().await {
        let ws = f
            .domain
            .workspaces()
            .set_quota(&f.actor, f.ws.id, 5 << 20)
            .await
            .unwrap();
        assert_eq!(ws.quota_bytes, 5 << 20);
        assert_eq!(
            f.domain
                .workspaces()
                .get(f.ws.id)
                .await
                .unwrap()
                .quota_bytes,
            5 << 20
        );
        let events = crate::audit::events(&f, f.ws.id).await;
        assert_eq!(
            events.last().map(|e| e.action.as_str()),
            Some(Action::WorkspaceQuota.as_str())
        );
        assert!(
            audit::verify_chain(f.db(), f.ws.id)
                .await
                .unwrap()
                .is_intact()
        );
        let missing = ward_domain::WorkspaceId::from(uuid::Uuid::new_v4());
        assert!(matches!(
            f.domain.workspaces().set_quota(&f.actor, missing, 1).await,
            Err(ward_domain::Error::NotFound { .. })
        ));
        f.cleanup().await;
    }
}
