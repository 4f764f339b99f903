//! Permission sets defined in an entitlement document, against moto's SSO Admin: created
//! with their policies and session duration, the grants naming them assigned with the
//! ARN Identity Center answered, brought back in line (and provisioned again) when the
//! definition changes, and never taken over from someone else unless the definition
//! says `adopt: true`.

use entitlements::{ManagedLedger, PermissionSetStep, Safety};

use crate::entitlements::{ADMINS, Fixture};

const INLINE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"}]}"#;

/// What moto holds for the permission set `arn`: (session duration, description,
/// managed policy ARNs, customer managed references as path+name, inline policy).
async fn held(
    fx: &Fixture,
    arn: &str,
) -> (
    String,
    Option<String>,
    Vec<String>,
    Vec<String>,
    Option<serde_json::Value>,
) {
    let at = fx.instance();
    let described = fx
        .sso
        .describe_permission_set()
        .instance_arn(&at)
        .permission_set_arn(arn)
        .send()
        .await
        .unwrap();
    let set = described.permission_set().unwrap();
    let mut managed: Vec<String> = fx
        .sso
        .list_managed_policies_in_permission_set()
        .instance_arn(&at)
        .permission_set_arn(arn)
        .send()
        .await
        .unwrap()
        .attached_managed_policies()
        .iter()
        .map(|p| p.arn().unwrap().to_owned())
        .collect();
    managed.sort();
    let customer: Vec<String> = fx
        .sso
        .list_customer_managed_policy_references_in_permission_set()
        .instance_arn(&at)
        .permission_set_arn(arn)
        .send()
        .await
        .unwrap()
        .customer_managed_policy_references()
        .iter()
        .map(|r| format!("{}{}", r.path().unwrap_or("/"), r.name()))
        .collect();
    let inline = fx
        .sso
        .get_inline_policy_for_permission_set()
        .instance_arn(&at)
        .permission_set_arn(arn)
        .send()
        .await
        .unwrap()
        .inline_policy()
        .filter(|p| !p.is_empty())
        .map(|p| serde_json::from_str(p).unwrap());
    (
        set.session_duration().unwrap().to_owned(),
        set.description().map(str::to_owned),
        managed,
        customer,
        inline,
    )
}

