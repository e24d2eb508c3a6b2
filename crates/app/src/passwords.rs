//! Password hashing with argon2id on a bounded pool of blocking threads, so that a flood of
//! logins queues instead of starving the rest of the server.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::AppError;

/// Check a new password against the policy (`iam::password`): length after NFKC, the
/// blocklist of common and breached passwords, the account's own email, name and
/// organisation, and a zxcvbn score of at least 3. No composition rules (NIST SP 800-63B).
pub fn check_new_password(
    password: &str,
    email: &str,
    name: Option<&str>,
    organisation: Option<&str>,
) -> Result<(), AppError> {
    check_new_password_with(password, email, name, organisation, false)
}

/// As [`check_new_password`]; when the organisation enforces a second factor, the password
/// is not the only factor and may be as short as 8 characters.
pub(crate) fn check_new_password_with(
    password: &str,
    email: &str,
    name: Option<&str>,
    organisation: Option<&str>,
    mfa_enforced: bool,
) -> Result<(), AppError> {
    let context = iam::password::PasswordContext { email: Some(email), name, organisation };
    iam::password::PasswordPolicy::for_organisation(mfa_enforced)
        .check(password, &context)
        .map_err(|error| AppError::InvalidInput(error.to_string()))
}

/// argon2id with configurable cost; OWASP's minimum (m = 19 MiB, t = 2, p = 1) by default.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher").field("params", &self.params).finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// `memory_kib`, `iterations`, `parallelism` as argon2 defines them; at most
    /// `max_concurrent` hashes run at once.
    pub fn new(
        memory_kib: u32,
        iterations: u32,
        parallelism: u32,
        max_concurrent: usize,
    ) -> Result<Self, AppError> {
        let params = Params::new(memory_kib, iterations, parallelism, None).map_err(|error| {
            AppError::InvalidInput(format!("invalid argon2 parameters: {error}"))
        })?;
        Ok(Self { params, permits: Arc::new(Semaphore::new(max_concurrent.max(1))) })
    }

    pub fn owasp_default() -> Self {
        Self {
            params: Params::new(19 * 1024, 2, 1, None).unwrap_or_default(),
            permits: Arc::new(Semaphore::new(2)),
        }
    }

    /// The PHC string of `password`.
    pub async fn hash(&self, password: &str) -> Result<String, AppError> {
        let _permit = self.permits.acquire().await.map_err(|_| closed())?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone());
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
            argon2
                .hash_password(password.as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|error| AppError::Internal(format!("argon2: {error}")))
        })
        .await
        .map_err(|error| AppError::Internal(format!("password hashing task: {error}")))?
    }

    /// Whether a stored PHC string was made with other parameters than the current ones, so
    /// that it should be recomputed at the next successful login.
    pub fn needs_rehash(&self, phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else { return true };
        let current = (self.params.m_cost(), self.params.t_cost(), self.params.p_cost());
        let stored = Params::try_from(&parsed)
            .map(|params| (params.m_cost(), params.t_cost(), params.p_cost()))
            .ok();
        parsed.algorithm.as_str() != "argon2id" || stored != Some(current)
    }

    /// Whether `password` matches the stored PHC string (parameters are read from it).
    pub async fn verify(&self, password: &str, phc: &str) -> Result<bool, AppError> {
        let _permit = self.permits.acquire().await.map_err(|_| closed())?;
        let (password, phc) = (password.to_owned(), phc.to_owned());
        tokio::task::spawn_blocking(move || {
            let parsed = PasswordHash::new(&phc)
                .map_err(|error| AppError::Internal(format!("stored password hash: {error}")))?;
            Ok(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        })
        .await
        .map_err(|error| AppError::Internal(format!("password hashing task: {error}")))?
    }
}

fn closed() -> AppError {
    AppError::Internal("password hashing pool closed".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_refuses_short_common_and_personal_passwords() {
        let refused = |password: &str| {
            check_new_password(
                password,
                "ada@example.com",
                Some("Ada Lovelace"),
                Some("Analytical"),
            )
            .is_err()
        };
        assert!(refused("short"));
        assert!(refused("passwordpassword"));
        assert!(refused("my ada@example.com secret phrase"));
        assert!(refused("Analytical-Engines-of-2026"));
        assert!(!refused("correct horse battery staple"));
    }

    #[tokio::test]
    async fn hashes_are_argon2id_phc_strings_that_verify() {
        let hasher = PasswordHasher::new(1024, 1, 1, 1).unwrap();
        let phc = hasher.hash("correct horse battery staple").await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{phc}");
        assert!(hasher.verify("correct horse battery staple", &phc).await.unwrap());
        assert!(!hasher.verify("correct horse battery stapler", &phc).await.unwrap());
    }
}
