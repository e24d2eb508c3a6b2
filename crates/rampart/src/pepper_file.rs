//! The pepper file (`passwords.pepper_file`): secrets mixed into every password hash, kept
//! outside the database. Like `master.key`, it must be readable by its owner only.

use std::path::Path;

use anyhow::{Context as _, bail};
use app::Peppers;

/// Read and check the pepper file: private to its owner (on Unix), then `ID SECRET` lines.
pub fn load(file: &Path) -> anyhow::Result<Peppers> {
    let metadata = std::fs::metadata(file)
        .with_context(|| format!("cannot read the pepper file {}", file.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            bail!(
                "the pepper file {} is readable by others (mode {mode:o}): run `chmod 600` on it",
                file.display()
            );
        }
    }
    #[cfg(not(unix))]
    let _ = metadata;
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the pepper file {}", file.display()))?;
    Peppers::parse(&text)
        .map_err(|error| anyhow::anyhow!("invalid pepper file {}: {error}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str, mode: u32) -> std::path::PathBuf {
        let file = dir.join("pepper");
        std::fs::write(&file, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        file
    }

    #[test]
    fn a_private_valid_file_loads_and_anything_else_is_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let secret = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let peppers = load(&write(dir.path(), &format!("p1 {secret}\n"), 0o600)).unwrap();
        assert_eq!(peppers.current_id().as_deref(), Some("p1"));
        #[cfg(unix)]
        {
            let error = load(&write(dir.path(), &format!("p1 {secret}\n"), 0o644)).unwrap_err();
            assert!(error.to_string().contains("chmod 600"), "{error}");
        }
        let error = load(&write(dir.path(), "p1 short\n", 0o600)).unwrap_err();
        assert!(error.to_string().contains("line 1"), "{error}");
        let error = load(&dir.path().join("absent")).unwrap_err();
        assert!(error.to_string().contains("cannot read the pepper file"), "{error}");
    }
}
