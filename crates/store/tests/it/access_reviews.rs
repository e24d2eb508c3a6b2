//! Access reviews on every backend: campaigns and items come back as stored, counts follow
//! decisions, an item is decided and a campaign closed once, last activity is the newest
//! success in any trail, and a schedule's run is recorded once per turn.

use base::{GroupId, Name, Organization, OrganizationId, OrganizationKind};
use store::{
    AccessReviewRepository, AuditEntryRow, AuditLogRepository, CampaignCounts, CampaignOrigin,
    GroupRecord, ItemDecisionRecord, OrganizationRepository, PolicyHolder, PrincipalRepository,
    ReviewCampaignRecord, ReviewDecision, ReviewItemRecord, ReviewScheduleRecord, ReviewScope,
    StoreError, Transaction,
};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::backends::with_each_backend;
use crate::identity::{T0, audited, setup};

fn campaign(organization_id: OrganizationId, n: u8, scope: ReviewScope) -> ReviewCampaignRecord {
    ReviewCampaignRecord {
        id: Uuid::from_bytes([n; 16]),
        organization_id,
        name: format!("campaign {n}"),
        scope,
        origin: CampaignOrigin::Manual,
        reviewer_id: None,
        unused_after_days: 90,
        started_by: Some("someone".into()),
        started_at: T0,
        due_at: T0 + Duration::days(14),
        closed_at: None,
        closed_by: None,
    }
}

