//! Vulnerability management on every backend: advisory sources come back with their content
//! and are unique by hash, an asset's components are replaced whole, findings round-trip
//! (timestamps, optional fields, scores) and are unique per asset × advisory × component,
//! expired risk acceptances are found by time, and deadlines are stored per organisation.

use store::{
    AdvisorySourceRecord, AssetRecord, AssetRepository, ComponentRecord, Criticality,
    FindingRecord, Lifecycle, SlaRecord, StoreError, VulnerabilityRepository,
};
use time::Duration;
use uuid::Uuid;

use crate::backends::with_each_backend;
use crate::identity::{T0, audited, setup};

fn component(asset: &AssetRecord, n: u8, problem: Option<&str>) -> ComponentRecord {
    ComponentRecord {
        id: Uuid::from_bytes([n; 16]),
        organization_id: asset.organization_id,
        asset_id: asset.id,
        ecosystem: "crates.io".into(),
        name: format!("crate-{n}"),
        version: "1.0.0".into(),
        purl: Some(format!("pkg:cargo/crate-{n}@1.0.0")),
        source_kind: if n.is_multiple_of(2) { "registry".into() } else { "git".into() },
        source_location: (n % 2 == 1).then(|| "https://example.test/repo".to_owned()),
        location: format!("package[{n}]"),
        problem: problem.map(str::to_owned),
        position: u64::from(n),
    }
}

fn finding(asset: &AssetRecord, n: u8) -> FindingRecord {
    FindingRecord {
        id: Uuid::from_bytes([100 + n; 16]),
        organization_id: asset.organization_id,
        asset_id: asset.id,
        advisory_id: format!("RUSTSEC-2021-000{n}"),
        component: format!("crates.io/crate-{n}@1.0.0"),
        purl: Some(format!("pkg:cargo/crate-{n}@1.0.0")),
        aliases: r#"["CVE-2021-1"]"#.into(),
        summary: "overflow".into(),
        severity: "critical".into(),
        cvss_score: Some(9.8),
        cvss_vector: Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".into()),
        fixed_versions: r#"["1.6.1"]"#.into(),
        state: "open".into(),
        justification: None,
        note: String::new(),
        risk_expires_at: None,
        approved_by: None,
        first_seen_at: T0 + Duration::seconds(i64::from(n)),
        last_seen_at: T0,
        resolved_at: None,
        due_at: T0 + Duration::days(7),
        updated_at: T0,
    }
}

