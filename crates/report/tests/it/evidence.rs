//! Evidence checks: the catalogue, each evaluation passing and then failing for exactly the
//! item whose fact changed, manual evidence and measure status.

use proptest::prelude::*;
use report::annex;
use report::evidence::*;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-06-15 12:00 UTC);

fn assert_passes(result: &CheckResult, check_id: &str) {
    assert_eq!(result.check_id, check_id);
    assert!(result.passed, "{check_id} should pass: {:?}", result.failing);
    assert!(result.failing.is_empty());
    assert_eq!(result.ran_at, NOW);
    result.validate().unwrap();
}

fn assert_fails_only(result: &CheckResult, item_id: &str, reason_part: &str) {
    assert!(!result.passed, "{} should fail", result.check_id);
    let ids: Vec<&str> = result.failing.iter().map(|item| item.id.as_str()).collect();
    assert_eq!(ids, [item_id], "{}", result.check_id);
    assert!(
        result.failing[0].reason.contains(reason_part),
        "{}: reason {:?} lacks {reason_part:?}",
        result.check_id,
        result.failing[0].reason
    );
    result.validate().unwrap();
}

#[test]
fn the_catalogue_holds_at_least_30_sound_checks_covering_every_measure() {
    assert!(CHECKS.len() >= 30, "{} checks", CHECKS.len());
    assert_eq!(catalogue_problems(), Vec::<String>::new());
    for (_, measure) in annex::measures() {
        assert!(
            checks_for_measure(measure.id).next().is_some(),
            "no check evidences {}",
            measure.id
        );
    }
}

fn account(id: &str) -> AccountFact {
    AccountFact {
        id: id.to_owned(),
        label: format!("account {id}"),
        active: true,
        privileged: true,
        mfa_enrolled: true,
        shared: false,
        shared_exception_approved: false,
        last_used_at: Some(NOW - Duration::days(3)),
    }
}

#[test]
fn privileged_mfa() {
    let mut accounts = vec![
        account("a"),
        account("b"),
        AccountFact { privileged: false, mfa_enrolled: false, ..account("c") },
    ];
    let result = check_privileged_mfa(&accounts, NOW);
    assert_passes(&result, ids::PRIVILEGED_MFA);
    assert_eq!(result.population, 2);
    accounts[1].mfa_enrolled = false;
    assert_fails_only(&check_privileged_mfa(&accounts, NOW), "b", "without MFA");
    accounts[1].active = false;
    assert_passes(&check_privileged_mfa(&accounts, NOW), ids::PRIVILEGED_MFA);
}

#[test]
fn no_shared_accounts() {
    let mut accounts = vec![
        account("a"),
        AccountFact { shared: true, shared_exception_approved: true, ..account("b") },
        account("c"),
    ];
    assert_passes(&check_no_shared_accounts(&accounts, NOW), ids::NO_SHARED_ACCOUNTS);
    accounts[2].shared = true;
    assert_fails_only(&check_no_shared_accounts(&accounts, NOW), "c", "shared");
}

#[test]
fn dormant_privileged_accounts() {
    let mut accounts = vec![account("a"), account("b")];
    accounts[1].last_used_at = Some(NOW - Duration::days(90));
    assert_passes(&check_dormant_privileged_accounts(&accounts, NOW), ids::DORMANT_PRIVILEGED);
    accounts[1].last_used_at = Some(NOW - Duration::days(91));
    assert_fails_only(&check_dormant_privileged_accounts(&accounts, NOW), "b", "91 days ago");
}