#[tokio::test]
async fn permission_sets_defined_in_the_document_are_created_kept_in_line_and_never_taken_over_unasked()
 {
    let mut fx = Fixture::new().await;
    let root = fx.root.clone();
    let prod = fx.ou(&root, "prod").await;
    let a = fx.account("prod-a", &prod, &[]).await;
    let b = fx.account("prod-b", &prod, &[]).await;
    let admins = fx.group("Admins", Some(ADMINS)).await;
    // Made by someone else (Control Tower, by hand): a definition of the same name must
    // not rewrite it unasked.
    let theirs = fx.permission_set("AdministratorAccess").await;

    let v1 = format!(
        r#"
permission_sets:
  - name: DataReader
    description: Reads the data accounts
    session_duration: PT4H
    managed_policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]
    customer_managed_policies: [{{ name: DataBoundary }}]
    inline_policy: '{INLINE}'
  - name: AdministratorAccess
    managed_policies: [arn:aws:iam::aws:policy/AdministratorAccess]
grants:
  - group: {{ okta_id: {ADMINS} }}
    permission_sets: [DataReader, AdministratorAccess]
    scope: {{ ous: [{prod}] }}
"#
    );
    let plan = fx.plan(&v1, &Safety::default()).await;
    assert_eq!(plan.permission_sets.len(), 1, "{plan:#?}");
    let created = &plan.permission_sets[0];
    assert_eq!(
        (created.name.as_str(), created.arn.as_deref()),
        ("DataReader", None)
    );
    assert_eq!(
        created.steps.len(),
        4,
        "create, one managed, one customer, inline"
    );
    assert_eq!(
        plan.unresolved,
        [
            "permission set AdministratorAccess: exists and was not made by the gateway; add \
          `adopt: true` to its definition to let the document manage it, or name it in grants \
          without defining it"
        ]
    );
    // Only DataReader's assignments: the unresolved definition's grant waits.
    assert_eq!(plan.create.len(), 2);
    assert!(
        plan.create
            .iter()
            .all(|c| c.assignment.permission_set_arn == "pending:permissionSet/DataReader")
    );

    let report = fx.apply(&plan).await;
    let arn = report.permission_sets[0].arn.clone().unwrap();
    assert_eq!(
        held(&fx, &arn).await,
        (
            "PT4H".to_owned(),
            Some("Reads the data accounts".to_owned()),
            vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".to_owned()],
            vec!["/DataBoundary".to_owned()],
            Some(serde_json::from_str(INLINE).unwrap()),
        )
    );
    let mut expected = vec![(a.clone(), arn.clone()), (b.clone(), arn.clone())];
    expected.sort();
    assert_eq!(fx.assignments(&admins).await, expected);
    assert_eq!(
        fx.ledger.permission_sets().await.unwrap(),
        [arn.clone()].into()
    );
    assert_eq!(
        held(&fx, &theirs).await.2,
        Vec::<String>::new(),
        "the unmanaged permission set is untouched"
    );
    let again = fx.plan(&v1, &Safety::default()).await;
    assert!(again.is_empty(), "{again:#?}");

    // The definition changes, and the permission set is on an account: the changes are
    // made in order (detachments first) and provisioned again.
    fx.sso
        .provision_permission_set()
        .instance_arn(fx.instance())
        .permission_set_arn(&arn)
        .target_type(aws_sdk_ssoadmin::types::ProvisionTargetType::AllProvisionedAccounts)
        .send()
        .await
        .unwrap();
    let v2 = format!(
        r#"
permission_sets:
  - name: DataReader
    description: Audits the data accounts
    session_duration: PT8H
    managed_policies: [arn:aws:iam::aws:policy/SecurityAudit]
    inline_policy:
      Version: "2012-10-17"
      Statement: [{{ Effect: Deny, Action: "s3:*", Resource: "*" }}]
  - name: AdministratorAccess
    adopt: true
    managed_policies: [arn:aws:iam::aws:policy/AdministratorAccess]
grants:
  - group: {{ okta_id: {ADMINS} }}
    permission_sets: [DataReader, AdministratorAccess]
    scope: {{ ous: [{prod}] }}
"#
    );
    let plan = fx.plan(&v2, &Safety::default()).await;
    assert!(plan.unresolved.is_empty(), "{:?}", plan.unresolved);
    let by_name = |name: &str| {
        plan.permission_sets
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no change of {name}"))
    };
    let kinds: Vec<String> = by_name("DataReader")
        .steps
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        kinds,
        [
            "set description and session (PT8H)",
            "detach arn:aws:iam::aws:policy/ReadOnlyAccess",
            "detach customer managed /DataBoundary",
            "attach arn:aws:iam::aws:policy/SecurityAudit",
            "put the inline policy",
            "provision again to its 1 accounts",
        ]
    );
    let adopted = by_name("AdministratorAccess");
    assert!(adopted.record_managed);
    assert_eq!(
        adopted.steps,
        [PermissionSetStep::AttachManagedPolicy {
            arn: "arn:aws:iam::aws:policy/AdministratorAccess".into()
        }]
    );
    assert_eq!(plan.create.len(), 2, "AdministratorAccess on both accounts");

    let report = fx.apply(&plan).await;
    assert_eq!(report.permission_sets.len(), 2);
    assert_eq!(
        held(&fx, &arn).await,
        (
            "PT8H".to_owned(),
            Some("Audits the data accounts".to_owned()),
            vec!["arn:aws:iam::aws:policy/SecurityAudit".to_owned()],
            vec![],
            Some(serde_json::json!({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]
            })),
        )
    );
    assert_eq!(
        held(&fx, &theirs).await.2,
        ["arn:aws:iam::aws:policy/AdministratorAccess"]
    );
    assert_eq!(
        fx.ledger.permission_sets().await.unwrap(),
        [arn.clone(), theirs.clone()].into()
    );
    assert_eq!(fx.assignments(&admins).await.len(), 4);
    let again = fx.plan(&v2, &Safety::default()).await;
    assert!(again.is_empty(), "{again:#?}");
}
