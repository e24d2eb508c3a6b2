//! Incidents: a status machine after NIST SP 800-61r3's response phases,
//! SEV1–SEV4 severities, the GDPR Article 33 notification clock and record,
//! Article 34 tracking, and the rule that SEV1 and SEV2 incidents cannot close
//! without a post-incident review. Pure: every time is a parameter.

use std::fmt;

use time::{Date, Duration, OffsetDateTime};
use uuid::Uuid;

/// Incident severity; SEV1 is the worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Sev {
    /// Critical: major breach or outage.
    Sev1,
    /// High.
    Sev2,
    /// Moderate.
    Sev3,
    /// Low.
    Sev4,
}

impl Sev {
    /// Whether closing needs a post-incident review (SEV1 and SEV2).
    pub fn requires_review(self) -> bool {
        matches!(self, Self::Sev1 | Self::Sev2)
    }
}

impl fmt::Display for Sev {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = match self {
            Self::Sev1 => 1,
            Self::Sev2 => 2,
            Self::Sev3 => 3,
            Self::Sev4 => 4,
        };
        write!(f, "SEV{n}")
    }
}

/// Where the response stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// Reported or raised; not yet looked at.
    Detected,
    /// Scope and impact being established.
    Analysing,
    /// Spread stopped.
    Contained,
    /// Cause removed.
    Eradicated,
    /// Service and data restored.
    Recovered,
    /// Done.
    Closed,
}

