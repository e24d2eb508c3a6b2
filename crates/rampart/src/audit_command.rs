//! `rampart audit …`: offline verification of an export, and signing key rotation.

use std::io::BufReader;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify an export offline (no server, no database): every leaf recomputed from its
    /// fields, the tree's root, the checkpoint's signature. Exits 0 when intact.
    Verify {
        /// The JSON Lines export (`GET …/audit/export`).
        #[arg(long, value_name = "FILE")]
        export: PathBuf,
        /// The signed checkpoint to verify against; default: the one in the export's trailer.
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
        /// The verifier key (`GET /v1/audit/public-key`), or a file holding it.
        #[arg(long, value_name = "KEY")]
        public_key: String,
        /// An older checkpoint you kept: the export's tree must extend it.
        #[arg(long, value_name = "FILE")]
        previous_checkpoint: Option<PathBuf>,
        /// The consistency proof from the older checkpoint (`GET …/audit/proof/consistency`),
        /// needed when its size lies outside the exported range.
        #[arg(long, value_name = "FILE")]
        consistency_proof: Option<PathBuf>,
    },
    /// Retire the checkpoint signing key and sign with a new one from now on.
    RotateKey {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

pub async fn run(command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::Verify {
            export,
            checkpoint,
            public_key,
            previous_checkpoint,
            consistency_proof,
        } => verify(export, checkpoint, &public_key, previous_checkpoint, consistency_proof),
        AuditCommand::RotateKey { config } => {
            let config = crate::load_config(config)?;
            let store = crate::open_store(&config).await?;
            let app = crate::build_app(&config, store.clone())?;
            let rotated = app.rotate_audit_signing_key().await;
            store.close().await;
            println!("new verifier key: {}", rotated?);
            println!("retired keys stay published at /v1/audit/public-keys");
            Ok(())
        }
    }
}

fn read_text(path: &PathBuf, what: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the {what} {}", path.display()))
}

/// The checkpoint note in the export's last line (the trailer).
fn trailer_checkpoint(export: &PathBuf) -> anyhow::Result<String> {
    let text = read_text(export, "export")?;
    let last = text.lines().rev().find(|line| !line.trim().is_empty()).unwrap_or_default();
    let trailer: serde_json::Value = serde_json::from_str(last)
        .with_context(|| "the export's last line is not its JSON trailer (truncated?)")?;
    match (trailer["type"].as_str(), trailer["checkpoint"].as_str()) {
        (Some("trailer"), Some(note)) => Ok(note.to_owned()),
        _ => bail!("the export's last line is not a trailer with a checkpoint (truncated?)"),
    }
}

fn verify(
    export: PathBuf,
    checkpoint: Option<PathBuf>,
    public_key: &str,
    previous_checkpoint: Option<PathBuf>,
    consistency_proof: Option<PathBuf>,
) -> anyhow::Result<()> {
    let public_key = if std::path::Path::new(public_key).is_file() {
        read_text(&PathBuf::from(public_key), "public key")?.trim().to_owned()
    } else {
        public_key.trim().to_owned()
    };
    let checkpoint = match &checkpoint {
        Some(path) => read_text(path, "checkpoint")?,
        None => trailer_checkpoint(&export)?,
    };
    let previous = previous_checkpoint
        .as_ref()
        .map(|path| read_text(path, "previous checkpoint"))
        .transpose()?;
    let proof = consistency_proof
        .as_ref()
        .map(|path| -> anyhow::Result<Vec<audit::Hash>> {
            let json: serde_json::Value =
                serde_json::from_str(&read_text(path, "consistency proof")?)
                    .context("the consistency proof is not JSON")?;
            let hashes =
                json["proof"].as_array().context("the consistency proof has no `proof` list")?;
            hashes
                .iter()
                .map(|hash| {
                    let bytes = BASE64.decode(hash.as_str().unwrap_or_default()).ok();
                    bytes
                        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                        .context("a consistency proof hash is not 32 bytes of base64")
                })
                .collect()
        })
        .transpose()?;
    let file = std::fs::File::open(&export)
        .with_context(|| format!("cannot read the export {}", export.display()))?;
    let options = audit::export::VerifyOptions {
        previous_checkpoint: previous.as_deref(),
        consistency_proof: proof.as_deref(),
        ..audit::export::VerifyOptions::default()
    };
    let summary =
        audit::export::verify_export_with(BufReader::new(file), &checkpoint, &public_key, &options)
            .map_err(|error| anyhow::anyhow!("verification failed: {error}"))?;
    println!("{summary}");
    Ok(())
}
