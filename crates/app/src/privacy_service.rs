//! Information protection as a service: per-organisation pseudonymisation domains with
//! versioned root keys (generated here, sealed under the master key, never returned),
//! pseudonyms, format-preserving encryption and reversible tokens over a domain's newest key,
//! re-identification of tokens (privileged, recent authentication, audited with the count
//! only), and PII detection over text and column samples.

use base::{OrganizationId, RequestContext, Resource};
use privacy::encoding::Encoding;
use privacy::fpe::{Alphabet, CardOptions, Ff1Cipher};
use privacy::key::{KeyVersion, RootKey};
use privacy::pii::{ColumnPolicy, ColumnVerdict, Finding, Scanner, ScannerConfig};
use privacy::pseudonym::{PseudonymFormat, Pseudonymizer};
use privacy::token::{TokenError, Tokenizer, token_version};
use rand::RngCore as _;
use store::{PseudonymDomainRecord, PseudonymKeyRecord, PseudonymRepository as _};
use time::OffsetDateTime;

use crate::audit_trail::AuditTrail as _;
use crate::principal::Principal;
use crate::{App, AppError};

/// The most values one pseudonymisation or re-identification request may carry.
pub const MAX_PSEUDONYM_BATCH: usize = 1_000;
/// The longest value accepted for pseudonymisation, in bytes.
pub const MAX_PSEUDONYM_VALUE_BYTES: usize = 4_096;
/// The largest text one PII scan accepts, in bytes.
pub const MAX_PII_SCAN_BYTES: usize = 256 * 1024;
/// The most sample values one column classification accepts.
pub const MAX_COLUMN_SAMPLES: usize = 1_000;
/// The longest domain name.
pub const MAX_DOMAIN_NAME: usize = 64;

/// A pseudonymisation domain as shown: its name and key versions, never key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PseudonymDomainView {
    pub name: String,
    pub created_at: OffsetDateTime,
    /// The version new outputs are made with (the newest).
    pub current_version: u32,
    /// Every version with its creation time, oldest first.
    pub key_versions: Vec<(u32, OffsetDateTime)>,
}

/// How values are turned into pseudonyms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PseudonymMethod {
    /// One-way keyed HMAC-SHA-256, prefixed with the key version (`v1:…`).
    Hmac { encoding: Encoding, length: Option<usize> },
    /// FF1 format-preserving encryption in the given shape.
    Ff1(Ff1Format),
    /// Reversible AES-SIV tokens (`tok1_…`), read back by [`App::reidentify`].
    Token,
}

/// The shape FF1 keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ff1Format {
    Digits,
    Alphanumeric,
    Phone { keep_leading_digits: usize },
    Card(CardOptions),
    Iban { fix_check_digits: bool },
}

impl PseudonymMethod {
    fn name(self) -> &'static str {
        match self {
            Self::Hmac { .. } => "hmac",
            Self::Ff1(_) => "ff1",
            Self::Token => "token",
        }
    }
}

/// The outputs of a pseudonymisation, in the order of the values, and the key version used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pseudonymized {
    pub key_version: u32,
    pub outputs: Vec<String>,
}

/// Check a domain name: 1 to 64 characters of lowercase ASCII letters, digits, `_`, `-`, `.`,
/// starting with a letter or digit.
pub fn check_domain_name(name: &str) -> Result<(), AppError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_DOMAIN_NAME
        && name
            .bytes()
            .next()
            .is_some_and(|first| first.is_ascii_lowercase() || first.is_ascii_digit())
        && name.bytes().all(|byte| {
            byte.is_ascii_lowercase() || byte.is_ascii_digit() || matches!(byte, b'_' | b'-' | b'.')
        });
    if valid {
        Ok(())
    } else {
        Err(AppError::InvalidInput(format!(
            "name: a domain name is 1 to {MAX_DOMAIN_NAME} lowercase letters, digits, '_', '-' \
             or '.', starting with a letter or digit"
        )))
    }
}

/// What the sealed key is bound to: the domain and the version.
fn key_associated_data(domain_id: uuid::Uuid, version: u32) -> Vec<u8> {
    [b"rampart-pseudonym-key/1".as_slice(), domain_id.as_bytes(), &version.to_be_bytes()].concat()
}

fn new_root_key() -> Result<[u8; 32], AppError> {
    for _ in 0..4 {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        if RootKey::from_bytes(&bytes).is_ok() {
            return Ok(bytes);
        }
    }
    Err(AppError::Internal("the random source gave unusable key bytes".into()))
}