#[test]
fn leaver_revocation_within_24_hours() {
    let leaver = |id: &str, left_hours_ago: i64, revoked_after: Option<i64>| LeaverFact {
        person_id: id.to_owned(),
        label: id.to_owned(),
        left_at: NOW - Duration::hours(left_hours_ago),
        access_revoked_at: revoked_after
            .map(|hours| NOW - Duration::hours(left_hours_ago) + Duration::hours(hours)),
    };
    let mut leavers = vec![leaver("done", 100, Some(24)), leaver("pending", 10, None)];
    let result = check_leaver_revocation(&leavers, NOW);
    assert_passes(&result, ids::LEAVER_REVOCATION);
    assert_eq!(result.figures[0].value, "1");
    leavers[0] = leaver("done", 100, Some(25));
    assert_fails_only(&check_leaver_revocation(&leavers, NOW), "done", "25 hours");
    leavers[0] = leaver("done", 100, Some(2));
    leavers[1] = leaver("pending", 25, None);
    assert_fails_only(&check_leaver_revocation(&leavers, NOW), "pending", "still active 25 hours");
}

#[test]
fn access_reviews_on_cadence() {
    let review = |id: &str, completed_days_ago: Option<i64>| AccessReviewFact {
        campaign_id: id.to_owned(),
        label: id.to_owned(),
        cadence_days: 90,
        scheduled_since: NOW - Duration::days(400),
        last_completed_at: completed_days_ago.map(|days| NOW - Duration::days(days)),
    };
    let mut reviews = vec![review("q1", Some(10)), review("q2", Some(90))];
    assert_passes(&check_access_reviews(&reviews, NOW), ids::ACCESS_REVIEWS);
    reviews[1] = review("q2", Some(91));
    assert_fails_only(&check_access_reviews(&reviews, NOW), "q2", "due every 90 days");
    reviews[1] = review("q2", None);
    assert_fails_only(&check_access_reviews(&reviews, NOW), "q2", "never completed");
}

fn dated(id: &str, days_ago: Option<i64>) -> DatedRecordFact {
    DatedRecordFact {
        id: id.to_owned(),
        label: id.to_owned(),
        last_at: days_ago.map(|days| NOW - Duration::days(days)),
    }
}

#[test]
fn every_record_recent_checks_fail_one_day_past_their_limit() {
    type Evaluate = fn(&[DatedRecordFact], OffsetDateTime) -> CheckResult;
    let cases: [(Evaluate, &str, i64); 5] = [
        (check_policy_reviews, ids::POLICY_REVIEW, 365),
        (check_staff_training, ids::STAFF_TRAINING, 730),
        (check_physical_access_reviews, ids::PHYSICAL_ACCESS_REVIEW, 180),
        (check_static_analysis, ids::STATIC_ANALYSIS, 30),
        (check_vulnerability_scans, ids::VULNERABILITY_SCANS, 7),
    ];
    for (evaluate, check_id, limit_days) in cases {
        let mut records = vec![dated("x", Some(1)), dated("y", Some(limit_days))];
        assert_passes(&evaluate(&records, NOW), check_id);
        records[1] = dated("y", Some(limit_days + 1));
        assert_fails_only(&evaluate(&records, NOW), "y", &format!("({} days ago)", limit_days + 1));
        records[1] = dated("y", None);
        assert_fails_only(&evaluate(&records, NOW), "y", "no ");
    }
}

#[test]
fn backups_within_24_hours() {
    let backup = |id: &str, hours_ago: i64| DatedRecordFact {
        id: id.to_owned(),
        label: id.to_owned(),
        last_at: Some(NOW - Duration::hours(hours_ago)),
    };
    let mut systems = vec![backup("db", 2), backup("files", 24)];
    assert_passes(&check_backups_recent(&systems, NOW), ids::BACKUPS_RECENT);
    systems[1] = backup("files", 25);
    assert_fails_only(&check_backups_recent(&systems, NOW), "files", "successful backup");
}

#[test]
fn audits_held_within_12_calendar_months() {
    let mut audits = vec![
        dated("2024", Some(700)),
        DatedRecordFact { last_at: Some(datetime!(2025-06-15 12:00 UTC)), ..dated("2025", None) },
    ];
    assert_passes(&check_audits_held(&audits, NOW), ids::AUDITS_HELD);
    audits[1].last_at = Some(datetime!(2025-06-15 11:59 UTC));
    assert_fails_only(&check_audits_held(&audits, NOW), "2025", "older than 2025-06-15");
    assert_fails_only(&check_audits_held(&[], NOW), "audits", "no audit");
}

