//! Retention: rules that say how long each category of personal data is kept in Rampart and
//! what happens at the end, legal holds that stop them, and runs (daily, or on demand, dry or
//! not) that apply them and are kept as evidence.
//!
//! - A rule names a data category of the catalogue, a target (the data of Rampart's own it
//!   governs, [`RetentionTarget`]), a trigger (what starts the period), a duration in days
//!   and an action: `delete` and `anonymise` erase the personal values (for the targets Rampart
//!   has, both erase: nothing identifying is left), `review` only reports what is due.
//!   `pseudonymise` is refused for these targets: a pseudonym of an IP address or an email in
//!   Rampart's own records would still be personal data without a purpose.
//! - A legal hold on a target stops every rule on it until released; placing and releasing a
//!   hold are privileged, audited actions, and a run reports what a hold kept.
//! - A run goes through the organisation's rules in one transaction and records, per rule,
//!   how many items were due and how many were erased, with its time, whether it was a dry run
//!   and who ran it; a dry run erases nothing. Every run is an audit event.
//! - A new target is one variant of [`RetentionTarget`] and one sweep in the store.

use base::{Actor, OrganizationId, RequestContext, Resource};
use serde::{Deserialize, Serialize};
use store::{
    InformationProtectionRepository as _, LegalHoldRecord, RetentionRuleRecord, RetentionRunRecord,
    RetentionTarget, RetentionTrigger, Transaction,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::AuditTrail as _;
use crate::secrets::new_id;
use crate::{App, AppError, Principal};

/// The longest retention period a rule may set (100 years).
pub const MAX_RETENTION_DAYS: u32 = 36_500;
/// Rules an organisation may have.
pub const MAX_RETENTION_RULES: usize = 200;
/// Runs listed per answer.
pub const MAX_RETENTION_RUNS: u32 = 500;
const MAX_REASON_CHARS: usize = 2_000;

/// What happens to data at the end of its retention period.
pub const RETENTION_ACTIONS: [&str; 4] = ["delete", "anonymise", "pseudonymise", "review"];

fn invalid(message: impl Into<String>) -> AppError {
    AppError::InvalidInput(message.into())
}

/// A retention rule as a client sends it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionRuleInput {
    pub data_category: String,
    pub target: String,
    pub trigger: String,
    pub duration_days: u32,
    pub action: String,
}

/// What one rule found and did in a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleOutcome {
    pub rule_id: Uuid,
    pub data_category: String,
    pub target: String,
    pub trigger: String,
    pub action: String,
    pub duration_days: u32,
    /// Data older than this (from the trigger) is past its time.
    #[serde(with = "time::serde::rfc3339")]
    pub cutoff: OffsetDateTime,
    /// Items past their time.
    pub due: u64,
    /// Items erased by this run (0 in a dry run, under a hold, or for `review`).
    pub erased: u64,
    /// The legal holds in force on the target, which kept the data.
    pub held_by: Vec<Uuid>,
}

/// A run as stored and listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionRunView {
    pub id: Uuid,
    pub ran_at: OffsetDateTime,
    pub dry_run: bool,
    pub actor: String,
    pub rules: Vec<RuleOutcome>,
}

fn run_view(record: RetentionRunRecord) -> RetentionRunView {
    RetentionRunView {
        id: record.id,
        ran_at: record.ran_at,
        dry_run: record.dry_run,
        actor: record.actor,
        rules: serde_json::from_str(&record.outcome).unwrap_or_default(),
    }
}

fn actor_text(actor: &Actor) -> String {
    match actor.id() {
        Some(id) => format!("{}:{id}", actor.kind().as_str()),
        None => actor.kind().as_str().to_owned(),
    }
}

