//! Policy acknowledgements, risk matrices and manual evidence on every backend: one
//! acknowledgement per user and version, a matrix replaced in place, evidence files whose
//! content comes back byte for byte and never in lists, changes scoped to one organisation.

use store::{
    ComplianceEvidenceRepository, ComplianceRecord, ComplianceRepository, ManualEvidenceRecord,
    PolicyAcknowledgementRecord,
};
use time::Duration;
use time::macros::date;
use uuid::Uuid;

use crate::backends::with_each_backend;
use crate::identity::{T0, audited, setup};

fn evidence(user: &store::UserRecord, n: u8, file: bool) -> ManualEvidenceRecord {
    ManualEvidenceRecord {
        id: Uuid::from_bytes([n; 16]),
        organization_id: user.organization_id,
        title: format!("evidence {n}"),
        measure_id: "physical.premises".into(),
        control_id: Some("7.5".into()),
        check_id: None,
        kind: if file { "file" } else { "link" }.into(),
        url: (!file).then(|| "https://example.org/report".into()),
        file_name: file.then(|| "report.pdf".into()),
        media_type: file.then(|| "application/pdf".into()),
        sha256: file.then(|| "ab".repeat(32)),
        size: file.then_some(5),
        observed_on: date!(2026 - 02 - 01),
        expires_on: Some(date!(2027 - 02 - 01)),
        added_by: Some(user.id.to_string()),
        created_at: T0,
        updated_at: T0,
    }
}

#[tokio::test]
async fn acknowledgements_are_kept_per_user_and_version() {
    with_each_backend(|store| async move {
        let mut transaction = store.begin().await.unwrap();
        let user = setup(&mut transaction).await;
        let organization_id = user.organization_id;
        let policy = ComplianceRecord {
            id: Uuid::from_bytes([1; 16]),
            organization_id,
            register: "policies".into(),
            title: "Security policy".into(),
            owner_id: None,
            review_due: None,
            document: r#"{"version":"1"}"#.into(),
            created_at: T0,
            updated_at: T0,
        };
        transaction.insert_compliance_record(&policy).await.unwrap();
        let ack = |version: &str, minutes: i64| PolicyAcknowledgementRecord {
            organization_id,
            policy_id: policy.id,
            user_id: user.id,
            version: version.into(),
            acknowledged_at: T0 + Duration::minutes(minutes),
        };
        assert!(transaction.insert_policy_acknowledgement(&ack("1", 1)).await.unwrap());
        assert!(!transaction.insert_policy_acknowledgement(&ack("1", 2)).await.unwrap(), "again");
        assert!(transaction.insert_policy_acknowledgement(&ack("2", 3)).await.unwrap());
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();

        let mut read = store.read().await.unwrap();
        assert_eq!(
            read.list_policy_acknowledgements(organization_id).await.unwrap(),
            [ack("1", 1), ack("2", 3)]
        );
        let other = base::OrganizationId::new(9, [9; 10]);
        assert_eq!(read.list_policy_acknowledgements(other).await.unwrap(), []);
        read.commit().await.unwrap();

        // Deleting the policy deletes its acknowledgements.
        let mut transaction = store.begin().await.unwrap();
        assert!(transaction.delete_compliance_record(organization_id, policy.id).await.unwrap());
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();
        let mut read = store.read().await.unwrap();
        assert_eq!(read.list_policy_acknowledgements(organization_id).await.unwrap(), []);
        read.commit().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_risk_matrix_is_replaced_in_place() {
    with_each_backend(|store| async move {
        let mut transaction = store.begin().await.unwrap();
        let user = setup(&mut transaction).await;
        let organization_id = user.organization_id;
        assert_eq!(transaction.get_risk_matrix(organization_id).await.unwrap(), None);
        transaction.put_risk_matrix(organization_id, r#"{"n":1}"#, T0).await.unwrap();
        transaction
            .put_risk_matrix(organization_id, r#"{"n":2}"#, T0 + Duration::hours(1))
            .await
            .unwrap();
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();
        let mut read = store.read().await.unwrap();
        assert_eq!(
            read.get_risk_matrix(organization_id).await.unwrap().as_deref(),
            Some(r#"{"n":2}"#)
        );
        read.commit().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn manual_evidence_round_trips_with_its_content_apart() {
    with_each_backend(|store| async move {
        let mut transaction = store.begin().await.unwrap();
        let user = setup(&mut transaction).await;
        let organization_id = user.organization_id;
        let file = evidence(&user, 1, true);
        let link = evidence(&user, 2, false);
        transaction.insert_manual_evidence(&file, Some(b"%PDF-")).await.unwrap();
        transaction.insert_manual_evidence(&link, None).await.unwrap();
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();

        let mut read = store.read().await.unwrap();
        assert_eq!(
            read.list_manual_evidence(organization_id).await.unwrap(),
            [file.clone(), link.clone()]
        );
        assert_eq!(
            read.get_manual_evidence(organization_id, file.id).await.unwrap(),
            Some(file.clone())
        );
        assert_eq!(
            read.manual_evidence_content(organization_id, file.id).await.unwrap().as_deref(),
            Some(&b"%PDF-"[..])
        );
        assert_eq!(read.manual_evidence_content(organization_id, link.id).await.unwrap(), None);
        let other = base::OrganizationId::new(9, [9; 10]);
        assert_eq!(read.get_manual_evidence(other, file.id).await.unwrap(), None);
        assert_eq!(read.manual_evidence_content(other, file.id).await.unwrap(), None);
        read.commit().await.unwrap();

        let mut transaction = store.begin().await.unwrap();
        let changed = ManualEvidenceRecord {
            title: "renamed".into(),
            expires_on: None,
            check_id: Some("physical.access_review".into()),
            updated_at: T0 + Duration::hours(1),
            ..link.clone()
        };
        assert!(transaction.update_manual_evidence(&changed).await.unwrap());
        assert!(!transaction.delete_manual_evidence(other, file.id).await.unwrap());
        assert!(transaction.delete_manual_evidence(organization_id, file.id).await.unwrap());
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();
        let mut read = store.read().await.unwrap();
        assert_eq!(read.list_manual_evidence(organization_id).await.unwrap(), [changed]);
        read.commit().await.unwrap();
    })
    .await;
}