#[test]
fn restore_test_within_180_days() {
    let mut tests = vec![dated("old", Some(400)), dated("recent", Some(180))];
    assert_passes(&check_restore_test(&tests, NOW), ids::RESTORE_TEST);
    tests[1] = dated("recent", Some(181));
    assert_fails_only(&check_restore_test(&tests, NOW), "recent", "latest restore test");
    // A test dated in the future does not count as the latest.
    tests.push(DatedRecordFact { last_at: Some(NOW + Duration::days(1)), ..dated("future", None) });
    assert_fails_only(&check_restore_test(&tests, NOW), "recent", "latest restore test");
}

#[test]
fn roles_agreements_documents_and_rules() {
    let role = |id: &str, holder: Option<&str>| RoleFact {
        role_id: id.to_owned(),
        label: id.to_owned(),
        holder: holder.map(str::to_owned),
    };
    let mut roles = vec![role("ciso", Some("Ada")), role("dpo", Some("Grace"))];
    assert_passes(&check_roles_assigned(&roles, NOW), ids::ROLES_ASSIGNED);
    roles[1] = role("dpo", Some(" "));
    assert_fails_only(&check_roles_assigned(&roles, NOW), "dpo", "no one");

    let person = |id: &str, nda: bool, charter: bool| StaffAgreementFact {
        person_id: id.to_owned(),
        label: id.to_owned(),
        nda_signed: nda,
        it_charter_signed: charter,
    };
    let mut staff = vec![person("p1", true, true), person("p2", true, true)];
    assert_passes(&check_staff_agreements(&staff, NOW), ids::STAFF_AGREEMENTS);
    staff[0] = person("p1", true, false);
    assert_fails_only(&check_staff_agreements(&staff, NOW), "p1", "IT charter");

    let document = |id: &str, level: Option<&str>| DocumentFact {
        id: id.to_owned(),
        label: id.to_owned(),
        classification: level.map(str::to_owned),
    };
    let mut documents = vec![document("d1", Some("internal")), document("d2", Some("public"))];
    assert_passes(&check_document_classification(&documents, NOW), ids::DOCUMENT_CLASSIFICATION);
    documents[1] = document("d2", None);
    assert_fails_only(&check_document_classification(&documents, NOW), "d2", "no classification");

    let rule = |id: &str, error: Option<&str>| DetectionRuleFact {
        rule_id: id.to_owned(),
        label: id.to_owned(),
        enabled: true,
        load_error: error.map(str::to_owned),
    };
    let mut rules = vec![
        rule("r1", None),
        DetectionRuleFact { enabled: false, ..rule("r2", Some("disabled anyway")) },
        rule("r3", None),
    ];
    assert_passes(&check_detection_rules(&rules, NOW), ids::DETECTION_RULES);
    rules[2] = rule("r3", Some("unknown modifier"));
    assert_fails_only(&check_detection_rules(&rules, NOW), "r3", "unknown modifier");
}