impl App {
    pub async fn create_retention_rule(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        input: &RetentionRuleInput,
        context: &RequestContext,
    ) -> Result<RetentionRuleRecord, AppError> {
        self.authorize_in(principal, organization_id, "privacy:retention:write", context).await?;
        let target = RetentionTarget::parse(&input.target).ok_or_else(|| {
            let known: Vec<&str> = RetentionTarget::ALL.iter().map(|t| t.as_str()).collect();
            invalid(format!(
                "target: unknown target {:?}; expected one of {}",
                input.target,
                known.join(", ")
            ))
        })?;
        let trigger = RetentionTrigger::parse(&input.trigger).ok_or_else(|| {
            let known: Vec<&str> = RetentionTrigger::ALL.iter().map(|t| t.as_str()).collect();
            invalid(format!(
                "trigger: unknown trigger {:?}; expected one of {}",
                input.trigger,
                known.join(", ")
            ))
        })?;
        if !target.triggers().contains(&trigger) {
            let known: Vec<&str> = target.triggers().iter().map(|t| t.as_str()).collect();
            return Err(invalid(format!(
                "trigger: {} keeps no {} date; use {}",
                target.as_str(),
                trigger.as_str(),
                known.join(" or ")
            )));
        }
        if input.duration_days > MAX_RETENTION_DAYS {
            return Err(invalid(format!("duration_days: at most {MAX_RETENTION_DAYS}")));
        }
        match input.action.as_str() {
            "delete" | "anonymise" | "review" => {}
            "pseudonymise" => {
                return Err(invalid(format!(
                    "action: {} cannot be pseudonymised; use delete, anonymise or review",
                    target.as_str()
                )));
            }
            other => {
                return Err(invalid(format!(
                    "action: unknown action {other:?}; expected one of {}",
                    RETENTION_ACTIONS.join(", ")
                )));
            }
        }
        let mut transaction = self.store.begin().await?;
        if transaction.get_data_category(organization_id, &input.data_category).await?.is_none() {
            return Err(invalid(format!(
                "data_category: {:?} is not in the data category catalogue",
                input.data_category
            )));
        }
        if transaction.list_retention_rules(organization_id).await?.len() >= MAX_RETENTION_RULES {
            return Err(invalid(format!("at most {MAX_RETENTION_RULES} retention rules")));
        }
        let now = self.clock.now();
        let rule = RetentionRuleRecord {
            id: new_id(now),
            organization_id,
            data_category: input.data_category.clone(),
            target: target.as_str().to_owned(),
            trigger: trigger.as_str().to_owned(),
            duration_days: input.duration_days,
            action: input.action.clone(),
            created_at: now,
            updated_at: now,
        };
        transaction.insert_retention_rule(&rule).await?;
        let mut event = self.success_event(
            principal,
            organization_id,
            "privacy.retention_rule.create",
            Resource::new("retention_rule", rule.id),
            context,
        );
        event.details.insert("data_category".into(), rule.data_category.clone().into());
        event.details.insert("target".into(), rule.target.clone().into());
        event.details.insert("trigger".into(), rule.trigger.clone().into());
        event.details.insert("duration_days".into(), rule.duration_days.into());
        event.details.insert("action".into(), rule.action.clone().into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(rule)
    }

    pub async fn delete_retention_rule(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        id: Uuid,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        self.authorize_in(principal, organization_id, "privacy:retention:write", context).await?;
        let mut transaction = self.store.begin().await?;
        if !transaction.delete_retention_rule(organization_id, id).await? {
            return Err(AppError::NotFound("retention rule"));
        }
        let event = self.success_event(
            principal,
            organization_id,
            "privacy.retention_rule.delete",
            Resource::new("retention_rule", id),
            context,
        );
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(())
    }

    pub async fn list_retention_rules(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        context: &RequestContext,
    ) -> Result<Vec<RetentionRuleRecord>, AppError> {
        self.authorize_in(principal, organization_id, "privacy:retention:read", context).await?;
        let mut read = self.store.read().await?;
        let rules = read.list_retention_rules(organization_id).await?;
        read.commit().await?;
        Ok(rules)
    }

    /// Place a legal hold on a target: no rule acts on it until the hold is released.
    pub async fn place_legal_hold(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        target: &str,
        reason: &str,
        context: &RequestContext,
    ) -> Result<LegalHoldRecord, AppError> {
        self.authorize_in(principal, organization_id, "privacy:holds:write", context).await?;
        let target = RetentionTarget::parse(target)
            .ok_or_else(|| invalid(format!("target: unknown target {target:?}")))?;
        if reason.trim().is_empty()
            || reason.chars().count() > MAX_REASON_CHARS
            || reason.chars().any(|c| c.is_control() && c != '\n')
        {
            return Err(invalid(format!(
                "reason: required, at most {MAX_REASON_CHARS} characters, no control characters"
            )));
        }
        let now = self.clock.now();
        let hold = LegalHoldRecord {
            id: new_id(now),
            organization_id,
            target: target.as_str().to_owned(),
            reason: reason.trim().to_owned(),
            placed_at: now,
            released_at: None,
        };
        let mut transaction = self.store.begin().await?;
        transaction.insert_legal_hold(&hold).await?;
        let mut event = self.success_event(
            principal,
            organization_id,
            "privacy.legal_hold.place",
            Resource::new("legal_hold", hold.id),
            context,
        );
        event.privileged = true;
        event.details.insert("target".into(), hold.target.clone().into());
        event.details.insert("reason".into(), hold.reason.clone().into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(hold)
    }

    pub async fn release_legal_hold(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        id: Uuid,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        self.authorize_in(principal, organization_id, "privacy:holds:write", context).await?;
        let mut transaction = self.store.begin().await?;
        if !transaction.release_legal_hold(organization_id, id, self.clock.now()).await? {
            return Err(AppError::NotFound("legal hold in force"));
        }
        let mut event = self.success_event(
            principal,
            organization_id,
            "privacy.legal_hold.release",
            Resource::new("legal_hold", id),
            context,
        );
        event.privileged = true;
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(())
    }

    pub async fn list_legal_holds(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        context: &RequestContext,
    ) -> Result<Vec<LegalHoldRecord>, AppError> {
        self.authorize_in(principal, organization_id, "privacy:retention:read", context).await?;
        let mut read = self.store.read().await?;
        let holds = read.list_legal_holds(organization_id).await?;
        read.commit().await?;
        Ok(holds)
    }

    /// Run the organisation's rules now; a dry run reports what would go and erases nothing.
    pub async fn run_retention(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        dry_run: bool,
        context: &RequestContext,
    ) -> Result<RetentionRunView, AppError> {
        self.authorize_in(principal, organization_id, "privacy:retention:run", context).await?;
        self.retention_run(organization_id, dry_run, &principal.actor, |action, resource| {
            self.success_event(principal, organization_id, action, resource, context)
        })
        .await
    }

    /// The daily run: every organisation with a rule. Returns how many organisations ran; one
    /// organisation's failure does not stop the others.
    pub async fn run_daily_retention(&self) -> Result<usize, AppError> {
        let mut read = self.store.read().await?;
        let organizations = read.organizations_with_retention_rules().await?;
        read.commit().await?;
        let mut n_done = 0;
        for organization_id in organizations {
            let outcome = self
                .retention_run(organization_id, false, &Actor::System, |action, resource| {
                    self.event(&Actor::System, organization_id, action, resource)
                })
                .await;
            match outcome {
                Ok(_) => n_done += 1,
                Err(error) => {
                    tracing::error!(organization = %organization_id, %error, "retention run failed");
                }
            }
        }
        Ok(n_done)
    }

    async fn retention_run(
        &self,
        organization_id: OrganizationId,
        dry_run: bool,
        actor: &Actor,
        event_of: impl Fn(&str, Resource) -> base::AuditEvent,
    ) -> Result<RetentionRunView, AppError> {
        let now = self.clock.now();
        let mut transaction = self.store.begin().await?;
        let rules = transaction.list_retention_rules(organization_id).await?;
        let holds: Vec<LegalHoldRecord> = transaction
            .list_legal_holds(organization_id)
            .await?
            .into_iter()
            .filter(|hold| hold.released_at.is_none())
            .collect();
        let mut outcomes = Vec::with_capacity(rules.len());
        for rule in &rules {
            let (Some(target), Some(trigger)) =
                (RetentionTarget::parse(&rule.target), RetentionTrigger::parse(&rule.trigger))
            else {
                tracing::warn!(rule = %rule.id, "retention rule with an unknown target or trigger");
                continue;
            };
            let cutoff = now - time::Duration::days(i64::from(rule.duration_days));
            let held_by: Vec<Uuid> = holds
                .iter()
                .filter(|hold| hold.target == rule.target)
                .map(|hold| hold.id)
                .collect();
            let apply = !dry_run && held_by.is_empty() && rule.action != "review";
            let due = self
                .sweep(&mut transaction, organization_id, (target, trigger), cutoff, false, actor)
                .await?;
            let erased = if apply && due > 0 {
                self.sweep(
                    &mut transaction,
                    organization_id,
                    (target, trigger),
                    cutoff,
                    true,
                    actor,
                )
                .await?
            } else {
                0
            };
            outcomes.push(RuleOutcome {
                rule_id: rule.id,
                data_category: rule.data_category.clone(),
                target: rule.target.clone(),
                trigger: rule.trigger.clone(),
                action: rule.action.clone(),
                duration_days: rule.duration_days,
                cutoff,
                due,
                erased,
                held_by,
            });
        }
        let run = RetentionRunRecord {
            id: new_id(now),
            organization_id,
            ran_at: now,
            dry_run,
            actor: actor_text(actor),
            outcome: serde_json::to_string(&outcomes)
                .map_err(|error| AppError::Internal(error.to_string()))?,
        };
        transaction.insert_retention_run(&run).await?;
        let mut event = event_of("privacy.retention.run", Resource::new("retention_run", run.id));
        event.details.insert("dry_run".into(), dry_run.into());
        event.details.insert("rules".into(), outcomes.len().into());
        event.details.insert("due".into(), outcomes.iter().map(|o| o.due).sum::<u64>().into());
        event
            .details
            .insert("erased".into(), outcomes.iter().map(|o| o.erased).sum::<u64>().into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(run_view(run))
    }

    /// Count (and when `apply`, erase) what of a target is past `cutoff`: the store's sweep,
    /// or the application's for closed incidents, whose personal fields are in the case
    /// document. Zero when the target does not keep the date the trigger needs.
    async fn sweep(
        &self,
        transaction: &mut Transaction,
        organization_id: OrganizationId,
        (target, trigger): (RetentionTarget, RetentionTrigger),
        cutoff: OffsetDateTime,
        apply: bool,
        actor: &Actor,
    ) -> Result<u64, AppError> {
        if target == RetentionTarget::ClosedIncidents {
            return self
                .sweep_closed_incidents(transaction, organization_id, trigger, cutoff, apply, actor)
                .await;
        }
        Ok(transaction
            .retention_sweep(organization_id, target, trigger, cutoff, apply)
            .await?
            .unwrap_or(0))
    }

    /// The organisation's runs, newest first: the evidence that retention is applied.
    pub async fn list_retention_runs(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        context: &RequestContext,
    ) -> Result<Vec<RetentionRunView>, AppError> {
        self.authorize_in(principal, organization_id, "privacy:retention:read", context).await?;
        let mut read = self.store.read().await?;
        let runs = read.list_retention_runs(organization_id, MAX_RETENTION_RUNS).await?;
        read.commit().await?;
        Ok(runs.into_iter().map(run_view).collect())
    }
}
