//! Pseudonymisation domains on every backend: names are unique per organisation, key versions
//! are unique per domain and come back oldest first with their sealed bytes as stored.

use base::OrganizationId;
use store::{PseudonymDomainRecord, PseudonymKeyRecord, PseudonymRepository, StoreError};
use time::Duration;
use uuid::Uuid;

use crate::backends::with_each_backend;
use crate::identity::{T0, audited, setup};

#[tokio::test]
async fn domains_and_key_versions_round_trip() {
    with_each_backend(|store| async move {
        let mut transaction = store.begin().await.unwrap();
        let user = setup(&mut transaction).await;
        let organization_id = user.organization_id;
        let customers = PseudonymDomainRecord {
            id: Uuid::from_bytes([1; 16]),
            organization_id,
            name: "customers".into(),
            created_at: T0,
        };
        let billing = PseudonymDomainRecord {
            id: Uuid::from_bytes([2; 16]),
            name: "billing".into(),
            ..customers.clone()
        };
        transaction.insert_pseudonym_domain(&customers).await.unwrap();
        transaction.insert_pseudonym_domain(&billing).await.unwrap();
        // Inserted newest first, read back oldest first.
        let second = PseudonymKeyRecord {
            domain_id: customers.id,
            version: 2,
            sealed_key: vec![2; 60],
            created_at: T0 + Duration::days(30),
        };
        let first = PseudonymKeyRecord {
            version: 1,
            sealed_key: vec![1, 0, 255],
            created_at: T0,
            ..second.clone()
        };
        transaction.insert_pseudonym_key(&second).await.unwrap();
        transaction.insert_pseudonym_key(&first).await.unwrap();
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();

        let mut transaction = store.begin().await.unwrap();
        let again = PseudonymDomainRecord { id: Uuid::from_bytes([3; 16]), ..customers.clone() };
        let clash = transaction.insert_pseudonym_domain(&again).await;
        assert!(matches!(clash, Err(StoreError::Conflict(_))), "{clash:?}");
        drop(transaction);

        let mut transaction = store.begin().await.unwrap();
        let clash = transaction.insert_pseudonym_key(&first).await;
        assert!(matches!(clash, Err(StoreError::Conflict(_))), "{clash:?}");
        drop(transaction);

        let mut read = store.read().await.unwrap();
        assert_eq!(
            read.list_pseudonym_domains(organization_id).await.unwrap(),
            vec![billing.clone(), customers.clone()]
        );
        assert_eq!(
            read.get_pseudonym_domain(organization_id, "customers").await.unwrap(),
            Some(customers.clone())
        );
        assert_eq!(read.get_pseudonym_domain(organization_id, "Customers").await.unwrap(), None);
        let stranger = OrganizationId::new(9, [9; 10]);
        assert_eq!(read.get_pseudonym_domain(stranger, "customers").await.unwrap(), None);
        assert!(read.list_pseudonym_domains(stranger).await.unwrap().is_empty());
        assert_eq!(read.list_pseudonym_keys(customers.id).await.unwrap(), vec![first, second]);
        assert!(read.list_pseudonym_keys(billing.id).await.unwrap().is_empty());
        read.commit().await.unwrap();
    })
    .await;
}
