//! `rampart mask`: stream a production extract into a test extract with personal data masked.
//! Deny by default: a column without a rule that looks personal fails the run, and nothing is
//! written unless the whole run succeeds.

use std::io::{BufReader, IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, ValueEnum};
use privacy::mask::{
    Format, MaskingKey, MaskingRules, Progress, check_stream, mask_to_path, mask_to_stdout,
};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum InputFormat {
    /// `pg_dump --format=plain`.
    Sql,
    /// CSV with a header row.
    Csv,
    /// JSON Lines.
    Jsonl,
}

#[derive(Debug, Args)]
pub struct MaskArgs {
    /// The masking rules (TOML; see docs/privacy.md).
    #[arg(long, value_name = "FILE")]
    rules: PathBuf,
    /// The masking key: 32 bytes, raw or as 64 hexadecimal characters.
    #[arg(long, value_name = "FILE")]
    key_file: PathBuf,
    /// The input; standard input when absent.
    #[arg(long, value_name = "FILE")]
    input: Option<PathBuf>,
    /// The output; standard output when absent. Written whole or not at all.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "sql")]
    format: InputFormat,
    /// For CSV and JSON Lines: the table name the rules use for this file.
    #[arg(long, value_name = "NAME", default_value = "data")]
    table: String,
    /// Report what would be masked and every personal column without a rule; write nothing.
    #[arg(long)]
    check: bool,
}

pub fn run(args: MaskArgs) -> ExitCode {
    match mask(args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn mask(args: MaskArgs) -> Result<ExitCode, String> {
    // The key and the rules are checked before any input is read.
    let key_bytes = std::fs::read(&args.key_file)
        .map_err(|error| format!("--key-file {}: {error}", args.key_file.display()))?;
    let key = MaskingKey::from_file_bytes(&key_bytes)
        .map_err(|error| format!("--key-file {}: {error}", args.key_file.display()))?;
    let rules_text = std::fs::read_to_string(&args.rules)
        .map_err(|error| format!("--rules {}: {error}", args.rules.display()))?;
    let rules = MaskingRules::from_toml(&rules_text)
        .map_err(|error| format!("--rules {}: {error}", args.rules.display()))?;
    let format = match args.format {
        InputFormat::Sql => Format::PostgresDump,
        InputFormat::Csv => Format::Csv { table: args.table.clone() },
        InputFormat::Jsonl => Format::JsonLines { table: args.table.clone() },
    };
    let input: Box<dyn std::io::Read> = match &args.input {
        Some(path) => Box::new(
            std::fs::File::open(path).map_err(|error| format!("{}: {error}", path.display()))?,
        ),
        None => Box::new(std::io::stdin().lock()),
    };
    let input_size =
        args.input.as_ref().and_then(|path| std::fs::metadata(path).ok()).map(|m| m.len());
    let reader = BufReader::with_capacity(1 << 20, input);
    let mut bar = ProgressLine::new(input_size);
    let mut progress = |step: Progress| bar.show(step);
    let summary = if args.check {
        check_stream(&format, &rules, &key, reader, &mut progress)
    } else {
        match &args.output {
            Some(path) => mask_to_path(&format, &rules, &key, reader, path, &mut progress),
            None => mask_to_stdout(&format, &rules, &key, reader, &mut progress),
        }
    };
    bar.finish();
    let summary = summary.map_err(|error| error.to_string())?;
    eprint!("{summary}");
    if args.check && !summary.personal_columns_without_rule.is_empty() {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Rows, MB/s and, when the input size is known, an ETA, redrawn on standard error when it
/// is a terminal.
struct ProgressLine {
    started: Instant,
    total: Option<u64>,
    drawn: bool,
    enabled: bool,
}

impl ProgressLine {
    fn new(total: Option<u64>) -> Self {
        Self {
            started: Instant::now(),
            total,
            drawn: false,
            enabled: std::io::stderr().is_terminal(),
        }
    }

    fn show(&mut self, step: Progress) {
        if !self.enabled {
            return;
        }
        let seconds = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = step.bytes as f64 / seconds / 1e6;
        let eta = self
            .total
            .filter(|_| rate > 0.0)
            .map(|total| {
                let left = total.saturating_sub(step.bytes) as f64 / 1e6 / rate;
                format!(", ETA {left:.0} s")
            })
            .unwrap_or_default();
        let share = self
            .total
            .filter(|total| *total > 0)
            .map(|total| format!(" ({:.0} %)", step.bytes as f64 * 100.0 / total as f64))
            .unwrap_or_default();
        let mut stderr = std::io::stderr().lock();
        let _ = write!(
            stderr,
            "\r{} rows, {:.1} MB{share}, {rate:.1} MB/s{eta}   ",
            step.rows,
            step.bytes as f64 / 1e6
        );
        self.drawn = true;
    }

    fn finish(&mut self) {
        if self.drawn {
            eprintln!();
        }
    }
}
