//! Guest memberships and guest invitations, on every backend.

use base::{Name, Organization, OrganizationId, OrganizationKind, UserId};
use store::{
    GuestInvitationRecord, GuestMembershipRecord, GuestRepository, OrganizationRepository,
    UserRecord, UserRepository, UserRole, UserStatus,
};
use time::Duration;

use crate::backends::with_each_backend;
use crate::identity::{T0, audited, setup};

/// A second organisation with its owner, who invites the first organisation's user.
async fn host(transaction: &mut store::Transaction) -> (OrganizationId, UserId) {
    let organization = Organization {
        id: OrganizationId::new(3, [3; 10]),
        name: Name::parse("Host").unwrap(),
        kind: OrganizationKind::Customer,
        mfa_required: false,
        created_at: T0,
        updated_at: T0,
    };
    transaction.insert_organization(&organization).await.unwrap();
    let owner = UserRecord {
        id: UserId::new(4, [4; 10]),
        organization_id: organization.id,
        email: "owner@host.example".into(),
        display_name: String::new(),
        status: UserStatus::Active,
        role: UserRole::Owner,
        password_hash: None,
        setup_token_hash: None,
        setup_token_expires_at: None,
        created_at: T0,
    };
    transaction.insert_user(&owner).await.unwrap();
    audited(transaction, organization.id).await;
    (organization.id, owner.id)
}

#[tokio::test]
async fn a_guest_invitation_is_accepted_once() {
    with_each_backend(|store| async move {
        let mut transaction = store.begin().await.unwrap();
        let guest = setup(&mut transaction).await;
        let (host_id, owner_id) = host(&mut transaction).await;
        let invitation = GuestInvitationRecord {
            token_hash: vec![7; 32],
            organization_id: host_id,
            user_id: guest.id,
            invited_by: owner_id,
            created_at: T0,
            expires_at: T0 + Duration::hours(72),
            membership_expires_at: Some(T0 + Duration::days(30)),
            accepted_at: None,
        };
        transaction.insert_guest_invitation(&invitation).await.unwrap();
        assert_eq!(
            transaction.find_guest_invitation(&[7; 32]).await.unwrap().as_ref(),
            Some(&invitation)
        );
        assert!(transaction.find_guest_invitation(&[8; 32]).await.unwrap().is_none());
        assert!(transaction.accept_guest_invitation(&[7; 32], T0).await.unwrap());
        assert!(!transaction.accept_guest_invitation(&[7; 32], T0).await.unwrap());
        let found = transaction.find_guest_invitation(&[7; 32]).await.unwrap().unwrap();
        assert_eq!(found.accepted_at, Some(T0));
        audited(&mut transaction, host_id).await;
        transaction.commit().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_membership_is_unique_ends_and_reopens() {
    with_each_backend(|store| async move {
        let mut transaction = store.begin().await.unwrap();
        let guest = setup(&mut transaction).await;
        let (host_id, owner_id) = host(&mut transaction).await;
        let membership = GuestMembershipRecord {
            organization_id: host_id,
            user_id: guest.id,
            invited_by: owner_id,
            created_at: T0,
            expires_at: Some(T0 + Duration::days(30)),
            revoked_at: None,
        };
        assert!(transaction.open_guest_membership(&membership).await.unwrap());
        // Still open: a second one is refused.
        assert!(!transaction.open_guest_membership(&membership).await.unwrap());
        assert_eq!(
            transaction.get_guest_membership(host_id, guest.id).await.unwrap().as_ref(),
            Some(&membership)
        );
        assert_eq!(
            transaction.list_guest_memberships(host_id).await.unwrap(),
            std::slice::from_ref(&membership)
        );
        assert_eq!(
            transaction.guest_memberships_of_user(guest.id).await.unwrap(),
            std::slice::from_ref(&membership)
        );
        assert_eq!(
            transaction.expiring_guest_memberships().await.unwrap(),
            std::slice::from_ref(&membership)
        );
        assert!(membership.is_open_at(T0));
        assert!(!membership.is_open_at(T0 + Duration::days(30)));

        let ended_at = T0 + Duration::days(1);
        assert!(transaction.end_guest_membership(host_id, guest.id, ended_at).await.unwrap());
        assert!(!transaction.end_guest_membership(host_id, guest.id, ended_at).await.unwrap());
        assert!(transaction.list_guest_memberships(host_id).await.unwrap().is_empty());
        assert!(transaction.guest_memberships_of_user(guest.id).await.unwrap().is_empty());
        assert!(transaction.expiring_guest_memberships().await.unwrap().is_empty());
        let ended = transaction.get_guest_membership(host_id, guest.id).await.unwrap().unwrap();
        assert_eq!(ended.revoked_at, Some(ended_at));
        assert!(!ended.is_open_at(T0));

        // A new acceptance reopens the same row, without expiry this time.
        let again = GuestMembershipRecord {
            created_at: T0 + Duration::days(2),
            expires_at: None,
            ..membership
        };
        assert!(transaction.open_guest_membership(&again).await.unwrap());
        assert_eq!(transaction.list_guest_memberships(host_id).await.unwrap(), [again]);
        audited(&mut transaction, host_id).await;
        transaction.commit().await.unwrap();
    })
    .await;
}