impl Status {
    /// The phase that follows, `None` after `Closed`.
    pub fn next(self) -> Option<Self> {
        match self {
            Self::Detected => Some(Self::Analysing),
            Self::Analysing => Some(Self::Contained),
            Self::Contained => Some(Self::Eradicated),
            Self::Eradicated => Some(Self::Recovered),
            Self::Recovered => Some(Self::Closed),
            Self::Closed => None,
        }
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Detected => "detected",
            Self::Analysing => "analysing",
            Self::Contained => "contained",
            Self::Eradicated => "eradicated",
            Self::Recovered => "recovered",
            Self::Closed => "closed",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Errors of incident handling.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IncidentError {
    /// Phases are passed in order, one at a time.
    #[error("cannot move from {from} to {to}: the next phase is {expected}")]
    Transition {
        /// Current status.
        from: Status,
        /// Requested status.
        to: Status,
        /// The only status allowed next (`closed` when already closed).
        expected: Status,
    },
    /// SEV1/SEV2 incidents close only with a complete review.
    #[error("a {0} incident cannot close without a complete post-incident review: {1}")]
    ReviewRequired(Sev, String),
    /// A record is incomplete.
    #[error("{record}: {field} {problem}")]
    Incomplete {
        /// Which record.
        record: &'static str,
        /// Which field.
        field: String,
        /// What is wrong.
        problem: &'static str,
    },
    /// A time goes backwards.
    #[error("{0} is earlier than the previous status change")]
    TimeBackwards(&'static str),
}

fn missing(record: &'static str, field: impl Into<String>) -> IncidentError {
    IncidentError::Incomplete { record, field: field.into(), problem: "is empty" }
}

/// One follow-up action of a review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewAction {
    /// What will be done.
    pub description: String,
    /// Who owns it.
    pub owner: String,
    /// By when.
    pub due: Date,
}

/// The post-incident review ("lessons learned").
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PostIncidentReview {
    /// Root and contributing causes.
    pub causes: Vec<String>,
    /// What was learned.
    pub lessons: Vec<String>,
    /// Follow-up actions, each with an owner and a due date.
    pub actions: Vec<ReviewAction>,
}

impl PostIncidentReview {
    /// Checks the review is complete: at least one cause, one lesson and one
    /// action, no blank entries, every action with a description and an owner.
    pub fn validate(&self) -> Result<(), IncidentError> {
        const R: &str = "post-incident review";
        if self.causes.iter().all(|c| c.trim().is_empty()) {
            return Err(missing(R, "causes"));
        }
        if self.lessons.iter().all(|l| l.trim().is_empty()) {
            return Err(missing(R, "lessons"));
        }
        if self.actions.is_empty() {
            return Err(missing(R, "actions"));
        }
        for (i, action) in self.actions.iter().enumerate() {
            if action.description.trim().is_empty() {
                return Err(missing(R, format!("actions[{i}].description")));
            }
            if action.owner.trim().is_empty() {
                return Err(missing(R, format!("actions[{i}].owner")));
            }
        }
        Ok(())
    }
}

/// Where the Article 33 clock stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockStatus {
    /// The controller is not (yet) aware of a personal data breach.
    NotStarted,
    /// Running, more than the largest "due soon" threshold left.
    Running {
        /// Time left.
        remaining: Duration,
    },
    /// Running with at most `threshold` left.
    DueSoon {
        /// Time left.
        remaining: Duration,
        /// The smallest configured threshold already crossed.
        threshold: Duration,
    },
    /// Deadline passed without a notification.
    Overdue {
        /// How late.
        by: Duration,
    },
    /// The supervisory authority was notified.
    Notified {
        /// When.
        at: OffsetDateTime,
        /// Whether after the deadline (a reason for the delay is then required).
        late: bool,
    },
}

/// GDPR Article 33(1): notify within 72 hours of becoming aware.
pub const ARTICLE_33_DEADLINE: Duration = Duration::hours(72);

/// Default "due soon" thresholds: 24, 12 and 4 hours left.
pub const DEFAULT_DUE_SOON: [Duration; 3] =
    [Duration::hours(24), Duration::hours(12), Duration::hours(4)];

/// The Article 33 clock state at `now`, given awareness and notification times.
pub fn article_33_clock(
    aware_at: Option<OffsetDateTime>,
    notified_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
    due_soon: &[Duration],
) -> ClockStatus {
    let Some(aware_at) = aware_at else { return ClockStatus::NotStarted };
    let deadline = aware_at + ARTICLE_33_DEADLINE;
    if let Some(at) = notified_at {
        return ClockStatus::Notified { at, late: at > deadline };
    }
    if now > deadline {
        return ClockStatus::Overdue { by: now - deadline };
    }
    let remaining = deadline - now;
    match due_soon.iter().filter(|t| remaining <= **t).min() {
        Some(&threshold) => ClockStatus::DueSoon { remaining, threshold },
        None => ClockStatus::Running { remaining },
    }
}

/// The content Article 33(3) requires in a notification to the supervisory
/// authority, with what Article 33(1) and 33(4) add.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Article33Notification {
    /// The supervisory authority notified.
    pub authority: String,
    /// When it was sent.
    pub submitted_at: Option<OffsetDateTime>,
    /// (a) Nature of the breach.
    pub nature: String,
    /// (a) Categories of data subjects concerned.
    pub data_subject_categories: Vec<String>,
    /// (a) Approximate number of data subjects concerned.
    pub approx_data_subjects: Option<u64>,
    /// (a) Categories of personal data records concerned.
    pub record_categories: Vec<String>,
    /// (a) Approximate number of records concerned.
    pub approx_records: Option<u64>,
    /// (b) Name and contact details of the DPO or other contact point.
    pub contact: String,
    /// (c) Likely consequences.
    pub likely_consequences: String,
    /// (d) Measures taken or proposed, including mitigation.
    pub measures: String,
    /// 33(1): reasons for a notification made after 72 hours.
    pub delay_reason: Option<String>,
    /// 33(4): whether information is given in phases (more will follow).
    pub phased: bool,
}

impl Article33Notification {
    /// Checks the record is complete for submission at `submitted_at`, given the
    /// awareness time: every Article 33(3) field present (approximate numbers
    /// may be missing only when `phased`), and a delay reason when late.
    pub fn validate(&self, aware_at: OffsetDateTime) -> Result<(), IncidentError> {
        const R: &str = "Article 33 notification";
        for (name, value) in [
            ("authority", &self.authority),
            ("nature", &self.nature),
            ("contact", &self.contact),
            ("likely_consequences", &self.likely_consequences),
            ("measures", &self.measures),
        ] {
            if value.trim().is_empty() {
                return Err(missing(R, name));
            }
        }
        if self.data_subject_categories.iter().all(|c| c.trim().is_empty()) {
            return Err(missing(R, "data_subject_categories"));
        }
        if self.record_categories.iter().all(|c| c.trim().is_empty()) {
            return Err(missing(R, "record_categories"));
        }
        if !self.phased && (self.approx_data_subjects.is_none() || self.approx_records.is_none()) {
            return Err(IncidentError::Incomplete {
                record: R,
                field: "approx_data_subjects/approx_records".into(),
                problem: "are required unless the information is given in phases",
            });
        }
        let Some(submitted) = self.submitted_at else {
            return Err(IncidentError::Incomplete {
                record: R,
                field: "submitted_at".into(),
                problem: "is not set",
            });
        };
        if submitted > aware_at + ARTICLE_33_DEADLINE
            && self.delay_reason.as_deref().is_none_or(|r| r.trim().is_empty())
        {
            return Err(IncidentError::Incomplete {
                record: R,
                field: "delay_reason".into(),
                problem: "is required for a notification after 72 hours",
            });
        }
        Ok(())
    }
}

