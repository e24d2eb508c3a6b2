//! Rampart's compliance reporting: the GDPR annex of technical and organisational measures
//! (TOM) as data, the ISO/IEC 27001:2022 Annex A catalogue and Statement of Applicability,
//! the evidence check framework, rendering of the live annex (Markdown, HTML, PDF) and the
//! public trust and changes pages.
//!
//! The crate is pure: no storage, no network, no clock. The service gathers facts, evaluates
//! checks with the time it passes in, and hands the results here to be rendered.

pub mod annex;
mod error;
mod escape;
pub mod evidence;
pub mod iso27001;
pub mod public;
pub mod render;

pub use error::ReportError;
