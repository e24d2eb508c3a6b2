//! The asset inventory on every backend: assets, disposal records and device posture come back
//! as stored, external ids are unique per organisation, warnings are marked once per threshold
//! and posture reports are counted.

use base::OrganizationId;
use store::{
    AssetRecord, AssetRepository, Criticality, DisposalMethod, DisposalRecord, Lifecycle,
    StoreError,
};
use time::Duration;
use time::macros::date;
use uuid::Uuid;

use crate::backends::with_each_backend;
use crate::identity::{T0, audited, setup};

fn asset(organization_id: OrganizationId, owner: base::UserId, n: u8) -> AssetRecord {
    AssetRecord {
        id: Uuid::from_bytes([n; 16]),
        organization_id,
        external_id: Some(format!("EXT-{n}")),
        kind: "server".into(),
        name: format!("host-{n}"),
        description: "runs things".into(),
        owner_id: owner,
        custodian_id: None,
        classification: "internal".into(),
        criticality: Criticality::High,
        location: "Paris".into(),
        lifecycle: Lifecycle::InService,
        end_of_support: Some(date!(2026 - 07 - 01)),
        tags: r#"["prod"]"#.into(),
        relations: "[]".into(),
        end_of_support_warned_days: None,
        created_at: T0 + Duration::seconds(i64::from(n)),
        updated_at: T0,
    }
}

#[tokio::test]
async fn assets_disposals_and_posture_round_trip() {
    with_each_backend(|store| async move {
        let mut transaction = store.begin().await.unwrap();
        let user = setup(&mut transaction).await;
        let organization_id = user.organization_id;
        let first = asset(organization_id, user.id, 1);
        let second = AssetRecord { external_id: None, ..asset(organization_id, user.id, 2) };
        transaction.insert_asset(&first).await.unwrap();
        transaction.insert_asset(&second).await.unwrap();
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();

        let mut transaction = store.begin().await.unwrap();
        let clash = AssetRecord { id: Uuid::from_bytes([3; 16]), ..first.clone() };
        let again = transaction.insert_asset(&clash).await;
        assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
        drop(transaction);

        let mut transaction = store.begin().await.unwrap();
        assert_eq!(
            transaction.list_assets(organization_id).await.unwrap(),
            vec![first.clone(), second.clone()]
        );
        let stranger = OrganizationId::new(9, [9; 10]);
        assert_eq!(transaction.get_asset(stranger, first.id).await.unwrap(), None);
        assert!(transaction.list_assets(stranger).await.unwrap().is_empty());

        // Warnings: 90 then 30, never back up to 90.
        assert!(transaction.mark_end_of_support_warned(first.id, 90).await.unwrap());
        assert!(!transaction.mark_end_of_support_warned(first.id, 90).await.unwrap());
        assert!(transaction.mark_end_of_support_warned(first.id, 30).await.unwrap());
        assert!(!transaction.mark_end_of_support_warned(first.id, 90).await.unwrap());

        let retired = AssetRecord {
            lifecycle: Lifecycle::Retired,
            end_of_support_warned_days: Some(30),
            updated_at: T0 + Duration::days(1),
            ..first.clone()
        };
        assert!(transaction.update_asset(&retired).await.unwrap());
        let with_end: Vec<Uuid> = transaction
            .assets_with_end_of_support()
            .await
            .unwrap()
            .into_iter()
            .map(|asset| asset.id)
            .collect();
        assert_eq!(with_end, [second.id], "retired assets are not warned about");

        let disposal = DisposalRecord {
            asset_id: first.id,
            organization_id,
            method: DisposalMethod::Destroy,
            performed_on: date!(2026 - 05 - 02),
            performer: "Shredders".into(),
            witness: "Grace".into(),
            certificate_ref: "CERT-1".into(),
            notes: String::new(),
            recorded_by: Some("user:x".into()),
            recorded_at: T0,
        };
        transaction.insert_disposal(&disposal).await.unwrap();
        assert_eq!(transaction.list_disposals(organization_id).await.unwrap(), vec![disposal]);

        assert_eq!(
            transaction.put_device_posture(second.id, organization_id, T0, "{}").await.unwrap(),
            1
        );
        let later = T0 + Duration::hours(1);
        assert_eq!(
            transaction
                .put_device_posture(second.id, organization_id, later, r#"{"mdm_enrolled":true}"#)
                .await
                .unwrap(),
            2
        );
        let posture = transaction.list_device_posture(organization_id).await.unwrap();
        assert_eq!(posture.len(), 1);
        assert_eq!((posture[0].reported_at, posture[0].n_reports), (later, 2));
        assert_eq!(posture[0].facts, r#"{"mdm_enrolled":true}"#);

        assert_eq!(transaction.get_posture_policy(organization_id).await.unwrap(), None);
        transaction.put_posture_policy(organization_id, r#"{"a":1}"#, T0).await.unwrap();
        transaction.put_posture_policy(organization_id, r#"{"a":2}"#, later).await.unwrap();
        assert_eq!(
            transaction.get_posture_policy(organization_id).await.unwrap().as_deref(),
            Some(r#"{"a":2}"#)
        );
        assert!(transaction.delete_asset(organization_id, second.id).await.unwrap());
        assert!(!transaction.delete_asset(organization_id, second.id).await.unwrap());
        assert!(transaction.list_device_posture(organization_id).await.unwrap().is_empty());
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();
    })
    .await;
}