/// Article 34: communication of the breach to the data subjects.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Article34 {
    /// Not assessed yet.
    #[default]
    Pending,
    /// Not required: no high risk, or an Article 34(3) exemption applies.
    NotRequired {
        /// Why (e.g. "34(3)(a): data was encrypted").
        reason: String,
    },
    /// Required (high risk to rights and freedoms).
    Required {
        /// When communication was completed, if it was.
        communicated_at: Option<OffsetDateTime>,
        /// How (email, in-product notice, public communication under 34(3)(c)).
        channel: Option<String>,
        /// Data subjects reached so far.
        subjects_notified: u64,
    },
}

impl Article34 {
    /// Whether something is still owed to the data subjects.
    pub fn outstanding(&self) -> bool {
        match self {
            Self::Pending => true,
            Self::NotRequired { .. } => false,
            Self::Required { communicated_at, .. } => communicated_at.is_none(),
        }
    }
}

/// One status change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    /// New status.
    pub status: Status,
    /// When.
    pub at: OffsetDateTime,
    /// Who.
    pub by: String,
}

/// An incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    /// Identifier.
    pub id: Uuid,
    /// Short description.
    pub title: String,
    /// Severity; may change during analysis.
    pub severity: Sev,
    /// Current status.
    pub status: Status,
    /// Status changes, the first being the detection.
    pub history: Vec<StatusChange>,
    /// Alerts that make up the incident.
    pub alert_ids: Vec<Uuid>,
    /// When the controller became aware of a personal data breach (starts the
    /// Article 33 clock); `None` when no personal data breach is established.
    pub breach_aware_at: Option<OffsetDateTime>,
    /// The Article 33 notification, once prepared.
    pub article_33: Option<Article33Notification>,
    /// Article 34 tracking.
    pub article_34: Article34,
    /// The post-incident review.
    pub review: Option<PostIncidentReview>,
}

impl Incident {
    /// A new incident in `detected`.
    pub fn new(id: Uuid, title: &str, severity: Sev, at: OffsetDateTime, by: &str) -> Self {
        Self {
            id,
            title: title.to_owned(),
            severity,
            status: Status::Detected,
            history: vec![StatusChange { status: Status::Detected, at, by: by.to_owned() }],
            alert_ids: Vec::new(),
            breach_aware_at: None,
            article_33: None,
            article_34: Article34::Pending,
            review: None,
        }
    }

    /// Moves to `to`, which must be the next phase. Closing a SEV1 or SEV2
    /// incident needs a complete [`PostIncidentReview`].
    pub fn advance(
        &mut self,
        to: Status,
        at: OffsetDateTime,
        by: &str,
    ) -> Result<(), IncidentError> {
        let expected = self.status.next().unwrap_or(Status::Closed);
        if self.status == Status::Closed || to != expected {
            return Err(IncidentError::Transition { from: self.status, to, expected });
        }
        if self.history.last().is_some_and(|last| at < last.at) {
            return Err(IncidentError::TimeBackwards("the change time"));
        }
        if to == Status::Closed && self.severity.requires_review() {
            match &self.review {
                None => {
                    return Err(IncidentError::ReviewRequired(
                        self.severity,
                        "none recorded".into(),
                    ));
                }
                Some(review) => review
                    .validate()
                    .map_err(|e| IncidentError::ReviewRequired(self.severity, e.to_string()))?,
            }
        }
        self.status = to;
        self.history.push(StatusChange { status: to, at, by: by.to_owned() });
        Ok(())
    }

    /// Records that a personal data breach is established; the Article 33
    /// clock starts at `aware_at` (kept if already started earlier).
    pub fn mark_personal_data_breach(&mut self, aware_at: OffsetDateTime) {
        self.breach_aware_at = Some(self.breach_aware_at.map_or(aware_at, |t| t.min(aware_at)));
    }

    /// The Article 33 deadline, when the clock runs.
    pub fn article_33_deadline(&self) -> Option<OffsetDateTime> {
        self.breach_aware_at.map(|t| t + ARTICLE_33_DEADLINE)
    }

