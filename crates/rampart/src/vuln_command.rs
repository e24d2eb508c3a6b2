//! `rampart vuln scan`: an offline vulnerability gate for pipelines, like cargo-audit or
//! osv-scanner. Exit status: 0 when nothing fails the gate, 1 when a finding at or above the
//! threshold exists, 2 when the input, the advisories or the arguments are unusable.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};
use vuln::report::{FailPolicy, render_json, render_sarif, render_table};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Sarif,
}

#[derive(Debug, Subcommand)]
pub enum VulnCommand {
    /// Scan an SBOM or lockfile (CycloneDX or SPDX JSON, Cargo.lock, package-lock.json,
    /// requirements.txt, dpkg status or `dpkg -l`) against advisories on disk.
    Scan {
        /// The file to scan.
        file: PathBuf,
        /// Advisories: a directory of OSV JSON/YAML files or zip bundles, or a RustSec
        /// advisory database checkout.
        #[arg(long, value_name = "DIR", env = "RAMPART_ADVISORIES")]
        advisories: PathBuf,
        /// Fail (exit 1) when a vulnerability at or above this severity is found; unscored
        /// vulnerabilities fail too, informational advisories never do.
        #[arg(long, value_name = "SEVERITY", default_value = "low")]
        fail_on: String,
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
    },
}

pub fn run(command: VulnCommand) -> ExitCode {
    match command {
        VulnCommand::Scan { file, advisories, fail_on, format } => {
            match scan(&file, &advisories, &fail_on, format) {
                Ok(code) => code,
                Err(message) => {
                    eprintln!("error: {message}");
                    ExitCode::from(2)
                }
            }
        }
    }
}

fn scan(
    file: &Path,
    advisories: &Path,
    fail_on: &str,
    format: OutputFormat,
) -> Result<ExitCode, String> {
    let policy: FailPolicy = fail_on.parse().map_err(|error| format!("--fail-on: {error}"))?;
    if !advisories.is_dir() {
        return Err(format!("--advisories: {} is not a directory", advisories.display()));
    }
    let bytes = std::fs::read(file).map_err(|error| format!("{}: {error}", file.display()))?;
    let file_name = file.file_name().and_then(|name| name.to_str()).unwrap_or_default();
    // Package-per-directory databases (RustSec, PyPA) are read only for the scanned packages.
    let inventory = vuln::sbom::detect_and_parse(file_name, &bytes)
        .map_err(|error| format!("{}: {error}", file.display()))?;
    let names: Vec<String> =
        inventory.components.into_iter().map(|component| component.name).collect();
    let mut database = vuln::AdvisoryDatabase::new();
    let load = database.load_path_for_packages(advisories, names.iter().map(String::as_str));
    for error in &load.errors {
        eprintln!("warning: advisory not loaded: {}: {}", error.origin, error.message);
    }
    let outcome = vuln::scan(file_name, &bytes, &database);
    if let Some(error) = &outcome.input_error {
        return Err(format!("{}: {error}", file.display()));
    }
    for problem in &outcome.problems {
        eprintln!(
            "warning: {} {} ({}): {}",
            problem.name, problem.version, problem.location, problem.problem
        );
    }
    let rendered = match format {
        OutputFormat::Table => render_table(&outcome.findings),
        OutputFormat::Json => render_json(&outcome.findings),
        OutputFormat::Sarif => render_sarif(&outcome.findings, &file.display().to_string()),
    };
    print!("{rendered}");
    if !rendered.ends_with('\n') {
        println!();
    }
    let failing = policy.failing(&outcome.findings).len();
    if failing > 0 {
        eprintln!("{failing} finding(s) at or above {fail_on}");
        Ok(ExitCode::from(1))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}
