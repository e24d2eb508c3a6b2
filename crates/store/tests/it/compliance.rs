//! The compliance registers and evidence results on every backend: records come back as
//! stored and per register, updates and deletes touch one record of one organisation, the
//! latest run's results are told apart from older ones, and history is newest first.

use store::{
    ComplianceRecord, ComplianceRepository, EvidenceResultRecord, FactorRepository, TotpRecord,
};
use time::Duration;
use time::macros::date;
use uuid::Uuid;

use crate::backends::with_each_backend;
use crate::identity::{T0, audited, setup};

fn record(user: &store::UserRecord, n: u8, register: &str) -> ComplianceRecord {
    ComplianceRecord {
        id: Uuid::from_bytes([n; 16]),
        organization_id: user.organization_id,
        register: register.into(),
        title: format!("record {n}"),
        owner_id: Some(user.id),
        review_due: Some(date!(2027 - 01 - 31)),
        document: format!(r#"{{"n":{n}}}"#),
        created_at: T0,
        updated_at: T0,
    }
}

fn result(user: &store::UserRecord, n: u8, check_id: &str, minutes: i64) -> EvidenceResultRecord {
    EvidenceResultRecord {
        id: Uuid::from_bytes([n; 16]),
        organization_id: user.organization_id,
        check_id: check_id.into(),
        ran_at: T0 + Duration::minutes(minutes),
        result: format!(r#"{{"check_id":"{check_id}","n":{n}}}"#),
    }
}

#[tokio::test]
async fn records_round_trip_per_register_and_organisation() {
    with_each_backend(|store| async move {
        let mut transaction = store.begin().await.unwrap();
        let user = setup(&mut transaction).await;
        let organization_id = user.organization_id;
        let policy = record(&user, 1, "policies");
        let risk =
            ComplianceRecord { owner_id: None, review_due: None, ..record(&user, 2, "risks") };
        transaction.insert_compliance_record(&policy).await.unwrap();
        transaction.insert_compliance_record(&risk).await.unwrap();
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();

        let mut read = store.read().await.unwrap();
        assert_eq!(
            read.get_compliance_record(organization_id, policy.id).await.unwrap(),
            Some(policy.clone())
        );
        assert_eq!(
            read.list_compliance_records(organization_id, Some("risks")).await.unwrap(),
            std::slice::from_ref(&risk)
        );
        assert_eq!(
            read.list_compliance_records(organization_id, None).await.unwrap(),
            [policy.clone(), risk.clone()]
        );
        let other = base::OrganizationId::new(9, [9; 10]);
        assert_eq!(read.get_compliance_record(other, policy.id).await.unwrap(), None);
        assert_eq!(read.organizations_with_registers().await.unwrap(), [organization_id]);
        read.commit().await.unwrap();

        let mut transaction = store.begin().await.unwrap();
        let changed = ComplianceRecord {
            title: "changed".into(),
            owner_id: None,
            review_due: Some(date!(2028 - 02 - 29)),
            document: "{}".into(),
            updated_at: T0 + Duration::hours(1),
            ..policy.clone()
        };
        assert!(transaction.update_compliance_record(&changed).await.unwrap());
        let elsewhere = ComplianceRecord { organization_id: other, ..changed.clone() };
        assert!(!transaction.update_compliance_record(&elsewhere).await.unwrap());
        assert!(!transaction.delete_compliance_record(other, risk.id).await.unwrap());
        assert!(transaction.delete_compliance_record(organization_id, risk.id).await.unwrap());
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();

        let mut read = store.read().await.unwrap();
        assert_eq!(read.list_compliance_records(organization_id, None).await.unwrap(), [changed]);
        read.commit().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn latest_results_are_the_newest_run_and_history_is_newest_first() {
    with_each_backend(|store| async move {
        let mut transaction = store.begin().await.unwrap();
        let user = setup(&mut transaction).await;
        let organization_id = user.organization_id;
        let runs = [
            result(&user, 1, "asset.owner", 0),
            result(&user, 2, "iam.privileged_mfa", 0),
            result(&user, 3, "asset.owner", 10),
            result(&user, 4, "iam.privileged_mfa", 10),
        ];
        for run in &runs {
            transaction.insert_evidence_result(run).await.unwrap();
        }
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();

        let mut read = store.read().await.unwrap();
        assert_eq!(
            read.latest_evidence_results(organization_id).await.unwrap(),
            [runs[2].clone(), runs[3].clone()]
        );
        assert_eq!(
            read.evidence_history(organization_id, "asset.owner", 10).await.unwrap(),
            [runs[2].clone(), runs[0].clone()]
        );
        assert_eq!(
            read.evidence_history(organization_id, "asset.owner", 1).await.unwrap(),
            [runs[2].clone()]
        );
        assert_eq!(
            read.evidence_history(organization_id, "audit.log_checkpoint", 10).await.unwrap(),
            []
        );
        let other = base::OrganizationId::new(9, [9; 10]);
        assert_eq!(read.latest_evidence_results(other).await.unwrap(), []);
        read.commit().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn only_confirmed_second_factors_count() {
    with_each_backend(|store| async move {
        let mut transaction = store.begin().await.unwrap();
        let user = setup(&mut transaction).await;
        let organization_id = user.organization_id;
        let pending = TotpRecord {
            user_id: user.id,
            sealed_seed: vec![1; 48],
            created_at: T0,
            confirmed_at: None,
            last_step: None,
        };
        transaction.put_pending_totp(&pending).await.unwrap();
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();
        let mut read = store.read().await.unwrap();
        assert_eq!(read.users_with_confirmed_mfa(organization_id).await.unwrap(), []);
        read.commit().await.unwrap();

        let mut transaction = store.begin().await.unwrap();
        transaction.confirm_totp(user.id, T0, 1).await.unwrap();
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();
        let mut read = store.read().await.unwrap();
        assert_eq!(read.users_with_confirmed_mfa(organization_id).await.unwrap(), [user.id]);
        read.commit().await.unwrap();
    })
    .await;
}