    /// The Article 33 clock at `now` with the default thresholds.
    pub fn article_33_clock(&self, now: OffsetDateTime) -> ClockStatus {
        let notified = self.article_33.as_ref().and_then(|n| n.submitted_at);
        article_33_clock(self.breach_aware_at, notified, now, &DEFAULT_DUE_SOON)
    }

    /// Records the notification after checking it is complete.
    pub fn record_article_33(
        &mut self,
        notification: Article33Notification,
    ) -> Result<(), IncidentError> {
        let aware_at = self.breach_aware_at.ok_or(IncidentError::Incomplete {
            record: "incident",
            field: "breach_aware_at".into(),
            problem: "is not set: no personal data breach is established",
        })?;
        notification.validate(aware_at)?;
        self.article_33 = Some(notification);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    fn t(h: i64) -> OffsetDateTime {
        datetime!(2026-03-01 09:00 UTC) + Duration::hours(h)
    }

    fn review() -> PostIncidentReview {
        PostIncidentReview {
            causes: vec!["password reuse".into()],
            lessons: vec!["enforce MFA".into()],
            actions: vec![ReviewAction {
                description: "require MFA for owners".into(),
                owner: "ana".into(),
                due: date!(2026 - 04 - 01),
            }],
        }
    }

    fn notification() -> Article33Notification {
        Article33Notification {
            authority: "CNIL".into(),
            submitted_at: Some(t(30)),
            nature: "unauthorised access to an account".into(),
            data_subject_categories: vec!["customers".into()],
            approx_data_subjects: Some(120),
            record_categories: vec!["email addresses".into()],
            approx_records: Some(120),
            contact: "dpo@example.com".into(),
            likely_consequences: "phishing".into(),
            measures: "passwords reset".into(),
            delay_reason: None,
            phased: false,
        }
    }

    #[test]
    fn phases_go_forward_one_at_a_time() {
        let mut i = Incident::new(Uuid::nil(), "x", Sev::Sev3, t(0), "ana");
        assert!(matches!(
            i.advance(Status::Contained, t(1), "ana"),
            Err(IncidentError::Transition { expected: Status::Analysing, .. })
        ));
        for s in [Status::Analysing, Status::Contained, Status::Eradicated, Status::Recovered] {
            i.advance(s, t(1), "ana").unwrap();
        }
        assert_eq!(
            i.advance(Status::Closed, t(0), "ana"),
            Err(IncidentError::TimeBackwards("the change time"))
        );
        // SEV3 may close without a review.
        i.advance(Status::Closed, t(2), "ana").unwrap();
        assert!(i.advance(Status::Closed, t(3), "ana").is_err());
        assert_eq!(i.history.len(), 6);
        assert_eq!(i.history.last().unwrap().status, Status::Closed);
    }

    #[test]
    fn severe_incidents_close_only_with_a_complete_review() {
        for sev in [Sev::Sev1, Sev::Sev2] {
            let mut i = Incident::new(Uuid::nil(), "x", sev, t(0), "ana");
            for s in [Status::Analysing, Status::Contained, Status::Eradicated, Status::Recovered] {
                i.advance(s, t(1), "ana").unwrap();
            }
            assert!(matches!(
                i.advance(Status::Closed, t(2), "ana"),
                Err(IncidentError::ReviewRequired(..))
            ));
            let mut incomplete = review();
            incomplete.actions[0].owner = " ".into();
            i.review = Some(incomplete);
            let err = i.advance(Status::Closed, t(2), "ana").unwrap_err();
            assert!(err.to_string().contains("actions[0].owner"), "{err}");
            i.review = Some(review());
            i.advance(Status::Closed, t(2), "ana").unwrap();
        }
    }

    #[test]
    fn review_needs_causes_lessons_and_actions() {
        assert!(review().validate().is_ok());
        let mut r = review();
        r.causes.clear();
        assert!(r.validate().is_err());
        let mut r = review();
        r.lessons = vec!["".into()];
        assert!(r.validate().is_err());
        let mut r = review();
        r.actions.clear();
        assert!(r.validate().is_err());
    }

    #[test]
    fn article_33_clock() {
        let mut i = Incident::new(Uuid::nil(), "x", Sev::Sev2, t(0), "ana");
        assert_eq!(i.article_33_clock(t(1)), ClockStatus::NotStarted);
        i.mark_personal_data_breach(t(2));
        i.mark_personal_data_breach(t(5));
        assert_eq!(i.article_33_deadline(), Some(t(74)));
        assert_eq!(
            i.article_33_clock(t(3)),
            ClockStatus::Running { remaining: Duration::hours(71) }
        );
        assert_eq!(
            i.article_33_clock(t(50)),
            ClockStatus::DueSoon { remaining: Duration::hours(24), threshold: Duration::hours(24) }
        );
        assert_eq!(
            i.article_33_clock(t(71)),
            ClockStatus::DueSoon { remaining: Duration::hours(3), threshold: Duration::hours(4) }
        );
        assert_eq!(
            i.article_33_clock(t(74)),
            ClockStatus::DueSoon { remaining: Duration::ZERO, threshold: Duration::hours(4) }
        );
        assert_eq!(i.article_33_clock(t(80)), ClockStatus::Overdue { by: Duration::hours(6) });
        i.record_article_33(notification()).unwrap();
        assert_eq!(i.article_33_clock(t(80)), ClockStatus::Notified { at: t(30), late: false });
    }

    #[test]
    fn article_33_record_must_be_complete() {
        let aware = t(0);
        assert!(notification().validate(aware).is_ok());
        let mut n = notification();
        n.contact = "".into();
        assert!(
            matches!(n.validate(aware), Err(IncidentError::Incomplete { field, .. }) if field == "contact")
        );
        let mut n = notification();
        n.approx_records = None;
        assert!(n.validate(aware).is_err());
        n.phased = true;
        assert!(n.validate(aware).is_ok());
        let mut late = notification();
        late.submitted_at = Some(t(73));
        assert!(late.validate(aware).is_err(), "late without a reason");
        late.delay_reason = Some("forensics needed to establish scope".into());
        assert!(late.validate(aware).is_ok());
        let mut i = Incident::new(Uuid::nil(), "x", Sev::Sev2, t(0), "ana");
        assert!(i.record_article_33(notification()).is_err(), "no breach established");
        i.mark_personal_data_breach(t(-50));
        let clock_late = i.record_article_33(notification());
        assert!(clock_late.is_err(), "submitted at 80h after awareness, no delay reason");
    }

    #[test]
    fn article_34_outstanding() {
        assert!(Article34::Pending.outstanding());
        assert!(!Article34::NotRequired { reason: "34(3)(a) encrypted".into() }.outstanding());
        let mut a =
            Article34::Required { communicated_at: None, channel: None, subjects_notified: 0 };
        assert!(a.outstanding());
        a = Article34::Required {
            communicated_at: Some(t(5)),
            channel: Some("email".into()),
            subjects_notified: 120,
        };
        assert!(!a.outstanding());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn status(i: u8) -> Status {
            [
                Status::Detected,
                Status::Analysing,
                Status::Contained,
                Status::Eradicated,
                Status::Recovered,
                Status::Closed,
            ][usize::from(i % 6)]
        }

        proptest! {
            /// Whatever is asked, the history only ever moves one phase forward
            /// at a time, and a severe incident is never closed without a review.
            #[test]
            fn history_moves_forward_one_phase_at_a_time(
                asks in proptest::collection::vec((any::<bool>(), 0u8..6, 0i64..5), 0..40),
                severe in any::<bool>(),
                with_review in any::<bool>(),
            ) {
                let sev = if severe { Sev::Sev1 } else { Sev::Sev4 };
                let mut i = Incident::new(Uuid::nil(), "x", sev, t(0), "ana");
                if with_review { i.review = Some(review()); }
                let mut clock = 0;
                for (follow, ask, step) in asks {
                    clock += step;
                    let before = i.status;
                    // Half the time ask for the right next phase, so runs get far.
                    let wanted = if follow { before.next().unwrap_or(Status::Closed) } else { status(ask) };
                    let result = i.advance(wanted, t(clock), "ana");
                    if result.is_ok() {
                        prop_assert_eq!(Some(i.status), before.next());
                    } else {
                        prop_assert_eq!(i.status, before);
                    }
                }
                for pair in i.history.windows(2) {
                    prop_assert_eq!(pair[0].status.next(), Some(pair[1].status));
                    prop_assert!(pair[0].at <= pair[1].at);
                }
                if i.status == Status::Closed && severe {
                    prop_assert!(with_review);
                }
            }
        }
    }
}