#[test]
fn assets_owners_erasure_devices_and_software() {
    let asset = |id: &str| AssetFact {
        id: id.to_owned(),
        label: id.to_owned(),
        owner: Some("ops".to_owned()),
        disposed_at: None,
        erasure_record: None,
    };
    let mut assets = vec![
        asset("laptop"),
        AssetFact {
            owner: None,
            disposed_at: Some(NOW - Duration::days(5)),
            erasure_record: Some("ER-1".to_owned()),
            ..asset("old-disk")
        },
    ];
    assert_passes(&check_asset_owners(&assets, NOW), ids::ASSET_OWNER);
    assert_passes(&check_disposed_asset_erasure(&assets, NOW), ids::DISPOSAL_ERASURE);
    assets[0].owner = None;
    assert_fails_only(&check_asset_owners(&assets, NOW), "laptop", "no owner");
    assets[1].erasure_record = None;
    assert_fails_only(&check_disposed_asset_erasure(&assets, NOW), "old-disk", "no erasure record");

    let device = |id: &str| DeviceFact {
        device_id: id.to_owned(),
        label: id.to_owned(),
        managed: true,
        disk_encrypted: true,
        screen_lock: true,
        security_updates_current: true,
        malware_protection: true,
    };
    let mut devices = vec![device("d1"), device("d2")];
    assert_passes(&check_device_posture(&devices, NOW), ids::DEVICE_POSTURE);
    devices[1].disk_encrypted = false;
    assert_fails_only(&check_device_posture(&devices, NOW), "d2", "disk not encrypted");

    let software = |id: &str, end: Option<OffsetDateTime>| SoftwareFact {
        id: id.to_owned(),
        label: id.to_owned(),
        end_of_support: end,
    };
    let mut installed = vec![software("os", Some(NOW + Duration::days(1))), software("db", None)];
    assert_passes(&check_unsupported_software(&installed, NOW), ids::UNSUPPORTED_SOFTWARE);
    installed[0] = software("os", Some(NOW - Duration::days(1)));
    assert_fails_only(
        &check_unsupported_software(&installed, NOW),
        "os",
        "out of support since 2026-06-14",
    );
}

#[test]
fn retention_and_test_data() {
    let record = |id: &str, ends_in_days: i64| RetentionFact {
        id: id.to_owned(),
        label: id.to_owned(),
        retention_ends_at: NOW + Duration::days(ends_in_days),
        deleted_or_anonymised: false,
        legal_hold: false,
    };
    let mut records = vec![
        record("r1", 10),
        RetentionFact { legal_hold: true, ..record("r2", -10) },
        RetentionFact { deleted_or_anonymised: true, ..record("r3", -20) },
    ];
    assert_passes(&check_retention(&records, NOW), ids::RETENTION);
    records[1].legal_hold = false;
    assert_fails_only(&check_retention(&records, NOW), "r2", "10 days ago");

    let dataset = |id: &str| TestDatasetFact {
        id: id.to_owned(),
        label: id.to_owned(),
        derived_from_production: true,
        contains_personal_data: true,
        masked: true,
    };
    let mut datasets = vec![
        dataset("t1"),
        TestDatasetFact { derived_from_production: false, masked: false, ..dataset("synthetic") },
        dataset("t2"),
    ];
    assert_passes(&check_test_data_masked(&datasets, NOW), ids::TEST_DATA_MASKED);
    datasets[2].masked = false;
    assert_fails_only(&check_test_data_masked(&datasets, NOW), "t2", "unmasked");
}

#[test]
fn changes_intrusion_tests_and_mail() {
    let change = |id: &str, impacting: bool, published: bool| ChangeFact {
        change_id: id.to_owned(),
        label: id.to_owned(),
        customer_impacting: impacting,
        published,
    };
    let mut changes =
        vec![change("c1", true, true), change("c2", false, false), change("c3", true, true)];
    assert_passes(&check_changes_published(&changes, NOW), ids::CHANGES_PUBLISHED);
    changes[2].published = false;
    assert_fails_only(&check_changes_published(&changes, NOW), "c3", "not published");

    let test = |id: &str, shared_days_before_start: Option<i64>| IntrusionTestFact {
        test_id: id.to_owned(),
        label: id.to_owned(),
        starts_at: NOW - Duration::days(2),
        scope_shared_at: shared_days_before_start.map(|days| NOW - Duration::days(2 + days)),
    };
    let mut tests = vec![
        test("pt1", Some(5)),
        IntrusionTestFact { starts_at: NOW + Duration::days(3), ..test("future", None) },
    ];
    assert_passes(&check_intrusion_test_scope(&tests, NOW), ids::INTRUSION_TEST_SCOPE);
    tests[0] = test("pt1", Some(-1));
    assert_fails_only(&check_intrusion_test_scope(&tests, NOW), "pt1", "after the test started");

    let domain = |name: &str, dmarc: DmarcPolicy| MailDomainFact {
        domain: name.to_owned(),
        spf: true,
        dkim: true,
        dmarc,
    };
    let mut domains = vec![
        domain("example.org", DmarcPolicy::Reject),
        domain("example.net", DmarcPolicy::Quarantine),
    ];
    assert_passes(&check_mail_authentication(&domains, NOW), ids::MAIL_AUTHENTICATION);
    domains[1].dmarc = DmarcPolicy::None;
    assert_fails_only(&check_mail_authentication(&domains, NOW), "example.net", "p=none");
}

