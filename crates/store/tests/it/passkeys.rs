//! Passkeys and the state of their ceremonies, on every backend.

use store::{CeremonyPurpose, PasskeyRecord, PasskeyRepository, StoreError, UserRepository};
use time::Duration;

use crate::backends::with_each_backend;
use crate::identity::{T0, audited, setup};

fn passkey(user_id: base::UserId, n: u8) -> PasskeyRecord {
    PasskeyRecord {
        id: uuid::Uuid::from_bytes([n; 16]),
        user_id,
        credential_id: vec![n; 32],
        passkey: format!("{{\"cred\":{n}}}"),
        name: format!("key {n}"),
        transports: (0..n % 3).map(|i| ["internal", "hybrid"][usize::from(i)].to_owned()).collect(),
        created_at: T0,
        last_used_at: None,
    }
}

#[tokio::test]
async fn passkeys_are_stored_found_by_credential_renamed_used_and_deleted() {
    with_each_backend(|store| async move {
        let mut transaction = store.begin().await.unwrap();
        let user = setup(&mut transaction).await;
        transaction.insert_passkey(&passkey(user.id, 1)).await.unwrap();
        transaction.insert_passkey(&passkey(user.id, 2)).await.unwrap();
        audited(&mut transaction, user.organization_id).await;
        transaction.commit().await.unwrap();

        // A credential id belongs to one passkey, whoever registers it again.
        let mut transaction = store.begin().await.unwrap();
        let mut duplicate = passkey(user.id, 3);
        duplicate.credential_id = vec![1; 32];
        let again = transaction.insert_passkey(&duplicate).await;
        assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
        transaction.rollback().await.unwrap();

        let mut transaction = store.begin().await.unwrap();
        assert_eq!(
            transaction.list_passkeys(user.id).await.unwrap(),
            vec![passkey(user.id, 1), passkey(user.id, 2)]
        );
        let found = transaction.find_passkey_by_credential(&[2; 32]).await.unwrap().unwrap();
        assert_eq!(found, passkey(user.id, 2));
        assert_eq!(transaction.find_passkey_by_credential(&[7; 32]).await.unwrap(), None);
        transaction.rename_passkey(user.id, found.id, "laptop").await.unwrap();
        let later = T0 + Duration::minutes(3);
        transaction.record_passkey_use(found.id, "{\"cred\":22}", later).await.unwrap();
        let used = transaction.find_passkey_by_credential(&[2; 32]).await.unwrap().unwrap();
        assert_eq!(
            (used.name.as_str(), used.passkey.as_str(), used.last_used_at),
            ("laptop", "{\"cred\":22}", Some(later))
        );
        let stranger = base::UserId::new(9, [9; 10]);
        assert!(matches!(
            transaction.delete_passkey(stranger, found.id).await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            transaction.rename_passkey(stranger, found.id, "mine").await,
            Err(StoreError::NotFound(_))
        ));
        transaction.delete_passkey(user.id, found.id).await.unwrap();
        assert_eq!(transaction.list_passkeys(user.id).await.unwrap().len(), 1);
        assert_eq!(transaction.delete_user_passkeys(user.id).await.unwrap(), 1);
        assert!(transaction.list_passkeys(user.id).await.unwrap().is_empty());
        transaction.clear_user_password(user.id).await.unwrap();
        assert_eq!(transaction.get_user(user.id).await.unwrap().unwrap().password_hash, None);
        audited(&mut transaction, user.organization_id).await;
        transaction.commit().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_ceremony_is_taken_once_for_its_purpose_before_it_expires() {
    with_each_backend(|store| async move {
        let mut transaction = store.begin().await.unwrap();
        let user = setup(&mut transaction).await;
        transaction.commit().await.unwrap();

        let mut transaction = store.begin().await.unwrap();
        let expires = T0 + Duration::minutes(5);
        let register = CeremonyPurpose::Register;
        transaction
            .insert_ceremony(&[1; 32], Some(user.id), register, "{}", T0, expires)
            .await
            .unwrap();
        let taken = transaction.take_ceremony(&[1; 32], register, T0).await.unwrap().unwrap();
        assert_eq!((taken.user_id, taken.state.as_str()), (Some(user.id), "{}"));
        assert_eq!(transaction.take_ceremony(&[1; 32], register, T0).await.unwrap(), None);

        let login = CeremonyPurpose::Login;
        transaction.insert_ceremony(&[2; 32], None, login, "{}", T0, expires).await.unwrap();
        assert_eq!(
            transaction.take_ceremony(&[2; 32], CeremonyPurpose::StepUp, T0).await.unwrap(),
            None,
            "another purpose"
        );
        assert_eq!(
            transaction.take_ceremony(&[2; 32], login, T0).await.unwrap(),
            None,
            "consumed by the refused attempt"
        );
        transaction.insert_ceremony(&[3; 32], None, login, "{}", T0, expires).await.unwrap();
        assert_eq!(transaction.take_ceremony(&[3; 32], login, expires).await.unwrap(), None);

        // An invitation's registration has no account yet.
        let invitation = CeremonyPurpose::Invitation;
        transaction.insert_ceremony(&[6; 32], None, invitation, "{}", T0, expires).await.unwrap();
        let taken = transaction.take_ceremony(&[6; 32], invitation, T0).await.unwrap().unwrap();
        assert_eq!(taken.user_id, None);

        // Starting another ceremony sweeps the expired ones.
        transaction.insert_ceremony(&[4; 32], None, login, "{}", T0, expires).await.unwrap();
        let later = expires + Duration::seconds(1);
        transaction.insert_ceremony(&[5; 32], None, login, "{}", later, later).await.unwrap();
        assert_eq!(transaction.take_ceremony(&[4; 32], login, T0).await.unwrap(), None);
        transaction.commit().await.unwrap();
    })
    .await;
}
