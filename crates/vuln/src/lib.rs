//! Software inventory parsing and offline vulnerability matching.
//!
//! The pure engine behind `rampart vuln scan`: read a software bill of materials or a lockfile
//! into [`sbom::Component`]s, load advisories offline into an [`advisory::AdvisoryDatabase`],
//! match them following the OSV schema ([`matching`]), score severity from CVSS vectors
//! ([`cvss`]) and render the results ([`report`]). No network, no database, no clock.

pub mod advisory;
pub mod cvss;
pub mod ecosystem;
pub mod matching;
pub mod purl;
pub mod report;
pub mod sbom;
pub mod scan;
pub mod version;

pub use advisory::AdvisoryDatabase;
pub use ecosystem::Ecosystem;
pub use scan::{ScanOutcome, scan};
pub use version::Version;