fn item(campaign: &ReviewCampaignRecord, n: u8, holder: PolicyHolder) -> ReviewItemRecord {
    ReviewItemRecord {
        id: Uuid::from_bytes([n; 16]),
        campaign_id: campaign.id,
        organization_id: campaign.organization_id,
        principal: holder,
        policy_id: Uuid::from_bytes([n.wrapping_add(100); 16]),
        rule_index: u32::from(n % 3),
        rule: format!(r#"{{"permission_sets":["Set{n}"],"scope":"organization"}}"#),
        privileged: n.is_multiple_of(2),
        granted_at: T0 - Duration::days(400),
        granted_by: Some("granter".into()),
        policy_updated_at: T0 - Duration::days(30),
        last_activity_at: (n % 2 == 1).then_some(T0 - Duration::days(3)),
        unused: n.is_multiple_of(2),
        reason: (n == 9).then(|| "added to group".into()),
        created_at: T0,
        decision: None,
    }
}

async fn entry(
    transaction: &mut Transaction,
    organization_id: OrganizationId,
    actor_id: &str,
    time: OffsetDateTime,
    outcome: &str,
) {
    let index = transaction.reserve_audit_indices(organization_id, 1).await.unwrap();
    let row = AuditEntryRow {
        organization_id,
        index,
        time,
        actor_id: Some(actor_id.into()),
        action: "test".into(),
        resource_kind: "test".into(),
        resource_id: None,
        outcome: outcome.into(),
        privileged: false,
        leaf: vec![index as u8],
        personal: serde_json::Map::new(),
    };
    transaction.insert_audit_entries(&[row], &[((0, 0), vec![1; 32])]).await.unwrap();
}

#[tokio::test]
async fn campaigns_items_and_decisions_round_trip() {
    with_each_backend(|store| async move {
        let mut transaction = store.begin().await.unwrap();
        let user = setup(&mut transaction).await;
        let organization_id = user.organization_id;
        let group = GroupRecord {
            id: GroupId::new(3, [3; 10]),
            organization_id,
            name: "ops".into(),
            created_at: T0,
        };
        transaction.insert_group(&group).await.unwrap();
        let first = ReviewCampaignRecord {
            reviewer_id: Some(user.id),
            ..campaign(organization_id, 1, ReviewScope::Organization)
        };
        let movers = ReviewCampaignRecord {
            origin: CampaignOrigin::Movers,
            started_by: None,
            ..campaign(organization_id, 2, ReviewScope::Group(*group.id.as_uuid()))
        };
        transaction.insert_review_campaign(&first).await.unwrap();
        transaction.insert_review_campaign(&movers).await.unwrap();
        let user_holder = PolicyHolder::User(*user.id.as_uuid());
        let group_holder = PolicyHolder::Group(*group.id.as_uuid());
        let items = vec![
            item(&first, 4, user_holder),
            item(&first, 5, group_holder),
            item(&first, 6, user_holder),
        ];
        transaction.insert_review_items(&items).await.unwrap();
        transaction.insert_review_items(&[item(&movers, 9, user_holder)]).await.unwrap();
        transaction.insert_review_items(&[]).await.unwrap();
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();

        // (On PostgreSQL a failed statement ends its transaction: this one is dropped.)
        let mut transaction = store.begin().await.unwrap();
        let again = transaction.insert_review_campaign(&first).await;
        assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
        drop(transaction);

        let mut transaction = store.begin().await.unwrap();
        assert_eq!(
            transaction.get_review_campaign(organization_id, first.id).await.unwrap(),
            Some(first.clone())
        );
        let stranger = OrganizationId::new(7, [7; 10]);
        assert_eq!(transaction.get_review_campaign(stranger, first.id).await.unwrap(), None);
        assert_eq!(transaction.review_items(first.id).await.unwrap(), items);
        assert_eq!(
            transaction.review_items(movers.id).await.unwrap(),
            vec![item(&movers, 9, user_holder)]
        );
        // An item is found only in its own campaign.
        assert_eq!(transaction.get_review_item(movers.id, items[0].id).await.unwrap(), None);
        assert_eq!(
            transaction.get_review_item(first.id, items[0].id).await.unwrap(),
            Some(items[0].clone())
        );

        // Decisions: each item once; the counts follow.
        let keep = ItemDecisionRecord {
            decision: ReviewDecision::Keep,
            permission_sets: None,
            justification: "still on call".into(),
            decided_by: Some("reviewer".into()),
            decided_at: T0 + Duration::days(1),
        };
        assert!(transaction.decide_review_item(first.id, items[0].id, &keep).await.unwrap());
        assert!(!transaction.decide_review_item(first.id, items[0].id, &keep).await.unwrap());
        let reduce = ItemDecisionRecord {
            decision: ReviewDecision::Reduce,
            permission_sets: Some(r#"["Set5"]"#.into()),
            ..keep.clone()
        };
        assert!(!transaction.decide_review_item(movers.id, items[1].id, &reduce).await.unwrap());
        assert!(transaction.decide_review_item(first.id, items[1].id, &reduce).await.unwrap());
        let decided = transaction.get_review_item(first.id, items[1].id).await.unwrap().unwrap();
        assert_eq!(decided.decision, Some(reduce));
        assert_eq!(transaction.n_undecided_review_items(first.id).await.unwrap(), 1);
        let counts = CampaignCounts {
            n_items: 3,
            n_decided: 2,
            n_kept: 1,
            n_revoked: 0,
            n_reduced: 1,
            n_unused: 2,
        };
        assert_eq!(transaction.review_campaign_counts(first.id).await.unwrap(), counts);
        let listed = transaction.list_review_campaigns(organization_id).await.unwrap();
        assert_eq!(
            listed,
            vec![
                (
                    movers.clone(),
                    CampaignCounts { n_items: 1, n_unused: 0, ..CampaignCounts::default() }
                ),
                (first.clone(), counts),
            ]
        );
        assert!(transaction.list_review_campaigns(stranger).await.unwrap().is_empty());

        // The open movers campaign, until it closes (once).
        assert_eq!(
            transaction.open_movers_campaign(organization_id).await.unwrap(),
            Some(movers.clone())
        );
        let closed_at = T0 + Duration::days(2);
        assert!(
            transaction
                .close_review_campaign(organization_id, movers.id, closed_at, Some("reviewer"))
                .await
                .unwrap()
        );
        assert!(
            !transaction
                .close_review_campaign(organization_id, movers.id, closed_at, None)
                .await
                .unwrap()
        );
        assert_eq!(transaction.open_movers_campaign(organization_id).await.unwrap(), None);
        let closed = transaction.get_review_campaign(organization_id, movers.id).await.unwrap();
        assert_eq!(
            closed,
            Some(ReviewCampaignRecord {
                closed_at: Some(closed_at),
                closed_by: Some("reviewer".into()),
                ..movers
            })
        );
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn last_activity_is_the_newest_success_in_any_trail() {
    with_each_backend(|store| async move {
        let mut transaction = store.begin().await.unwrap();
        let user = setup(&mut transaction).await;
        let home = user.organization_id;
        let other = Organization {
            id: OrganizationId::new(8, [8; 10]),
            name: Name::parse("Other").unwrap(),
            kind: OrganizationKind::Customer,
            mfa_required: false,
            created_at: T0,
            updated_at: T0,
        };
        transaction.insert_organization(&other).await.unwrap();
        let actor = user.id.to_string();
        entry(&mut transaction, home, &actor, T0, "success").await;
        entry(&mut transaction, other.id, &actor, T0 + Duration::hours(2), "success").await;
        entry(&mut transaction, home, &actor, T0 + Duration::hours(1), "success").await;
        // Refusals and failures are not use.
        entry(&mut transaction, home, &actor, T0 + Duration::hours(5), "denied").await;
        entry(&mut transaction, other.id, &actor, T0 + Duration::hours(6), "failed").await;
        entry(&mut transaction, home, "someone-else", T0 + Duration::hours(9), "success").await;
        transaction.commit().await.unwrap();

        let mut read = store.read().await.unwrap();
        let idle = Uuid::from_bytes([42; 16]).to_string();
        let activity = read.last_activity(&[actor.clone(), idle.clone()]).await.unwrap();
        assert_eq!(activity.len(), 1, "{activity:?}");
        assert_eq!(activity.get(&actor), Some(&(T0 + Duration::hours(2))));
        assert!(read.last_activity(&[]).await.unwrap().is_empty());
        read.commit().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_schedule_keeps_its_runs_and_records_each_once() {
    with_each_backend(|store| async move {
        let mut transaction = store.begin().await.unwrap();
        let user = setup(&mut transaction).await;
        let organization_id = user.organization_id;
        let quarterly = ReviewScheduleRecord {
            organization_id,
            scope: ReviewScope::Privileged,
            cadence_days: 90,
            due_in_days: 14,
            last_started_at: None,
            n_runs: 0,
            created_at: T0,
            updated_at: T0,
        };
        assert_eq!(transaction.put_review_schedule(&quarterly).await.unwrap(), quarterly);
        let yearly = ReviewScheduleRecord {
            scope: ReviewScope::Organization,
            cadence_days: 365,
            ..quarterly.clone()
        };
        transaction.put_review_schedule(&yearly).await.unwrap();

        // One run per turn: a second replica that read the same turn records nothing.
        let started = T0 + Duration::hours(1);
        let scope = ReviewScope::Privileged;
        assert!(
            transaction
                .record_review_schedule_run(organization_id, scope, 0, started)
                .await
                .unwrap()
        );
        assert!(
            !transaction
                .record_review_schedule_run(organization_id, scope, 0, started)
                .await
                .unwrap()
        );

        // Changing the cadence keeps the runs and the creation time.
        let later = T0 + Duration::days(3);
        let monthly = ReviewScheduleRecord {
            cadence_days: 30,
            due_in_days: 7,
            created_at: later,
            updated_at: later,
            ..quarterly.clone()
        };
        let changed = transaction.put_review_schedule(&monthly).await.unwrap();
        let expected = ReviewScheduleRecord {
            cadence_days: 30,
            due_in_days: 7,
            last_started_at: Some(started),
            n_runs: 1,
            created_at: T0,
            updated_at: later,
            ..quarterly.clone()
        };
        assert_eq!(changed, expected);
        assert_eq!(
            transaction.list_review_schedules(organization_id).await.unwrap(),
            vec![yearly.clone(), expected.clone()]
        );
        assert_eq!(transaction.all_review_schedules().await.unwrap(), vec![yearly, expected]);

        transaction.delete_review_schedule(organization_id, scope).await.unwrap();
        let missing = transaction.delete_review_schedule(organization_id, scope).await;
        assert!(matches!(missing, Err(StoreError::NotFound(_))), "{missing:?}");
        assert_eq!(transaction.list_review_schedules(organization_id).await.unwrap().len(), 1);
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();
    })
    .await;
}
