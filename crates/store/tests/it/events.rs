//! Ingested events on every backend: numbering per organisation, reading back in order, the
//! detection cursor and backlog, searches by time and page, and the retention purge.

use base::OrganizationId;
use store::{EventRepository, EventWindow, NewEvent};
use time::Duration;

use crate::backends::with_each_backend;
use crate::identity::{T0, audited, setup};

static CATEGORIES: std::sync::LazyLock<Vec<String>> =
    std::sync::LazyLock::new(|| vec!["process_creation".into()]);

/// An event's text with `marker` in it.
fn text(marker: &str) -> String {
    format!("{{\"marker\":\"{marker}\"}}")
}

fn event(minute: i64, text: &str) -> NewEvent<'_> {
    NewEvent {
        time: T0 + Duration::minutes(minute),
        product: Some("linux"),
        service: None,
        categories: &CATEGORIES,
        fields: text,
    }
}

#[tokio::test]
async fn events_are_numbered_read_back_and_followed_by_the_cursor() {
    with_each_backend(|store| async move {
        let mut transaction = store.begin().await.unwrap();
        let user = setup(&mut transaction).await;
        let organization_id = user.organization_id;
        let other = OrganizationId::new(2, [2; 10]);
        let texts: Vec<String> = (0..3).map(|n| text(&format!("a{n}"))).collect();
        let batch: Vec<NewEvent> = (0..3).map(|n| event(n, &texts[n as usize])).collect();
        assert_eq!(transaction.append_events(organization_id, T0, &batch).await.unwrap(), (0, 3));
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();

        // An insert without its audit event does not commit.
        let mut transaction = store.begin().await.unwrap();
        transaction.append_events(organization_id, T0, &batch).await.unwrap();
        assert!(transaction.commit().await.is_err());

        // More than one multi-row insert, numbered on.
        let texts: Vec<String> = (0..1200).map(|n| text(&format!("b{n}"))).collect();
        let many: Vec<NewEvent> = (0..1200).map(|n| event(10 + n, &texts[n as usize])).collect();
        let mut transaction = store.begin().await.unwrap();
        assert_eq!(transaction.append_events(organization_id, T0, &many).await.unwrap(), (3, 1203));
        assert_eq!(transaction.append_events(other, T0, &batch[..1]).await.unwrap(), (0, 1));
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();

        let mut read = store.read().await.unwrap();
        let rows = read.events_between(organization_id, 1, 5).await.unwrap();
        assert_eq!(rows.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
        assert_eq!(rows[0].fields, "{\"marker\":\"a1\"}");
        assert_eq!(rows[0].time, T0 + Duration::minutes(1));
        assert_eq!(rows[0].received_at, T0);
        assert_eq!(rows[0].product.as_deref(), Some("linux"));
        assert_eq!(rows[0].service, None);
        assert_eq!(rows[0].categories, vec!["process_creation".to_owned()]);
        assert_eq!(rows[2].fields, "{\"marker\":\"b0\"}");
        assert_eq!(read.event_backlog(organization_id).await.unwrap(), 1203);
        let pending = read.pending_event_detection().await.unwrap();
        assert!(pending.contains(&(organization_id, 0, 1203)), "{pending:?}");
        assert!(pending.contains(&(other, 0, 1)), "{pending:?}");
        read.commit().await.unwrap();

        // Moving the cursor is bookkeeping: it commits without an audit event. It moves only
        // from where it is: a pass that finds it moved (another replica's) changes nothing.
        let mut transaction = store.begin().await.unwrap();
        assert!(
            transaction.advance_event_detection_cursor(organization_id, 0, 1000).await.unwrap()
        );
        transaction.commit().await.unwrap();
        let mut transaction = store.begin().await.unwrap();
        assert!(!transaction.advance_event_detection_cursor(organization_id, 0, 20).await.unwrap());
        assert!(
            transaction.advance_event_detection_cursor(organization_id, 1000, 1203).await.unwrap()
        );
        transaction.commit().await.unwrap();
        let mut read = store.read().await.unwrap();
        assert_eq!(read.event_backlog(organization_id).await.unwrap(), 0);
        let pending = read.pending_event_detection().await.unwrap();
        assert!(pending.iter().all(|(id, _, _)| *id != organization_id), "{pending:?}");

        // Searches: newest number first, within the time window, below a number.
        let window = EventWindow {
            from: Some(T0 + Duration::minutes(1)),
            to: Some(T0 + Duration::minutes(12)),
            before_seq: None,
        };
        let found = read.search_events(organization_id, window, 10).await.unwrap();
        assert_eq!(found.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![4, 3, 2, 1]);
        let below = EventWindow { before_seq: Some(3), ..window };
        let found = read.search_events(organization_id, below, 1).await.unwrap();
        assert_eq!(found.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![2]);
        let found = read.search_events(other, EventWindow::default(), 10).await.unwrap();
        assert_eq!(found.len(), 1);
        read.commit().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn the_retention_purge_removes_only_expired_events() {
    with_each_backend(|store| async move {
        let mut transaction = store.begin().await.unwrap();
        let user = setup(&mut transaction).await;
        let organization_id = user.organization_id;
        transaction
            .append_events(organization_id, T0, &[event(0, &text("old")), event(1, &text("old"))])
            .await
            .unwrap();
        transaction
            .append_events(organization_id, T0 + Duration::days(1), &[event(2, &text("new"))])
            .await
            .unwrap();
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();

        let cutoff = T0 + Duration::hours(12);
        let mut read = store.read().await.unwrap();
        assert_eq!(
            read.count_events_received_before(cutoff).await.unwrap(),
            vec![(organization_id, 2)]
        );
        read.commit().await.unwrap();

        // Deleting is a change: it needs its audit event.
        let mut transaction = store.begin().await.unwrap();
        assert_eq!(
            transaction.purge_events_received_before(organization_id, cutoff).await.unwrap(),
            2
        );
        assert!(transaction.commit().await.is_err());

        let mut transaction = store.begin().await.unwrap();
        assert_eq!(
            transaction.purge_events_received_before(organization_id, cutoff).await.unwrap(),
            2
        );
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();

        let mut read = store.read().await.unwrap();
        let left = read.events_between(organization_id, 0, 10).await.unwrap();
        assert_eq!(left.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![2]);
        assert_eq!(left[0].fields, "{\"marker\":\"new\"}");
        assert!(read.count_events_received_before(cutoff).await.unwrap().is_empty());
        // Purging leaves the numbering and the backlog as they were.
        assert_eq!(read.event_backlog(organization_id).await.unwrap(), 3);
        read.commit().await.unwrap();
    })
    .await;
}