fn view_of(domain: PseudonymDomainRecord, keys: &[PseudonymKeyRecord]) -> PseudonymDomainView {
    PseudonymDomainView {
        name: domain.name,
        created_at: domain.created_at,
        current_version: keys.last().map_or(0, |key| key.version),
        key_versions: keys.iter().map(|key| (key.version, key.created_at)).collect(),
    }
}

fn check_batch(what: &str, n: usize) -> Result<(), AppError> {
    if n == 0 {
        return Err(AppError::InvalidInput(format!("{what}: at least one is needed")));
    }
    if n > MAX_PSEUDONYM_BATCH {
        return Err(AppError::InvalidInput(format!(
            "{what}: at most {MAX_PSEUDONYM_BATCH} per request, got {n}"
        )));
    }
    Ok(())
}

impl App {
    fn unseal_root_key(&self, key: &PseudonymKeyRecord) -> Result<RootKey, AppError> {
        let bytes = self
            .audit
            .master_key
            .open(&key.sealed_key, &key_associated_data(key.domain_id, key.version))?;
        RootKey::from_bytes(&bytes)
            .map_err(|error| AppError::Internal(format!("stored pseudonym key: {error}")))
    }

    fn sealed_key(
        &self,
        domain_id: uuid::Uuid,
        version: u32,
        now: OffsetDateTime,
    ) -> Result<PseudonymKeyRecord, AppError> {
        let bytes = new_root_key()?;
        let sealed_key =
            self.audit.master_key.seal(&bytes, &key_associated_data(domain_id, version))?;
        Ok(PseudonymKeyRecord { domain_id, version, sealed_key, created_at: now })
    }

