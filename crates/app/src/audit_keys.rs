//! The deployment's checkpoint signing keys: Ed25519 seeds sealed with the master key
//! (AES-256-GCM, the key id and name as associated data) so that the database alone does not
//! hold a usable signing key.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use audit::{NoteSigner, NoteVerifier};
use base::{Actor, Resource};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::RngCore as _;
use store::{AuditLogRepository, OrganizationRepository, SigningKeyRow};

use crate::audit_trail::AuditTrail as _;
use crate::{App, AppError};

/// A 256-bit key kept outside the database that seals stored secrets.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(redacted)")
    }
}

impl MasterKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    pub(crate) fn seal(&self, plaintext: &[u8], associated: &[u8]) -> Result<Vec<u8>, AppError> {
        let cipher = Aes256Gcm::new_from_slice(&self.0)
            .map_err(|_| AppError::Internal("master key length".into()))?;
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: associated })
            .map_err(|_| AppError::Internal("sealing failed".into()))?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    pub(crate) fn open(&self, sealed: &[u8], associated: &[u8]) -> Result<Vec<u8>, AppError> {
        let cipher = Aes256Gcm::new_from_slice(&self.0)
            .map_err(|_| AppError::Internal("master key length".into()))?;
        let (nonce, ciphertext) = sealed
            .split_at_checked(12)
            .ok_or_else(|| AppError::Internal("sealed secret is truncated".into()))?;
        cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: associated })
            .map_err(|_| {
                AppError::Internal(
                    "cannot unseal a stored signing key: the master key is not the one it was \
                     sealed with"
                        .into(),
                )
            })
    }
}

fn associated_data(key: &SigningKeyRow) -> Vec<u8> {
    [key.key_id.as_slice(), key.name.as_bytes()].concat()
}

impl App {
    /// The active signer, loaded and unsealed once.
    pub(crate) async fn signer(&self) -> Result<std::sync::Arc<NoteSigner>, AppError> {
        if let Some(signer) = self.audit.signer.read().await.as_ref() {
            return Ok(std::sync::Arc::clone(signer));
        }
        let mut read = self.store.read().await?;
        let keys = read.signing_keys().await?;
        read.commit().await?;
        let active = keys
            .iter()
            .rev()
            .find(|key| key.retired_at.is_none())
            .ok_or_else(|| AppError::Internal("no active audit signing key".into()))?;
        let seed = self.audit.master_key.open(&active.sealed_seed, &associated_data(active))?;
        let seed: [u8; 32] =
            seed.try_into().map_err(|_| AppError::Internal("sealed seed length".into()))?;
        let signer = NoteSigner::from_seed(&active.name, seed)
            .map_err(|error| AppError::Internal(format!("signing key: {error}")))?;
        let signer = std::sync::Arc::new(signer);
        *self.audit.signer.write().await = Some(std::sync::Arc::clone(&signer));
        Ok(signer)
    }

    /// Make sure a signing key exists (first start); returns its verifier key.
    pub async fn ensure_audit_signing_key(&self) -> Result<String, AppError> {
        let mut read = self.store.read().await?;
        let any_active = read.signing_keys().await?.iter().any(|key| key.retired_at.is_none());
        read.commit().await?;
        if !any_active {
            self.rotate_audit_signing_key().await?;
        }
        Ok(self.signer().await?.verifier_key())
    }