#[test]
fn dpia_vulnerabilities_and_subprocessors() {
    let processing = |id: &str, high: bool, dpia: bool| ProcessingFact {
        id: id.to_owned(),
        label: id.to_owned(),
        high_risk: high,
        dpia_completed: dpia,
    };
    let mut processings = vec![
        processing("payroll", true, true),
        processing("newsletter", false, false),
        processing("cctv", true, true),
    ];
    assert_passes(&check_dpia_for_high_risk(&processings, NOW), ids::DPIA_HIGH_RISK);
    processings[2].dpia_completed = false;
    assert_fails_only(
        &check_dpia_for_high_risk(&processings, NOW),
        "cctv",
        "without a completed DPIA",
    );

    let finding = |id: &str, found_days_ago: i64| VulnerabilityFact {
        finding_id: id.to_owned(),
        label: id.to_owned(),
        severity: "high".to_owned(),
        found_at: NOW - Duration::days(found_days_ago),
        sla_days: 30,
        resolved_at: None,
    };
    let mut findings =
        vec![finding("v1", 30), VulnerabilityFact { resolved_at: Some(NOW), ..finding("v2", 90) }];
    assert_passes(&check_vulnerability_sla(&findings, NOW), ids::VULNERABILITY_SLA);
    findings[0] = finding("v1", 32);
    assert_fails_only(&check_vulnerability_sla(&findings, NOW), "v1", "2 days overdue");

    let sub = |id: &str, reviewed: Option<OffsetDateTime>| SubProcessorFact {
        id: id.to_owned(),
        label: id.to_owned(),
        critical: true,
        last_reviewed_at: reviewed,
        adequate_country: true,
        standard_contractual_clauses: false,
    };
    let mut subs = vec![
        sub("hosting", Some(datetime!(2024-06-15 12:00 UTC))),
        SubProcessorFact { critical: false, ..sub("mailer", None) },
    ];
    assert_passes(
        &check_critical_subprocessor_reviews(&subs, NOW),
        ids::CRITICAL_SUBPROCESSOR_REVIEW,
    );
    assert_passes(&check_transfer_safeguards(&subs, NOW), ids::TRANSFER_SAFEGUARDS);
    subs[0].last_reviewed_at = Some(datetime!(2024-06-15 11:59 UTC));
    assert_fails_only(
        &check_critical_subprocessor_reviews(&subs, NOW),
        "hosting",
        "before 2024-06-15",
    );
    subs[1].adequate_country = false;
    assert_fails_only(
        &check_transfer_safeguards(&subs, NOW),
        "mailer",
        "standard contractual clauses",
    );
}

#[test]
fn audit_log_checkpoints() {
    let log = |id: &str| AuditLogFact {
        organisation_id: id.to_owned(),
        label: id.to_owned(),
        checkpoint_tree_size: 10,
        checkpoint_root_hex: "ab".repeat(32),
        checkpoint_signature_valid: true,
        verified_tree_size: 10,
        verified_root_hex: "AB".repeat(32),
    };
    let mut logs = vec![log("org1"), log("org2")];
    assert_passes(&check_audit_log_checkpoints(&logs, NOW), ids::AUDIT_LOG_CHECKPOINT);
    logs[1].verified_root_hex = "cd".repeat(32);
    assert_fails_only(
        &check_audit_log_checkpoints(&logs, NOW),
        "org2",
        "differs from checkpoint root",
    );
    logs[1] = AuditLogFact { verified_tree_size: 9, ..log("org2") };
    assert_fails_only(&check_audit_log_checkpoints(&logs, NOW), "org2", "verified 9 entries");
    logs[1] = AuditLogFact { checkpoint_signature_valid: false, ..log("org2") };
    assert_fails_only(&check_audit_log_checkpoints(&logs, NOW), "org2", "signature");
}