    /// Create a pseudonymisation domain with a first, freshly generated key (version 1).
    pub async fn create_pseudonym_domain(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        name: &str,
        context: &RequestContext,
    ) -> Result<PseudonymDomainView, AppError> {
        self.authorize_in(principal, organization_id, "privacy:domains:write", context).await?;
        check_domain_name(name)?;
        let now = self.clock.now();
        let domain = PseudonymDomainRecord {
            id: crate::secrets::new_id(now),
            organization_id,
            name: name.to_owned(),
            created_at: now,
        };
        let key = self.sealed_key(domain.id, 1, now)?;
        let mut transaction = self.store.begin().await?;
        transaction.insert_pseudonym_domain(&domain).await?;
        transaction.insert_pseudonym_key(&key).await?;
        let mut event = self.success_event(
            principal,
            organization_id,
            "privacy.domain.create",
            Resource::new("pseudonym_domain", &domain.name),
            context,
        );
        event.details.insert("key_version".into(), 1.into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(view_of(domain, &[key]))
    }

    /// The organisation's domains by name, with their key versions.
    pub async fn list_pseudonym_domains(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        context: &RequestContext,
    ) -> Result<Vec<PseudonymDomainView>, AppError> {
        self.authorize_in(principal, organization_id, "privacy:domains:read", context).await?;
        let mut read = self.store.read().await?;
        let mut views = Vec::new();
        for domain in read.list_pseudonym_domains(organization_id).await? {
            let keys = read.list_pseudonym_keys(domain.id).await?;
            views.push(view_of(domain, &keys));
        }
        read.commit().await?;
        Ok(views)
    }

    /// Start a new key version for a domain: new outputs use it; older versions stay so that
    /// their tokens can still be re-identified.
    pub async fn rotate_pseudonym_key(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        name: &str,
        context: &RequestContext,
    ) -> Result<PseudonymDomainView, AppError> {
        self.authorize_in(principal, organization_id, "privacy:domains:write", context).await?;
        let now = self.clock.now();
        let mut transaction = self.store.begin().await?;
        let domain = transaction
            .get_pseudonym_domain(organization_id, name)
            .await?
            .ok_or(AppError::NotFound("pseudonymisation domain"))?;
        let mut keys = transaction.list_pseudonym_keys(domain.id).await?;
        let version = keys.last().map_or(1, |key| key.version.saturating_add(1));
        let key = self.sealed_key(domain.id, version, now)?;
        transaction.insert_pseudonym_key(&key).await?;
        let mut event = self.success_event(
            principal,
            organization_id,
            "privacy.domain.rotate_key",
            Resource::new("pseudonym_domain", &domain.name),
            context,
        );
        event.details.insert("key_version".into(), version.into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        keys.push(key);
        Ok(view_of(domain, &keys))
    }

    /// The domain and its keys, oldest first (never empty).
    async fn domain_keys(
        &self,
        organization_id: OrganizationId,
        name: &str,
    ) -> Result<(PseudonymDomainRecord, Vec<PseudonymKeyRecord>), AppError> {
        let mut read = self.store.read().await?;
        let domain = read
            .get_pseudonym_domain(organization_id, name)
            .await?
            .ok_or(AppError::NotFound("pseudonymisation domain"))?;
        let keys = read.list_pseudonym_keys(domain.id).await?;
        read.commit().await?;
        if keys.is_empty() {
            return Err(AppError::Internal("a pseudonymisation domain has no key".into()));
        }
        Ok((domain, keys))
    }

    /// Turn values into pseudonyms, FF1 ciphertexts or tokens with the domain's newest key.
    /// All or nothing: a value that cannot be handled fails the request, named by its index.
    /// The audit event records the domain, method, key version and count, never values.
    pub async fn pseudonymize(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        domain_name: &str,
        method: PseudonymMethod,
        values: &[String],
        context: &RequestContext,
    ) -> Result<Pseudonymized, AppError> {
        self.authorize_in(principal, organization_id, "privacy:pseudonyms:write", context).await?;
        check_batch("values", values.len())?;
        if let Some(index) = values.iter().position(|value| value.len() > MAX_PSEUDONYM_VALUE_BYTES)
        {
            return Err(AppError::InvalidInput(format!(
                "values[{index}]: longer than {MAX_PSEUDONYM_VALUE_BYTES} bytes"
            )));
        }
        let (domain, keys) = self.domain_keys(organization_id, domain_name).await?;
        let Some(newest) = keys.last() else {
            return Err(AppError::Internal("a pseudonymisation domain has no key".into()));
        };
        let root = self.unseal_root_key(newest)?;
        let version = KeyVersion(newest.version);
        let outputs = transform(&root, version, &domain.name, method, values)?;
        let mut transaction = self.store.begin().await?;
        let mut event = self.success_event(
            principal,
            organization_id,
            "privacy.pseudonymize",
            Resource::new("pseudonym_domain", &domain.name),
            context,
        );
        event.details.insert("method".into(), method.name().into());
        event.details.insert("key_version".into(), newest.version.into());
        event.details.insert("count".into(), values.len().into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(Pseudonymized { key_version: newest.version, outputs })
    }

    /// Read tokens back to their values, with the key version each token names. Privileged:
    /// a session must have authenticated recently, and the audit event (marked privileged)
    /// records the domain and the count, never the tokens or values.
    pub async fn reidentify(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        domain_name: &str,
        tokens: &[String],
        context: &RequestContext,
    ) -> Result<Vec<String>, AppError> {
        self.authorize_in(principal, organization_id, "privacy:tokens:reidentify", context).await?;
        self.require_recent_authentication(principal).await?;
        check_batch("tokens", tokens.len())?;
        let (domain, keys) = self.domain_keys(organization_id, domain_name).await?;
        let mut tokenizers: Vec<(u32, Tokenizer)> = Vec::new();
        let mut values = Vec::with_capacity(tokens.len());
        for (index, token) in tokens.iter().enumerate() {
            let version = token_version(token).map_err(|error| {
                AppError::InvalidInput(format!("tokens[{index}]: {}", token_problem(&error)))
            })?;
            let position = match tokenizers.iter().position(|(known, _)| *known == version.0) {
                Some(position) => position,
                None => {
                    let key =
                        keys.iter().find(|key| key.version == version.0).ok_or_else(|| {
                            AppError::InvalidInput(format!(
                                "tokens[{index}]: the domain has no key version {}",
                                version.0
                            ))
                        })?;
                    let root = self.unseal_root_key(key)?;
                    tokenizers.push((version.0, Tokenizer::new(&root, version)));
                    tokenizers.len() - 1
                }
            };
            let Some((_, tokenizer)) = tokenizers.get(position) else {
                return Err(AppError::Internal("tokenizer cache".into()));
            };
            let value = tokenizer.detokenize(&domain.name, token).map_err(|error| {
                AppError::InvalidInput(format!("tokens[{index}]: {}", token_problem(&error)))
            })?;
            values.push(value);
        }
        let mut transaction = self.store.begin().await?;
        let mut event = self.success_event(
            principal,
            organization_id,
            "privacy.reidentify",
            Resource::new("pseudonym_domain", &domain.name),
            context,
        );
        event.privileged = true;
        event.details.insert("count".into(), tokens.len().into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(values)
    }

    /// Personal data found in a text: kinds, byte spans and confidence.
    pub async fn scan_pii(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        text: &str,
        context: &RequestContext,
    ) -> Result<Vec<Finding>, AppError> {
        self.authorize_in(principal, organization_id, "privacy:pii:scan", context).await?;
        if text.len() > MAX_PII_SCAN_BYTES {
            return Err(AppError::InvalidInput(format!(
                "text: at most {MAX_PII_SCAN_BYTES} bytes per scan, got {}",
                text.len()
            )));
        }
        Ok(privacy::pii::scan_text(text))
    }

    /// Whether a column holds personal data, from its name and sample values; the verdict
    /// carries kinds and counts, never values.
    pub async fn classify_pii_column(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        column_name: Option<&str>,
        samples: &[String],
        context: &RequestContext,
    ) -> Result<ColumnVerdict, AppError> {
        self.authorize_in(principal, organization_id, "privacy:pii:scan", context).await?;
        if samples.len() > MAX_COLUMN_SAMPLES {
            return Err(AppError::InvalidInput(format!(
                "samples: at most {MAX_COLUMN_SAMPLES}, got {}",
                samples.len()
            )));
        }
        let total: usize =
            samples.iter().map(String::len).sum::<usize>() + column_name.map_or(0, str::len);
        if total > MAX_PII_SCAN_BYTES {
            return Err(AppError::InvalidInput(format!(
                "samples: at most {MAX_PII_SCAN_BYTES} bytes in all, got {total}"
            )));
        }
        let scanner = Scanner::new(ScannerConfig::default())
            .map_err(|error| AppError::Internal(format!("PII scanner: {error}")))?;
        let samples: Vec<&str> = samples.iter().map(String::as_str).collect();
        Ok(scanner.classify_column(column_name, &samples, &ColumnPolicy::default()))
    }
}

/// A token error in words that never repeat the token.
fn token_problem(error: &TokenError) -> String {
    match error {
        TokenError::Malformed(_) => "not a token of this service".into(),
        TokenError::Unauthentic => "the token does not authenticate in this domain".into(),
        other => other.to_string(),
    }
}

fn transform(
    root: &RootKey,
    version: KeyVersion,
    domain: &str,
    method: PseudonymMethod,
    values: &[String],
) -> Result<Vec<String>, AppError> {
    match method {
        PseudonymMethod::Hmac { encoding, length } => {
            let format = PseudonymFormat { encoding, length, with_version: true };
            let pseudonymizer = Pseudonymizer::new(root, version, domain, format)
                .map_err(|error| AppError::InvalidInput(error.to_string()))?;
            Ok(values.iter().map(|value| pseudonymizer.pseudonymize(value.as_bytes())).collect())
        }
        PseudonymMethod::Ff1(format) => {
            let cipher = Ff1Cipher::new(root, domain);
            values
                .iter()
                .enumerate()
                .map(|(index, value)| {
                    let tweak: &[u8] = &[];
                    match format {
                        Ff1Format::Digits => cipher.encrypt_shaped(Alphabet::Digits, tweak, value),
                        Ff1Format::Alphanumeric => {
                            cipher.encrypt_shaped(Alphabet::Alphanumeric, tweak, value)
                        }
                        Ff1Format::Phone { keep_leading_digits } => {
                            cipher.encrypt_phone(tweak, value, keep_leading_digits)
                        }
                        Ff1Format::Card(options) => cipher.encrypt_card(tweak, value, options),
                        Ff1Format::Iban { fix_check_digits } => {
                            cipher.encrypt_iban(tweak, value, fix_check_digits)
                        }
                    }
                    .map_err(|error| AppError::InvalidInput(format!("values[{index}]: {error}")))
                })
                .collect()
        }
        PseudonymMethod::Token => {
            let tokenizer = Tokenizer::new(root, version);
            values
                .iter()
                .enumerate()
                .map(|(index, value)| {
                    tokenizer.tokenize(domain, value).map_err(|error| {
                        AppError::InvalidInput(format!(
                            "values[{index}]: {}",
                            token_problem(&error)
                        ))
                    })
                })
                .collect()
        }
    }
}