#[tokio::test]
async fn advisories_components_findings_and_deadlines_round_trip() {
    with_each_backend(|store| async move {
        let mut transaction = store.begin().await.unwrap();
        let user = setup(&mut transaction).await;
        let organization_id = user.organization_id;
        let asset = AssetRecord {
            id: Uuid::from_bytes([9; 16]),
            organization_id,
            external_id: None,
            kind: "server".into(),
            name: "api-1".into(),
            description: String::new(),
            owner_id: user.id,
            custodian_id: None,
            classification: "internal".into(),
            criticality: Criticality::High,
            location: String::new(),
            lifecycle: Lifecycle::InService,
            end_of_support: None,
            tags: "[]".into(),
            relations: "[]".into(),
            end_of_support_warned_days: None,
            created_at: T0,
            updated_at: T0,
        };
        transaction.insert_asset(&asset).await.unwrap();
        let source = AdvisorySourceRecord {
            id: Uuid::from_bytes([7; 16]),
            name: "osv.json".into(),
            sha256: "ab".repeat(32),
            imported_at: T0,
            imported_by: Some("user:x".into()),
            loaded: 3,
            withdrawn: 1,
            duplicates: 0,
            n_errors: 2,
        };
        let content = vec![0_u8, 159, 146, 150, 255];
        transaction.insert_advisory_source(&source, &content).await.unwrap();
        let components: Vec<_> = (0..3).map(|n| component(&asset, n, None)).collect();
        assert_eq!(transaction.replace_components(asset.id, &components).await.unwrap(), 0);
        let findings = vec![finding(&asset, 1), finding(&asset, 2)];
        transaction.insert_findings(&findings).await.unwrap();
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();

        let mut read = store.read().await.unwrap();
        assert_eq!(read.list_advisory_sources().await.unwrap(), vec![source.clone()]);
        assert_eq!(
            read.advisory_source_contents().await.unwrap(),
            vec![("osv.json".to_owned(), content.clone())],
            "binary content comes back byte for byte"
        );
        assert_eq!(
            read.find_advisory_source_by_sha256(&source.sha256).await.unwrap(),
            Some(source.clone())
        );
        assert_eq!(read.find_advisory_source_by_sha256("00").await.unwrap(), None);
        assert_eq!(read.list_components(asset.id).await.unwrap(), components);
        assert_eq!(read.all_components().await.unwrap(), components);
        assert_eq!(read.list_findings(organization_id).await.unwrap(), findings);
        assert_eq!(read.list_asset_findings(asset.id).await.unwrap(), findings);
        assert_eq!(
            read.get_finding(organization_id, findings[0].id).await.unwrap(),
            Some(findings[0].clone())
        );
        assert_eq!(read.get_sla(organization_id).await.unwrap(), None);
        read.commit().await.unwrap();

        // The same file twice, and the same finding twice, are conflicts.
        let mut transaction = store.begin().await.unwrap();
        let again = AdvisorySourceRecord { id: Uuid::from_bytes([8; 16]), ..source.clone() };
        let refused = transaction.insert_advisory_source(&again, &content).await;
        assert!(matches!(refused, Err(StoreError::Conflict(_))), "{refused:?}");
        drop(transaction);
        let mut transaction = store.begin().await.unwrap();
        let twin = FindingRecord { id: Uuid::from_bytes([200; 16]), ..findings[0].clone() };
        let refused = transaction.insert_findings(&[twin]).await;
        assert!(matches!(refused, Err(StoreError::Conflict(_))), "{refused:?}");
        drop(transaction);

        // Components are replaced whole; findings update; risk acceptances expire by time.
        let mut transaction = store.begin().await.unwrap();
        let replacement = vec![component(&asset, 5, Some("unknown ecosystem \"x\""))];
        assert_eq!(transaction.replace_components(asset.id, &replacement).await.unwrap(), 3);
        let accepted = FindingRecord {
            state: "risk_accepted".into(),
            risk_expires_at: Some(T0 + Duration::days(10)),
            approved_by: Some("user:y".into()),
            note: "compensating control".into(),
            updated_at: T0 + Duration::hours(1),
            ..findings[0].clone()
        };
        assert!(transaction.update_finding(&accepted).await.unwrap());
        let fixed = FindingRecord {
            state: "fixed".into(),
            resolved_at: Some(T0 + Duration::hours(2)),
            cvss_score: None,
            cvss_vector: None,
            ..findings[1].clone()
        };
        assert!(transaction.update_finding(&fixed).await.unwrap());
        let elsewhere = FindingRecord {
            organization_id: base::OrganizationId::new(5, [5; 10]),
            ..fixed.clone()
        };
        assert!(
            !transaction.update_finding(&elsewhere).await.unwrap(),
            "scoped to its organisation"
        );
        let sla = SlaRecord { critical_days: 3, high_days: 14, medium_days: 60, low_days: 120 };
        transaction.put_sla(organization_id, &sla, T0).await.unwrap();
        let stricter = SlaRecord { critical_days: 2, ..sla };
        transaction.put_sla(organization_id, &stricter, T0).await.unwrap();
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();

        let mut read = store.read().await.unwrap();
        assert_eq!(read.list_components(asset.id).await.unwrap(), replacement);
        assert_eq!(
            read.list_findings(organization_id).await.unwrap(),
            vec![accepted.clone(), fixed]
        );
        assert!(read.expired_risk_acceptances(T0 + Duration::days(9)).await.unwrap().is_empty());
        assert_eq!(
            read.expired_risk_acceptances(T0 + Duration::days(10)).await.unwrap(),
            vec![accepted]
        );
        assert_eq!(read.get_sla(organization_id).await.unwrap(), Some(stricter));
        read.commit().await.unwrap();

        // Deleting the asset takes its components and findings with it.
        let mut transaction = store.begin().await.unwrap();
        assert!(transaction.delete_asset(organization_id, asset.id).await.unwrap());
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();
        let mut read = store.read().await.unwrap();
        assert!(read.all_components().await.unwrap().is_empty());
        assert!(read.all_findings().await.unwrap().is_empty());
        read.commit().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn components_insert_in_batches() {
    with_each_backend(|store| async move {
        let mut transaction = store.begin().await.unwrap();
        let user = setup(&mut transaction).await;
        let asset = AssetRecord {
            id: Uuid::from_bytes([9; 16]),
            organization_id: user.organization_id,
            external_id: None,
            kind: "server".into(),
            name: "big".into(),
            description: String::new(),
            owner_id: user.id,
            custodian_id: None,
            classification: "internal".into(),
            criticality: Criticality::Low,
            location: String::new(),
            lifecycle: Lifecycle::InService,
            end_of_support: None,
            tags: "[]".into(),
            relations: "[]".into(),
            end_of_support_warned_days: None,
            created_at: T0,
            updated_at: T0,
        };
        transaction.insert_asset(&asset).await.unwrap();
        let many: Vec<ComponentRecord> = (0..1_234_u32)
            .map(|n| ComponentRecord {
                id: Uuid::from_u128(u128::from(n) + 1),
                name: format!("crate-{n}"),
                position: u64::from(n),
                ..component(&asset, 0, None)
            })
            .collect();
        transaction.replace_components(asset.id, &many).await.unwrap();
        audited(&mut transaction, user.organization_id).await;
        transaction.commit().await.unwrap();
        let mut read = store.read().await.unwrap();
        assert_eq!(read.list_components(asset.id).await.unwrap(), many);
        read.commit().await.unwrap();
    })
    .await;
}
