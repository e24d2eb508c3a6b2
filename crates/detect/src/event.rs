//! The event the engine evaluates: flat or nested JSON fields, the log source
//! it came from, and the time it happened.

use serde_json::{Map, Value};

use time::OffsetDateTime;

/// Where an event came from, in Sigma's logsource terms.
///
/// An event has one product and service but may belong to several Sigma
/// categories at once: a Sysmon registry value change (event 13) is both
/// `registry_set` and the older, wider `registry_event`. A rule is routed to
/// the event when every logsource field the rule names is equal (ignoring
/// ASCII case) to the event's value, for one of the event's categories.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct EventSource {
    /// Sigma `product`, e.g. `windows` or `rampart`.
    pub product: Option<String>,
    /// Sigma `service`, e.g. `sysmon`, `security` or `audit`.
    pub service: Option<String>,
    /// Sigma `category` values this event belongs to; may be empty.
    pub categories: Vec<String>,
}

impl EventSource {
    /// A source with a product, a service and no category.
    pub fn new(product: &str, service: Option<&str>) -> Self {
        Self {
            product: Some(product.to_owned()),
            service: service.map(str::to_owned),
            categories: Vec::new(),
        }
    }

    /// Adds a category.
    #[must_use]
    pub fn with_category(mut self, category: &str) -> Self {
        self.categories.push(category.to_owned());
        self
    }
}

/// One event to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The log source used to route the event to rules.
    pub source: EventSource,
    /// When the event happened. This is the only clock correlation windows use.
    pub time: OffsetDateTime,
    /// The event's fields, a JSON object; Sigma field names may address nested
    /// members with dots (`actor.user.uid`).
    pub fields: Value,
}

impl Event {
    /// An event from its parts.
    pub fn new(source: EventSource, time: OffsetDateTime, fields: Map<String, Value>) -> Self {
        Self { source, time, fields: Value::Object(fields) }
    }
}
