//! Detection on every backend: the cursor follows each organisation's trail, alerts come back
//! as stored, the open alert of a rule and group is found (not a closed one), and listings
//! filter by state, newest first.

use base::OrganizationId;
use store::{
    AlertCount, AlertRecord, AlertResolution, AlertState, DetectionRepository, OpenAlert,
    OpenAlertsWanted, Transaction,
};
use time::Duration;
use uuid::Uuid;

use crate::backends::with_each_backend;
use crate::identity::{T0, audited, setup};

fn alert(organization_id: OrganizationId, n: u8, group: &str) -> AlertRecord {
    let mut summary = serde_json::Map::new();
    summary.insert("api.operation".into(), "auth.login.password".into());
    AlertRecord {
        id: Uuid::from_bytes([n; 16]),
        organization_id,
        rule_id: "rule-1".into(),
        title: "Brute force".into(),
        level: "high".into(),
        tags: vec!["attack.t1110.001".into()],
        author: "Rampart".into(),
        group_key: group.into(),
        event_refs: vec![format!("{organization_id}:{n}")],
        summary,
        first_seen: T0 + Duration::minutes(i64::from(n)),
        last_seen: T0 + Duration::minutes(i64::from(n)),
        count: 1,
        state: AlertState::New,
        resolution: None,
        assignee: None,
        acknowledged_by: None,
        acknowledged_at: None,
        closed_by: None,
        closed_at: None,
        comment: String::new(),
    }
}

/// The open alerts of a rule and group, first seen within a year of `T0`.
fn any_time((rule_id, group_key): (&'static str, &'static str)) -> OpenAlertsWanted<'static> {
    let (first_seen_from, first_seen_to) = (T0 - Duration::days(365), T0 + Duration::days(365));
    OpenAlertsWanted { rule_id, group_key, first_seen_from, first_seen_to }
}

async fn pending(transaction: &mut Transaction) -> Vec<(OrganizationId, u64, u64)> {
    transaction.pending_detection().await.unwrap()
}

