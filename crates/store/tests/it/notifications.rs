//! Notification channels and the notification queue on every backend: channels come back as
//! stored (recipients included), an update never touches the sealed secret, deletion is per
//! organisation; queued notifications are due by time, a claim succeeds once, a reschedule
//! keeps the attempt count and error, and dequeuing removes them.

use store::{NotificationChannelRecord, NotificationRepository, QueuedNotificationRecord};
use time::Duration;
use uuid::Uuid;

use crate::backends::with_each_backend;
use crate::identity::{T0, audited, setup};

fn channel(organization_id: base::OrganizationId, n: u8, kind: &str) -> NotificationChannelRecord {
    NotificationChannelRecord {
        id: Uuid::from_bytes([n; 16]),
        organization_id,
        name: format!("channel {n}"),
        kind: kind.into(),
        url: if kind == "webhook" { "https://hooks.example/x".into() } else { String::new() },
        recipients: if kind == "email" {
            vec!["soc@acme.example".into(), "cert@acme.example".into()]
        } else {
            Vec::new()
        },
        min_level: "high".into(),
        enabled: true,
        sealed_secret: if kind == "webhook" { vec![n; 40] } else { Vec::new() },
        created_at: T0 + Duration::minutes(i64::from(n)),
        updated_at: T0 + Duration::minutes(i64::from(n)),
    }
}

fn queued(organization_id: base::OrganizationId, n: u8, due: Duration) -> QueuedNotificationRecord {
    QueuedNotificationRecord {
        id: Uuid::from_bytes([n + 100; 16]),
        organization_id,
        alert_id: Uuid::from_bytes([n + 50; 16]),
        channel_id: Uuid::from_bytes([1; 16]),
        channel: "webhook".into(),
        target: "hooks.example".into(),
        attempts: 0,
        next_attempt_at: T0 + due,
        last_error: String::new(),
        created_at: T0,
    }
}

#[tokio::test]
async fn channels_round_trip_and_updates_keep_the_secret() {
    with_each_backend(|store| async move {
        let mut transaction = store.begin().await.unwrap();
        let user = setup(&mut transaction).await;
        let organization_id = user.organization_id;
        let webhook = channel(organization_id, 1, "webhook");
        let email = channel(organization_id, 2, "email");
        transaction.insert_notification_channel(&webhook).await.unwrap();
        transaction.insert_notification_channel(&email).await.unwrap();
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();

        let mut transaction = store.begin().await.unwrap();
        assert_eq!(
            transaction.list_notification_channels(organization_id).await.unwrap(),
            [webhook.clone(), email.clone()]
        );
        let mut changed = webhook.clone();
        changed.name = "renamed".into();
        changed.min_level = "critical".into();
        changed.enabled = false;
        changed.url = "https://hooks.example/y".into();
        changed.sealed_secret = vec![9; 40];
        changed.updated_at = T0 + Duration::hours(1);
        assert!(transaction.update_notification_channel(&changed).await.unwrap());
        let stored =
            transaction.get_notification_channel(organization_id, webhook.id).await.unwrap();
        let expected =
            NotificationChannelRecord { sealed_secret: webhook.sealed_secret.clone(), ..changed };
        assert_eq!(stored, Some(expected));
        // Another organisation's id finds nothing and deletes nothing.
        let other = base::OrganizationId::new(99, [9; 10]);
        assert_eq!(transaction.get_notification_channel(other, email.id).await.unwrap(), None);
        assert!(!transaction.delete_notification_channel(other, email.id).await.unwrap());
        assert!(transaction.delete_notification_channel(organization_id, email.id).await.unwrap());
        assert!(!transaction.delete_notification_channel(organization_id, email.id).await.unwrap());
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();

        let mut read = store.read().await.unwrap();
        assert_eq!(read.list_notification_channels(organization_id).await.unwrap().len(), 1);
        read.commit().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn the_queue_serves_due_notifications_once_per_claim() {
    with_each_backend(|store| async move {
        let organization_id = base::OrganizationId::new(7, [7; 10]);
        let mut transaction = store.begin().await.unwrap();
        let soon = queued(organization_id, 1, Duration::ZERO);
        let later = queued(organization_id, 2, Duration::minutes(10));
        transaction.queue_notification(&later).await.unwrap();
        transaction.queue_notification(&soon).await.unwrap();
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();

        let mut transaction = store.begin().await.unwrap();
        assert_eq!(
            transaction.due_notifications(T0, 10).await.unwrap(),
            std::slice::from_ref(&soon)
        );
        let all = transaction.due_notifications(T0 + Duration::hours(1), 10).await.unwrap();
        assert_eq!(all, [soon.clone(), later.clone()]);
        assert_eq!(
            transaction.due_notifications(T0 + Duration::hours(1), 1).await.unwrap().len(),
            1
        );
        // A claim moves the next attempt; a second claim on the old time fails.
        let until = T0 + Duration::minutes(1);
        assert!(
            transaction.claim_notification(soon.id, soon.next_attempt_at, until).await.unwrap()
        );
        assert!(
            !transaction.claim_notification(soon.id, soon.next_attempt_at, until).await.unwrap()
        );
        assert!(transaction.due_notifications(T0, 10).await.unwrap().is_empty());
        transaction
            .reschedule_notification(soon.id, 2, T0 + Duration::seconds(30), "status 503")
            .await
            .unwrap();
        // Bookkeeping alone commits without an audit event.
        transaction.commit().await.unwrap();

        let mut transaction = store.begin().await.unwrap();
        let due = transaction.due_notifications(T0 + Duration::seconds(30), 10).await.unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].attempts, 2);
        assert_eq!(due[0].last_error, "status 503");
        assert!(transaction.dequeue_notification(soon.id).await.unwrap());
        assert!(!transaction.dequeue_notification(soon.id).await.unwrap());
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();
        let mut read = store.read().await.unwrap();
        assert_eq!(read.due_notifications(T0 + Duration::hours(1), 10).await.unwrap(), [later]);
        read.commit().await.unwrap();
    })
    .await;
}
