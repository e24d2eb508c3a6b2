//! Authorisation settings on every backend: what is stored comes back as it was, changes
//! replace, deletions name what is missing, and a principal's deletion takes its policies.

use base::{ApplicationId, GroupId};
use store::{
    AuthorizationRepository, CustomActionRecord, GroupMember, GroupRecord, PermissionSetRecord,
    PolicyHolder, PolicyRecord, PrincipalRepository, RawPolicyRecord, StoreError, UserRole,
};
use time::Duration;
use uuid::Uuid;

use crate::backends::with_each_backend;
use crate::identity::{T0, audited, setup};

#[tokio::test]
async fn settings_round_trip_and_change() {
    with_each_backend(|store| async move {
        let mut transaction = store.begin().await.unwrap();
        let user = setup(&mut transaction).await;
        let organization_id = user.organization_id;
        let group = GroupRecord {
            id: GroupId::new(3, [3; 10]),
            organization_id,
            name: "ops".into(),
            created_at: T0,
        };
        transaction.insert_group(&group).await.unwrap();
        transaction.add_group_member(group.id, GroupMember::User(user.id), T0).await.unwrap();
        let policy = PolicyRecord {
            id: Uuid::from_bytes([4; 16]),
            organization_id,
            holder: PolicyHolder::Group(*group.id.as_uuid()),
            description: "operators".into(),
            rules: r#"[{"permission_sets":["ProjectManager"],"scope":"organization"}]"#.into(),
            created_by: Some("user:someone".into()),
            created_at: T0,
            updated_at: T0,
        };
        transaction.insert_policy(&policy).await.unwrap();
        let direct = PolicyRecord {
            id: Uuid::from_bytes([5; 16]),
            holder: PolicyHolder::User(*user.id.as_uuid()),
            ..policy.clone()
        };
        transaction.insert_policy(&direct).await.unwrap();
        let raw = RawPolicyRecord {
            id: Uuid::from_bytes([6; 16]),
            organization_id,
            description: String::new(),
            text: "permit(principal, action, resource);".into(),
            created_by: None,
            created_at: T0,
            updated_at: T0,
        };
        transaction.insert_raw_policy(&raw).await.unwrap();
        let action = CustomActionRecord {
            organization_id,
            name: "instances:servers:read".into(),
            description: "read servers".into(),
            privileged: false,
            created_at: T0,
        };
        transaction.insert_custom_action(&action).await.unwrap();
        let set = PermissionSetRecord {
            organization_id,
            name: "Viewers".into(),
            description: String::new(),
            actions: r#"["instances:servers:read"]"#.into(),
            created_at: T0,
            updated_at: T0,
        };
        transaction.put_permission_set(&set).await.unwrap();
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();

        let mut transaction = store.begin().await.unwrap();
        let settings = transaction.authorization_settings(organization_id).await.unwrap();
        assert_eq!(settings.policies, vec![policy.clone(), direct.clone()]);
        assert_eq!(settings.raw_policies, vec![raw.clone()]);
        assert_eq!(settings.custom_actions, vec![action.clone()]);
        assert_eq!(settings.permission_sets, vec![set.clone()]);
        assert_eq!(
            transaction.group_memberships(organization_id).await.unwrap(),
            vec![(*group.id.as_uuid(), *user.id.as_uuid())]
        );
        assert_eq!(
            transaction.active_members(organization_id).await.unwrap(),
            vec![(GroupMember::User(user.id), UserRole::Member)]
        );
        assert!(transaction.project_ids(organization_id).await.unwrap().is_empty());

        // Changes replace; deleting what is not there says what is missing.
        let changed = PolicyRecord {
            rules: "[]".into(),
            updated_at: T0 + Duration::hours(1),
            ..policy.clone()
        };
        transaction.update_policy(&changed).await.unwrap();
        assert_eq!(
            transaction.get_policy(organization_id, policy.id).await.unwrap(),
            Some(changed)
        );
        let wider = PermissionSetRecord { actions: r#"["a:b:c"]"#.into(), ..set.clone() };
        transaction.put_permission_set(&wider).await.unwrap();
        let missing = transaction.delete_raw_policy(organization_id, Uuid::nil()).await;
        assert!(matches!(missing, Err(StoreError::NotFound(_))), "{missing:?}");
        assert_eq!(
            transaction.delete_policies_of(PolicyHolder::User(*user.id.as_uuid())).await.unwrap(),
            1
        );
        assert_eq!(
            transaction
                .delete_policies_of(PolicyHolder::Application(
                    *ApplicationId::new(9, [9; 10]).as_uuid()
                ))
                .await
                .unwrap(),
            0
        );
        transaction.delete_custom_action(organization_id, &action.name).await.unwrap();
        transaction.delete_permission_set(organization_id, &set.name).await.unwrap();
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();

        let mut read = store.read().await.unwrap();
        let settings = read.authorization_settings(organization_id).await.unwrap();
        assert_eq!(settings.policies.len(), 1);
        assert!(settings.custom_actions.is_empty() && settings.permission_sets.is_empty());
        read.commit().await.unwrap();
    })
    .await;
}
