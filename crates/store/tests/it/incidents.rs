//! Incident response on every backend: cases come back as stored and are updated in place,
//! listings filter by status, the running Article 33 clocks are found (not notified or closed
//! ones), timelines keep the order they were appended in; public reports are found by the hash of their reference
//! and triaged; the notification delivery log reads back newest first.

use base::OrganizationId;
use store::{
    DeliveryRecord, IncidentRecord, IncidentRepository, PublicReportRecord, RetentionTrigger,
    TimelineRecord,
};
use time::Duration;
use uuid::Uuid;

use crate::backends::with_each_backend;
use crate::identity::{T0, audited};

fn incident(organization_id: OrganizationId, n: u8, status: &str) -> IncidentRecord {
    IncidentRecord {
        id: Uuid::from_bytes([n; 16]),
        organization_id,
        title: format!("case {n}"),
        severity: "SEV2".into(),
        status: status.into(),
        breach_aware_at: None,
        authority_notified_at: None,
        document: format!("{{\"n\":{n}}}"),
        created_at: T0 + Duration::minutes(i64::from(n)),
        updated_at: T0 + Duration::minutes(i64::from(n)),
    }
}

#[tokio::test]
async fn incidents_and_their_timelines_round_trip() {
    with_each_backend(|store| async move {
        let organization_id = OrganizationId::new(7, [7; 10]);
        let other = OrganizationId::new(8, [8; 10]);
        let mut transaction = store.begin().await.unwrap();
        let mut running = incident(organization_id, 1, "analysing");
        running.breach_aware_at = Some(T0);
        let mut notified = incident(organization_id, 2, "contained");
        notified.breach_aware_at = Some(T0);
        notified.authority_notified_at = Some(T0 + Duration::hours(30));
        let mut closed = incident(organization_id, 3, "closed");
        closed.breach_aware_at = Some(T0);
        let plain = incident(organization_id, 4, "detected");
        for record in [&running, &notified, &closed, &plain] {
            transaction.insert_incident(record).await.unwrap();
        }
        for (n, kind) in [(1u8, "open"), (2, "status")] {
            transaction
                .append_timeline(&TimelineRecord {
                    id: Uuid::from_bytes([n + 100; 16]),
                    incident_id: running.id,
                    at: T0 + Duration::minutes(i64::from(n)),
                    actor: "system".into(),
                    kind: kind.into(),
                    detail: "{}".into(),
                })
                .await
                .unwrap();
        }
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();

        let mut transaction = store.begin().await.unwrap();
        assert_eq!(
            transaction.get_incident(organization_id, running.id).await.unwrap(),
            Some(running.clone())
        );
        assert_eq!(transaction.get_incident(other, running.id).await.unwrap(), None);
        let listed = transaction.list_incidents(organization_id, None, 10).await.unwrap();
        let ids: Vec<Uuid> = listed.iter().map(|record| record.id).collect();
        assert_eq!(ids, [plain.id, closed.id, notified.id, running.id], "newest first");
        let closed_only =
            transaction.list_incidents(organization_id, Some("closed"), 10).await.unwrap();
        assert_eq!(closed_only, [closed.clone()]);
        assert_eq!(transaction.list_incidents(organization_id, None, 2).await.unwrap().len(), 2);
        let clocks = transaction.incidents_with_running_clock().await.unwrap();
        assert_eq!(clocks, [running.clone()]);
        let kinds: Vec<String> = transaction
            .timeline(running.id)
            .await
            .unwrap()
            .into_iter()
            .map(|entry| entry.kind)
            .collect();
        assert_eq!(kinds, ["open", "status"], "in the order appended");

        let mut changed = running.clone();
        changed.status = "contained".into();
        changed.severity = "SEV1".into();
        changed.authority_notified_at = Some(T0 + Duration::hours(2));
        changed.document = "{\"n\":10}".into();
        changed.updated_at = T0 + Duration::hours(2);
        assert!(transaction.update_incident(&changed).await.unwrap());
        let mut missing = changed.clone();
        missing.id = Uuid::from_bytes([99; 16]);
        assert!(!transaction.update_incident(&missing).await.unwrap());
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();

        let mut read = store.read().await.unwrap();
        assert_eq!(read.get_incident(organization_id, running.id).await.unwrap(), Some(changed));
        assert!(read.incidents_with_running_clock().await.unwrap().is_empty());
        read.commit().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn closed_incidents_are_found_by_creation_or_last_change_and_details_replaced() {
    with_each_backend(|store| async move {
        let organization_id = OrganizationId::new(7, [7; 10]);
        let other = OrganizationId::new(8, [8; 10]);
        let mut transaction = store.begin().await.unwrap();
        let old_closed = incident(organization_id, 1, "closed");
        let mut recently_closed = incident(organization_id, 2, "closed");
        recently_closed.updated_at = T0 + Duration::days(40);
        let open = incident(organization_id, 3, "recovered");
        let elsewhere = incident(other, 4, "closed");
        for record in [&old_closed, &recently_closed, &open, &elsewhere] {
            transaction.insert_incident(record).await.unwrap();
        }
        let entry = TimelineRecord {
            id: Uuid::from_bytes([200; 16]),
            incident_id: old_closed.id,
            at: T0,
            actor: "system".into(),
            kind: "status".into(),
            detail: "{\"note\":\"called Ana\"}".into(),
        };
        transaction.append_timeline(&entry).await.unwrap();
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();

        let mut transaction = store.begin().await.unwrap();
        let cutoff = T0 + Duration::days(30);
        let ids = |records: Vec<IncidentRecord>| -> Vec<Uuid> {
            records.into_iter().map(|record| record.id).collect()
        };
        let by_creation = transaction
            .closed_incidents_before(organization_id, RetentionTrigger::Creation, cutoff)
            .await
            .unwrap();
        assert_eq!(ids(by_creation), [old_closed.id, recently_closed.id]);
        let by_last_change = transaction
            .closed_incidents_before(organization_id, RetentionTrigger::LastActivity, cutoff)
            .await
            .unwrap();
        assert_eq!(ids(by_last_change), [old_closed.id]);
        let by_event = transaction
            .closed_incidents_before(organization_id, RetentionTrigger::EventDate, cutoff)
            .await
            .unwrap();
        assert!(by_event.is_empty());

        assert!(transaction.replace_timeline_detail(entry.id, "{\"note\":null}").await.unwrap());
        assert!(
            !transaction.replace_timeline_detail(Uuid::from_bytes([201; 16]), "{}").await.unwrap()
        );
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();

        let mut read = store.read().await.unwrap();
        let timeline = read.timeline(old_closed.id).await.unwrap();
        assert_eq!(timeline, [TimelineRecord { detail: "{\"note\":null}".into(), ..entry }]);
        read.commit().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn public_reports_and_deliveries_round_trip() {
    with_each_backend(|store| async move {
        let organization_id = OrganizationId::new(7, [7; 10]);
        let report = |n: u8| PublicReportRecord {
            id: Uuid::from_bytes([n; 16]),
            organization_id,
            reference_hash: vec![n; 32],
            received_at: T0 + Duration::minutes(i64::from(n)),
            subject: format!("<b>report {n}</b>"),
            body: "line one\nline two".into(),
            contact: String::new(),
            state: "new".into(),
            incident_id: None,
            triaged_by: None,
            triaged_at: None,
            note: String::new(),
        };
        let mut transaction = store.begin().await.unwrap();
        transaction.insert_public_report(&report(2)).await.unwrap();
        transaction.insert_public_report(&report(1)).await.unwrap();
        let mut duplicate = report(3);
        duplicate.reference_hash = vec![2; 32];
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();
        let mut transaction = store.begin().await.unwrap();
        assert!(
            transaction.insert_public_report(&duplicate).await.is_err(),
            "references are unique"
        );
        transaction.rollback().await.unwrap();

        let mut transaction = store.begin().await.unwrap();
        assert_eq!(
            transaction.public_report_by_reference(&[1; 32]).await.unwrap(),
            Some(report(1))
        );
        assert_eq!(transaction.public_report_by_reference(&[9; 32]).await.unwrap(), None);
        let queue =
            transaction.list_public_reports(organization_id, Some("new"), 10).await.unwrap();
        assert_eq!(queue, [report(1), report(2)], "oldest first");
        let mut opened = report(1);
        opened.state = "opened".into();
        opened.incident_id = Some(Uuid::from_bytes([5; 16]));
        opened.triaged_by = Some("user:x".into());
        opened.triaged_at = Some(T0 + Duration::hours(1));
        opened.note = "taken".into();
        assert!(transaction.update_public_report(&opened).await.unwrap());
        for n in 1..=2u8 {
            transaction
                .insert_delivery(&DeliveryRecord {
                    id: Uuid::from_bytes([n + 50; 16]),
                    organization_id,
                    alert_id: Uuid::from_bytes([n; 16]),
                    channel: "webhook".into(),
                    target: "hooks.example".into(),
                    attempts: u32::from(n),
                    delivered: n == 2,
                    last_error: if n == 1 { "timeout".into() } else { String::new() },
                    at: T0 + Duration::minutes(i64::from(n)),
                })
                .await
                .unwrap();
        }
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();

        let mut read = store.read().await.unwrap();
        assert_eq!(read.get_public_report(organization_id, opened.id).await.unwrap(), Some(opened));
        assert_eq!(
            read.list_public_reports(organization_id, Some("new"), 10).await.unwrap(),
            [report(2)]
        );
        let deliveries = read.list_deliveries(organization_id, 10).await.unwrap();
        assert_eq!(deliveries.len(), 2);
        assert_eq!(deliveries[0].attempts, 2);
        assert!(deliveries[0].delivered);
        assert_eq!(deliveries[1].last_error, "timeout");
        read.commit().await.unwrap();
    })
    .await;
}