#[tokio::test]
async fn the_cursor_follows_the_trail() {
    with_each_backend(|store| async move {
        let mut transaction = store.begin().await.unwrap();
        let user = setup(&mut transaction).await;
        let organization_id = user.organization_id;
        audited(&mut transaction, organization_id).await;
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();

        let mut transaction = store.begin().await.unwrap();
        let before = pending(&mut transaction).await;
        let size = before.iter().find(|(id, _, _)| *id == organization_id).unwrap().2;
        assert!(before.contains(&(organization_id, 0, size)), "{before:?}");
        assert!(transaction.advance_detection_cursor(organization_id, 0, 1).await.unwrap());
        assert!(pending(&mut transaction).await.contains(&(organization_id, 1, size)));
        // From where it no longer is: nothing moves.
        assert!(!transaction.advance_detection_cursor(organization_id, 0, size).await.unwrap());
        assert!(pending(&mut transaction).await.contains(&(organization_id, 1, size)));
        assert!(transaction.advance_detection_cursor(organization_id, 1, size).await.unwrap());
        // Moving the cursor is bookkeeping: the transaction commits without an audit event.
        transaction.commit().await.unwrap();

        let mut transaction = store.begin().await.unwrap();
        assert!(pending(&mut transaction).await.iter().all(|(id, _, _)| *id != organization_id));
        audited(&mut transaction, organization_id).await;
        assert!(pending(&mut transaction).await.contains(&(organization_id, size, size + 1)));
        transaction.commit().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn alerts_round_trip_and_the_open_one_is_found() {
    with_each_backend(|store| async move {
        let mut transaction = store.begin().await.unwrap();
        let user = setup(&mut transaction).await;
        let organization_id = user.organization_id;
        let first = alert(organization_id, 1, "user.uid=u-1");
        let second = alert(organization_id, 2, "user.uid=u-1");
        let other_group = alert(organization_id, 3, "user.uid=u-2");
        for alert in [&first, &second, &other_group] {
            transaction.insert_alert(alert).await.unwrap();
        }
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();

        let mut transaction = store.begin().await.unwrap();
        assert_eq!(
            transaction.get_alert(organization_id, first.id).await.unwrap(),
            Some(first.clone())
        );
        let stranger = OrganizationId::new(9, [9; 10]);
        assert_eq!(transaction.get_alert(stranger, first.id).await.unwrap(), None);
        let open = transaction.open_alert_for(organization_id, "rule-1", "user.uid=u-1").await;
        assert_eq!(open.unwrap(), Some(OpenAlert::from(&second)), "the newest open one");
        let key = ("rule-1", "user.uid=u-1");
        let all_open = transaction.open_alerts_of(organization_id, &[any_time(key)], 10).await;
        let (first_open, second_open) = (OpenAlert::from(&first), OpenAlert::from(&second));
        assert_eq!(
            all_open.unwrap(),
            vec![second_open.clone(), first_open.clone()],
            "newest first"
        );
        let newest = transaction.open_alerts_of(organization_id, &[any_time(key)], 1).await;
        assert_eq!(newest.unwrap(), vec![second_open.clone()]);
        // Only those first seen in the span wanted, its ends included.
        let until_first = OpenAlertsWanted { first_seen_to: first.first_seen, ..any_time(key) };
        let from_second = OpenAlertsWanted { first_seen_from: second.first_seen, ..any_time(key) };
        for (span, expected) in [(until_first, &first_open), (from_second, &second_open)] {
            let read = transaction.open_alerts_of(organization_id, &[span], 10).await.unwrap();
            assert_eq!(read, vec![expected.clone()]);
        }
        let between = OpenAlertsWanted {
            first_seen_from: first.first_seen + Duration::SECOND,
            first_seen_to: second.first_seen - Duration::SECOND,
            ..any_time(key)
        };
        assert_eq!(transaction.open_alerts_of(organization_id, &[between], 10).await.unwrap(), []);
        // Many keys at once: the limit holds per rule and group, unknown keys add nothing,
        // and another organisation's alerts are not read.
        let keys = [any_time(("rule-1", "user.uid=u-2")), any_time(("rule-9", "")), any_time(key)];
        let both = transaction.open_alerts_of(organization_id, &keys, 1).await.unwrap();
        assert_eq!(both, vec![second_open.clone(), OpenAlert::from(&other_group)]);
        assert_eq!(transaction.open_alerts_of(stranger, &keys, 10).await.unwrap(), vec![]);

        let closed = AlertRecord {
            state: AlertState::Closed,
            resolution: Some(AlertResolution::Benign),
            closed_by: Some("u-9".into()),
            closed_at: Some(T0 + Duration::hours(1)),
            comment: "expected".into(),
            count: 7,
            last_seen: T0 + Duration::minutes(30),
            ..second.clone()
        };
        assert!(transaction.update_alert(&closed).await.unwrap());
        let missing = AlertRecord { id: Uuid::from_bytes([8; 16]), ..closed.clone() };
        assert!(!transaction.update_alert(&missing).await.unwrap());
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();

        let mut transaction = store.begin().await.unwrap();
        assert_eq!(
            transaction.get_alert(organization_id, second.id).await.unwrap(),
            Some(closed.clone())
        );
        let open = transaction.open_alert_for(organization_id, "rule-1", "user.uid=u-1").await;
        assert_eq!(open.unwrap(), Some(first_open.clone()), "a closed alert is never counted into");
        // The limit counts open alerts only: the closed newest one does not take its place.
        let newest_open = transaction.open_alerts_of(organization_id, &[any_time(key)], 1).await;
        assert_eq!(newest_open.unwrap(), vec![first_open.clone()]);

        // Counting into an alert adds to the stored count and leaves what a triager set.
        let counted = OpenAlert {
            count: 99,
            last_seen: T0 + Duration::minutes(45),
            event_refs: vec!["audit:x:1".into(), "audit:x:2".into()],
            ..OpenAlert::from(&closed)
        };
        let missing = OpenAlert { id: Uuid::from_bytes([8; 16]), ..counted.clone() };
        let mut summary = serde_json::Map::new();
        summary.insert("status".into(), "Failure".into());
        let count = |alert, added| AlertCount { alert, added, summary: summary.clone() };
        let counts = [count(&counted, 3), count(&missing, 1), count(&first_open, 2)];
        assert_eq!(
            transaction.count_into_alerts(&counts).await.unwrap(),
            2,
            "the missing one is not"
        );
        let stored = transaction.get_alert(organization_id, second.id).await.unwrap().unwrap();
        assert_eq!(stored.count, closed.count + 3);
        assert_eq!(stored.last_seen, counted.last_seen);
        assert_eq!(stored.event_refs, counted.event_refs);
        assert_eq!(stored.summary, summary, "the summary of the latest detection");
        assert_eq!((stored.title.as_str(), &stored.tags), (closed.title.as_str(), &closed.tags));
        assert_eq!((stored.state, stored.comment.as_str()), (AlertState::Closed, "expected"));
        let stored_first = transaction.get_alert(organization_id, first.id).await.unwrap();
        assert_eq!(stored_first.unwrap().count, first.count + 2);
        assert_eq!(transaction.get_alert(organization_id, missing.id).await.unwrap(), None);
        assert_eq!(transaction.count_into_alerts(&[]).await.unwrap(), 0);
        audited(&mut transaction, organization_id).await;
        assert_eq!(
            transaction.open_alert_for(organization_id, "rule-2", "user.uid=u-1").await.unwrap(),
            None
        );
        let all = transaction.list_alerts(organization_id, None, 10).await.unwrap();
        let ids: Vec<Uuid> = all.iter().map(|alert| alert.id).collect();
        assert_eq!(ids, vec![other_group.id, second.id, first.id], "newest first");
        let new =
            transaction.list_alerts(organization_id, Some(AlertState::New), 10).await.unwrap();
        assert_eq!(new.len(), 2);
        let limited = transaction.list_alerts(organization_id, None, 1).await.unwrap();
        assert_eq!(limited, vec![other_group]);
        transaction.commit().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn an_alert_alone_is_an_unaudited_change() {
    with_each_backend(|store| async move {
        let mut transaction = store.begin().await.unwrap();
        let user = setup(&mut transaction).await;
        audited(&mut transaction, user.organization_id).await;
        transaction.commit().await.unwrap();
        let mut transaction = store.begin().await.unwrap();
        transaction.insert_alert(&alert(user.organization_id, 1, "")).await.unwrap();
        assert!(transaction.commit().await.is_err());
        let mut transaction = store.begin().await.unwrap();
        assert_eq!(transaction.list_alerts(user.organization_id, None, 10).await.unwrap(), vec![]);
        transaction.commit().await.unwrap();
    })
    .await;
}