    /// Retire the active key and start signing with a new one. Old checkpoints stay verifiable
    /// with the retired keys, which stay published.
    pub async fn rotate_audit_signing_key(&self) -> Result<String, AppError> {
        let signer = NoteSigner::generate(&self.audit.deployment_name, &mut rand::rngs::OsRng)
            .map_err(|error| AppError::InvalidInput(format!("audit deployment name: {error}")))?;
        let now = self.clock.now();
        let mut row = SigningKeyRow {
            key_id: signer.key_id().to_vec(),
            name: signer.name().to_owned(),
            public_key: public_key_of(&signer.verifier_key())?,
            sealed_seed: Vec::new(),
            created_at: now,
            retired_at: None,
        };
        row.sealed_seed = self.audit.master_key.seal(&signer.seed(), &associated_data(&row))?;
        let mut transaction = self.store.begin().await?;
        transaction.retire_signing_keys(now).await?;
        transaction.insert_signing_key(&row).await?;
        if let Some(provider) = transaction.provider_organization().await? {
            let mut event = self.event(
                &Actor::System,
                provider.id,
                "audit.signing_key.rotate",
                Resource::new("audit_signing_key", hex_id(&row.key_id)),
            );
            event.privileged = true;
            event.details.insert("verifier_key".into(), signer.verifier_key().into());
            transaction.append_audit_event(&event).await?;
        } else {
            return Err(AppError::Conflict(
                "set Rampart up first: the key rotation is recorded in the provider organization's trail"
                    .into(),
            ));
        }
        transaction.commit().await?;
        let verifier_key = signer.verifier_key();
        *self.audit.signer.write().await = Some(std::sync::Arc::new(signer));
        Ok(verifier_key)
    }

    /// Every verifier key this deployment has signed with, the active one first.
    pub async fn audit_verifier_keys(&self) -> Result<Vec<(String, bool)>, AppError> {
        let mut read = self.store.read_latest().await?;
        let keys = read.signing_keys().await?;
        read.commit().await?;
        let mut published: Vec<(String, bool)> = keys
            .iter()
            .rev()
            .map(|key| {
                // C2SP verifier key: name, key id, and the typed public key (0x01 = Ed25519).
                let typed = [[0x01].as_slice(), &key.public_key].concat();
                let text = format!("{}+{}+{}", key.name, hex_id(&key.key_id), BASE64.encode(typed));
                let verifier = NoteVerifier::from_verifier_key(&text)
                    .map_err(|error| AppError::Internal(format!("stored public key: {error}")))?;
                Ok((verifier.verifier_key(), key.retired_at.is_none()))
            })
            .collect::<Result<_, AppError>>()?;
        published.sort_by_key(|(_, active)| !active);
        Ok(published)
    }
}

/// The raw Ed25519 public key inside a verifier key string.
fn public_key_of(verifier_key: &str) -> Result<Vec<u8>, AppError> {
    // `<name>+<key id>+<base64>`: the base64 part may itself contain `+`.
    let typed = verifier_key
        .splitn(3, '+')
        .nth(2)
        .and_then(|encoded| BASE64.decode(encoded).ok())
        .ok_or_else(|| AppError::Internal("malformed verifier key".into()))?;
    match typed.split_first() {
        Some((0x01, public)) if public.len() == 32 => Ok(public.to_vec()),
        _ => Err(AppError::Internal("verifier key is not an Ed25519 key".into())),
    }
}

fn hex_id(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::{MasterKey, public_key_of};

    #[test]
    fn the_public_key_is_found_even_when_its_base64_holds_a_plus() {
        let with_plus = (0..1_000)
            .map(|_| audit::NoteSigner::generate("rampart", &mut rand::rngs::OsRng).unwrap())
            .find(|signer| signer.verifier_key().matches('+').count() > 2)
            .unwrap();
        let public = public_key_of(&with_plus.verifier_key()).unwrap();
        assert_eq!(public.len(), 32);
        let seed_public = ed25519_public(&with_plus);
        assert_eq!(public, seed_public);
    }

    fn ed25519_public(signer: &audit::NoteSigner) -> Vec<u8> {
        use base64::Engine as _;
        let key = signer.verifier_key();
        let encoded = key.splitn(3, '+').nth(2).unwrap();
        base64::engine::general_purpose::STANDARD.decode(encoded).unwrap()[1..].to_vec()
    }

    #[test]
    fn sealing_needs_the_same_key_and_associated_data() {
        let key = MasterKey::generate();
        let sealed = key.seal(b"seed", b"id").unwrap();
        assert_eq!(key.open(&sealed, b"id").unwrap(), b"seed");
        assert!(key.open(&sealed, b"other").is_err());
        assert!(MasterKey::generate().open(&sealed, b"id").is_err());
        let mut flipped = sealed.clone();
        flipped[14] ^= 1;
        assert!(key.open(&flipped, b"id").is_err());
    }
}
