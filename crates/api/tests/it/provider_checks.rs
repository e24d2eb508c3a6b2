//! The provider's own evidence checks: personal-data breaches notified within 72 hours, and a
//! published security.txt that has not expired. They fail for the right item when the fact
//! changes, and customers' organisations do not run them.

use std::sync::Arc;

use api::{ApiLimits, ApiState, Metrics};
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use time::macros::datetime;

use crate::compliance::{assert_fails_for, assert_passes, result};
use crate::harness::{Harness, create_customer, customer_key};

async fn run(harness: &Harness, organization_id: &str, secret: &str) -> Vec<Value> {
    let path = format!("/v1/organizations/{organization_id}/evidence/run");
    let answer = crate::harness::call(harness, Method::POST, &path, secret, None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body.as_array().unwrap().clone()
}

fn with_security_txt(harness: &mut Harness, expires: time::OffsetDateTime) {
    let record =
        detect::intake::security_txt::SecurityTxt::new("mailto:security@provider.example", expires);
    harness.app = harness.app.clone().with_security_txt(record);
    let state = ApiState { app: harness.app.clone(), metrics: Arc::new(Metrics::new()) };
    harness.router = api::router(state, &ApiLimits::default());
}

#[tokio::test]
async fn a_breach_not_notified_within_72_hours_fails_until_it_is() {
    let mut harness = Harness::new().await;
    with_security_txt(&mut harness, datetime!(2026-12-01 00:00:00 UTC));
    let provider = harness.provider_id.clone();
    let secret = harness.owner_secret.clone();

    let opened = harness
        .owner(
            Method::POST,
            "/v1/incidents",
            Some(json!({"title": "Customer data exposed", "severity": "SEV2"})),
        )
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.body);
    let id = opened.body["id"].as_str().unwrap().to_owned();
    let breach = harness
        .owner(
            Method::POST,
            &format!("/v1/incidents/{id}/breach"),
            Some(json!({"aware_at": "2026-03-01T08:00:00Z"})),
        )
        .await;
    assert_eq!(breach.status, StatusCode::OK, "{}", breach.body);

    // Inside the 72 hours: pending, not failing.
    let results = run(&harness, &provider, &secret).await;
    assert_passes(&results, "incidents.breach_notification");
    assert_passes(&results, "incidents.security_txt");

    harness.clock.set(datetime!(2026-03-04 09:00:00 UTC));
    let results = run(&harness, &provider, &secret).await;
    assert_fails_for(&results, "incidents.breach_notification", &id);

    let notification = json!({
        "authority": "CNIL",
        "submitted_at": "2026-03-04T09:00:00Z",
        "nature": "unauthorised access to customer accounts",
        "data_subject_categories": ["customers"],
        "approx_data_subjects": 12,
        "record_categories": ["email addresses"],
        "approx_records": 12,
        "contact": "dpo@provider.example",
        "likely_consequences": "phishing",
        "measures": "passwords reset",
        "delay_reason": "the scope took forensics to establish",
    });
    let notified = harness
        .owner(Method::PUT, &format!("/v1/incidents/{id}/article-33"), Some(notification))
        .await;
    assert_eq!(notified.status, StatusCode::OK, "{}", notified.body);
    // Notified, but after the deadline: the record stays a failure, as the audit would see it.
    let results = run(&harness, &provider, &secret).await;
    assert_fails_for(&results, "incidents.breach_notification", &id);
    let failing = &result(&results, "incidents.breach_notification")["failing"][0]["reason"];
    assert!(failing.as_str().unwrap().contains("notified 73 hours after awareness"), "{failing}");
}

#[tokio::test]
async fn security_txt_missing_or_expired_fails_and_customers_do_not_run_provider_checks() {
    let mut harness = Harness::new().await;
    let provider = harness.provider_id.clone();
    let secret = harness.owner_secret.clone();
    let results = run(&harness, &provider, &secret).await;
    assert_fails_for(&results, "incidents.security_txt", "security.txt");
    assert_passes(&results, "incidents.breach_notification");

    with_security_txt(&mut harness, datetime!(2026-06-01 00:00:00 UTC));
    assert_passes(&run(&harness, &provider, &secret).await, "incidents.security_txt");
    harness.clock.set(datetime!(2026-06-02 00:00:00 UTC));
    let results = run(&harness, &provider, &secret).await;
    assert_fails_for(&results, "incidents.security_txt", "security.txt");

    let customer = create_customer(&harness, "Acme").await;
    let key = customer_key(&harness, &customer).await;
    let results = run(&harness, &customer, &key).await;
    for check in ["incidents.security_txt", "incidents.breach_notification"] {
        assert!(results.iter().all(|result| result["check_id"] != check), "{check} ran");
    }
}
