//! Detection for Rampart: Sigma rules evaluated over Rampart's own audit
//! events and ingested logs, and the pure logic around detections (alerts,
//! incidents, intake parsing). No I/O beyond reading rule files; time is
//! always a parameter.

pub mod alerts;
pub mod engine;
pub mod event;
pub mod incident;
pub mod intake;
pub mod ocsf;
pub mod rules;
pub mod travel;
pub mod windows;

pub use engine::{Detection, DetectionKind, Engine, EngineConfig, Pipeline, parse_pipeline};
pub use event::{Event, EventSource};
pub use rules::{LoadFailure, LoadReport, RuleInfo, RuleLogSource, RuleSet, RuleSetError};
