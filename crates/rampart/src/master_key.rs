//! The master key that seals stored secrets: from `RAMPART_MASTER_KEY` (base64), or from a file
//! created with owner-only permissions on first start.

use std::path::Path;

use anyhow::{Context as _, bail};
use app::MasterKey;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

fn decode(text: &str, source: &str) -> anyhow::Result<MasterKey> {
    let bytes = BASE64
        .decode(text.trim())
        .with_context(|| format!("{source}: the master key is not base64"))?;
    let Ok(bytes) = <[u8; 32]>::try_from(bytes) else {
        bail!("{source}: the master key must be 32 bytes (44 base64 characters)");
    };
    Ok(MasterKey::from_bytes(bytes))
}

/// Load the master key, creating the file when neither it nor the variable exists.
pub fn load_or_create(from_environment: Option<String>, file: &Path) -> anyhow::Result<MasterKey> {
    if let Some(text) = from_environment {
        return decode(&text, "RAMPART_MASTER_KEY");
    }
    match std::fs::read_to_string(file) {
        Ok(text) => decode(&text, &file.display().to_string()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let key = MasterKey::generate();
            write_private(file, &format!("{}\n", BASE64.encode(key.to_bytes())))
                .with_context(|| format!("cannot create the master key file {}", file.display()))?;
            Ok(key)
        }
        Err(error) => Err(error).with_context(|| format!("cannot read {}", file.display())),
    }
}

/// Load the master key that must already exist (backups: a new key could not open anything).
pub fn load_existing(from_environment: Option<String>, file: &Path) -> anyhow::Result<MasterKey> {
    if let Some(text) = from_environment {
        return decode(&text, "RAMPART_MASTER_KEY");
    }
    match std::fs::read_to_string(file) {
        Ok(text) => decode(&text, &file.display().to_string()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => bail!(
            "no master key: set RAMPART_MASTER_KEY or put the installation's key file at {}",
            file.display()
        ),
        Err(error) => Err(error).with_context(|| format!("cannot read {}", file.display())),
    }
}

#[cfg(unix)]
fn write_private(file: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut handle =
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(file)?;
    handle.write_all(text.as_bytes())?;
    handle.sync_all()
}

#[cfg(not(unix))]
fn write_private(file: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(file, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_key_is_read_back_and_private() {
        let directory = tempfile::tempdir().unwrap();
        let file = directory.path().join("master.key");
        let created = load_or_create(None, &file).unwrap();
        let again = load_or_create(None, &file).unwrap();
        assert_eq!(created.to_bytes(), again.to_bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let error = load_or_create(Some("short".into()), &file).unwrap_err();
        assert!(error.to_string().contains("RAMPART_MASTER_KEY"));
    }
}