#[test]
fn breach_notification_within_72_hours() {
    let breach = |id: &str, aware_hours_ago: i64, notified_after: Option<i64>| BreachFact {
        breach_id: id.to_owned(),
        label: id.to_owned(),
        became_aware_at: NOW - Duration::hours(aware_hours_ago),
        notification_required: true,
        notified_at: notified_after
            .map(|hours| NOW - Duration::hours(aware_hours_ago) + Duration::hours(hours)),
    };
    let mut breaches = vec![
        breach("b1", 200, Some(72)),
        breach("b2", 71, None),
        BreachFact { notification_required: false, ..breach("b3", 500, None) },
    ];
    assert_passes(&check_breach_notification(&breaches, NOW), ids::BREACH_NOTIFICATION);
    breaches[0] = breach("b1", 200, Some(73));
    assert_fails_only(&check_breach_notification(&breaches, NOW), "b1", "73 hours");
    breaches[0] = breach("b1", 200, Some(1));
    breaches[1] = breach("b2", 73, None);
    assert_fails_only(&check_breach_notification(&breaches, NOW), "b2", "not notified 73 hours");
}

#[test]
fn security_txt_and_certificates() {
    let result = check_security_txt(Some(NOW + Duration::days(30)), NOW);
    assert_passes(&result, ids::SECURITY_TXT);
    assert_eq!(result.figures[0].value, "30");
    assert_fails_only(
        &check_security_txt(Some(NOW - Duration::days(1)), NOW),
        "security.txt",
        "expired 2026-06-14",
    );
    assert_fails_only(&check_security_txt(None, NOW), "security.txt", "no Expires");

    let certificate = |id: &str, until: OffsetDateTime| CertificateFact {
        id: id.to_owned(),
        label: id.to_owned(),
        valid_from: NOW - Duration::days(300),
        valid_until: until,
    };
    let mut certificates = vec![
        certificate("iso27001", NOW + Duration::days(60)),
        certificate("hds", NOW + Duration::days(1)),
    ];
    assert_passes(&check_certificates_valid(&certificates, NOW), ids::CERTIFICATES_VALID);
    certificates[1] = certificate("hds", NOW - Duration::days(1));
    assert_fails_only(&check_certificates_valid(&certificates, NOW), "hds", "expired");
}

#[test]
fn months_before_clamps_to_the_end_of_shorter_months() {
    assert_eq!(months_before(datetime!(2026-03-31 08:00 UTC), 1), datetime!(2026-02-28 08:00 UTC));
    assert_eq!(months_before(datetime!(2024-03-31 08:00 UTC), 1), datetime!(2024-02-29 08:00 UTC));
    assert_eq!(months_before(datetime!(2026-01-15 00:00 UTC), 24), datetime!(2024-01-15 00:00 UTC));
    assert_eq!(months_before(datetime!(2026-01-15 00:00 UTC), 13), datetime!(2024-12-15 00:00 UTC));
}

fn manual(measure: &str, observed_days_ago: i64, expires_in_days: Option<i64>) -> ManualEvidence {
    ManualEvidence {
        id: "m1".to_owned(),
        measure_id: measure.to_owned(),
        description: "fire extinguisher inspection report".to_owned(),
        location: EvidenceLocation::File {
            file_name: "inspection.pdf".to_owned(),
            sha256_hex: "0f".repeat(32),
        },
        observed_at: NOW - Duration::days(observed_days_ago),
        expires_at: expires_in_days.map(|days| NOW + Duration::days(days)),
    }
}

#[test]
fn manual_evidence_is_validated_and_expires() {
    assert!(manual("physical.premises", 10, Some(10)).validate().is_ok());
    assert!(
        manual("physical.nowhere", 10, None)
            .validate()
            .unwrap_err()
            .to_string()
            .contains("physical.nowhere")
    );
    assert!(
        manual("physical.premises", 10, Some(-11))
            .validate()
            .unwrap_err()
            .to_string()
            .contains("expires before")
    );
    let mut bad_hash = manual("physical.premises", 1, None);
    bad_hash.location =
        EvidenceLocation::File { file_name: "x".to_owned(), sha256_hex: "zz".repeat(32) };
    assert!(bad_hash.validate().is_err());
    let mut plain_link = manual("physical.premises", 1, None);
    plain_link.location = EvidenceLocation::Link { url: "http://example.org/report".to_owned() };
    assert!(plain_link.validate().is_err());
    plain_link.location = EvidenceLocation::Link { url: "https://example.org/report".to_owned() };
    assert!(plain_link.validate().is_ok());

    assert!(manual("physical.premises", 10, Some(1)).is_current_at(NOW));
    assert!(!manual("physical.premises", 10, Some(0)).is_current_at(NOW));
    assert!(!manual("physical.premises", -1, None).is_current_at(NOW));
}

#[test]
fn measure_status_follows_current_evidence_only() {
    let passing = check_privileged_mfa(&[account("a")], NOW - Duration::minutes(30));
    let failing = check_privileged_mfa(
        &[AccountFact { mfa_enrolled: false, ..account("a") }],
        NOW - Duration::minutes(30),
    );
    let measure = "systems.authentication";
    assert_eq!(measure_status(measure, [], &[], NOW), Status::NotEvidenced);
    assert_eq!(measure_status(measure, std::slice::from_ref(&passing), &[], NOW), Status::Pass);
    assert_eq!(
        measure_status(measure, &[passing.clone(), failing.clone()], &[], NOW),
        Status::Fail
    );
    // Continuous checks go stale after two hours.
    assert_eq!(
        measure_status(measure, &[passing], &[], NOW + Duration::hours(3)),
        Status::NotEvidenced
    );
    assert_eq!(
        measure_status(measure, &[failing], &[], NOW + Duration::hours(3)),
        Status::NotEvidenced
    );
    assert_eq!(
        measure_status("physical.premises", [], &[manual("physical.premises", 3, None)], NOW),
        Status::Pass
    );
    assert_eq!(
        measure_status("physical.premises", [], &[manual("physical.premises", 3, Some(-1))], NOW),
        Status::NotEvidenced
    );
}

proptest! {
    #[test]
    fn a_result_passes_exactly_when_nothing_fails(flags in prop::collection::vec((any::<bool>(), any::<bool>(), any::<bool>()), 0..40)) {
        let accounts: Vec<AccountFact> = flags.iter().enumerate().map(|(index, (active, privileged, mfa))| AccountFact {
            active: *active, privileged: *privileged, mfa_enrolled: *mfa, ..account(&index.to_string())
        }).collect();
        let result = check_privileged_mfa(&accounts, NOW);
        let expected_failing = flags.iter().filter(|(active, privileged, mfa)| *active && *privileged && !*mfa).count();
        prop_assert_eq!(result.failing.len(), expected_failing);
        prop_assert_eq!(result.passed, expected_failing == 0);
        prop_assert!(result.failing.len() <= result.population);
        prop_assert!(result.validate().is_ok());
    }

    #[test]
    fn results_round_trip_through_json(population in 0_usize..1000, items in prop::collection::vec(("[a-z0-9]{1,8}", ".{0,20}", ".{0,20}"), 0..5), seconds in 0_i64..4_000_000_000) {
        let failing = items.into_iter().map(|(id, label, reason)| FailingItem { id, label, reason }).collect();
        let result = CheckResult::from_findings(ids::ASSET_OWNER, OffsetDateTime::from_unix_timestamp(seconds).unwrap(), population, failing, vec![]);
        let json = serde_json::to_string(&result).unwrap();
        prop_assert_eq!(serde_json::from_str::<CheckResult>(&json).unwrap(), result);
    }

    #[test]
    fn arbitrary_json_results_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(result) = serde_json::from_slice::<CheckResult>(&bytes) {
            let _ = result.validate();
        }
    }
}
