//! Users: CreateUser, GetUser, PutUser, PatchUser, DeleteUser (AWS-DG createuser,
//! getuser, putuser, patchuser, deleteuser, limitations;
//! `docs/identity-center-dialect.md` §5–7).

use serde_json::{Value, json};

use crate::common::{Ctx, assert_aws_error, patch_ops, user_body};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

#[tokio::test]
async fn create_user_answers_201_with_the_user() {
    // AWS-DG createuser/getuser examples: id, externalId, meta, schemas, attributes.
    let ctx = Ctx::new().await;
    let r = ctx.post("/Users", &user_body("jdoe")).await;
    assert_eq!(r.status, 201, "{}", r.raw);
    let id = r.body["id"].as_str().unwrap();
    // Identity Center ids: 10 hex digits, '-', a UUID (AWS-DG getuser example).
    let (prefix, uuid) = id.split_at(10);
    assert!(prefix.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
    assert_eq!(uuid.len(), 37, "{id}");
    assert_eq!(r.body["userName"], "jdoe");
    assert_eq!(r.body["externalId"], "ext-jdoe");
    assert_eq!(r.body["active"], true);
    assert_eq!(r.body["meta"]["resourceType"], "User");
    assert!(r.body["meta"]["created"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        r.body["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:User"])
    );
    let got = ctx.get(&format!("/Users/{id}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, r.body);
}

#[tokio::test]
async fn create_user_requires_given_name_family_name_user_name_and_display_name() {
    // AWS-DG createuser: "The givenName, familyName, userName, and displayName fields are required."
    let ctx = Ctx::new().await;
    let drop_key = |path: &[&str]| {
        let mut body = user_body("u");
        match path {
            [top] => {
                body.as_object_mut().unwrap().remove(*top);
            }
            [top, sub] => {
                body[*top].as_object_mut().unwrap().remove(*sub);
            }
            _ => unreachable!(),
        }
        body
    };
    for missing in [
        &["userName"][..],
        &["displayName"],
        &["name", "givenName"],
        &["name", "familyName"],
        &["name"],
    ] {
        let r = ctx.post("/Users", &drop_key(missing)).await;
        assert_aws_error(&r, 400);
    }
    assert!(ctx.running.users().is_empty());
}

#[tokio::test]
async fn create_user_allows_one_value_per_multi_valued_attribute() {
    // AWS-DG createuser/limitations: emails, addresses, phoneNumbers (and roles) single-valued.
    let ctx = Ctx::new().await;
    let two = |attr: &str, v: Value| {
        let mut body = user_body("u");
        body[attr] = json!([v.clone(), v]);
        body
    };
    let email = json!({"value": "a@example.com", "primary": true});
    let address = json!({"streetAddress": "1 Main St", "locality": "Town"});
    let phone = json!({"value": "+1 555 0100", "type": "work"});
    let role = json!({"value": "admin"});
    for (attr, v) in [
        ("emails", email),
        ("addresses", address),
        ("phoneNumbers", phone),
        ("roles", role),
    ] {
        assert_aws_error(&ctx.post("/Users", &two(attr, v.clone())).await, 400);
        let mut one = user_body(&format!("one-{attr}"));
        one[attr] = json!([v]);
        let r = ctx.post("/Users", &one).await;
        assert_eq!(r.status, 201, "{attr}: {}", r.raw);
    }
}

#[tokio::test]
async fn create_user_requires_the_email_to_be_primary() {
    // AWS-DG createuser: "The emails attribute value must be marked as primary."
    let ctx = Ctx::new().await;
    for email in [
        json!({"value": "a@example.com"}),
        json!({"value": "a@example.com", "primary": false}),
    ] {
        let mut body = user_body("u");
        body["emails"] = json!([email]);
        assert_aws_error(&ctx.post("/Users", &body).await, 400);
    }
}

#[tokio::test]
async fn create_user_refuses_unsupported_attributes() {
    // AWS-DG createuser: ims, photos, x509Certificates, entitlements, password not supported;
    // "The groups field cannot be specified with the createUser request" (even empty).
    let ctx = Ctx::new().await;
    let cases = [
        ("password", json!("secret")),
        ("groups", json!([])),
        ("groups", json!([{"value": "g"}])),
        ("photos", json!([{"value": "https://example.com/p.png"}])),
        ("ims", json!([{"value": "jdoe"}])),
        ("x509Certificates", json!([{"value": "MIIB"}])),
        ("entitlements", json!([{"value": "e"}])),
    ];
    for (attr, value) in cases {
        let mut body = user_body("u");
        body[attr] = value;
        let r = ctx.post("/Users", &body).await;
        assert_aws_error(&r, 400);
    }
}

#[tokio::test]
async fn create_user_refuses_display_of_emails_addresses_and_phone_numbers() {
    // AWS-DG createuser: "display subattribute for emails, addresses, and phoneNumbers".
    let ctx = Ctx::new().await;
    let cases = [
        (
            "emails",
            json!({"value": "a@example.com", "primary": true, "display": "A"}),
        ),
        ("addresses", json!({"locality": "Town", "display": "Town"})),
        ("phoneNumbers", json!({"value": "+1", "display": "+1"})),
    ];
    for (attr, value) in cases {
        let mut body = user_body("u");
        body[attr] = json!([value]);
        assert_aws_error(&ctx.post("/Users", &body).await, 400);
    }
}

#[tokio::test]
async fn create_user_refuses_manager_display_name() {
    // AWS-DG createuser/limitations: "displayName subattribute for manager" not supported.
    let ctx = Ctx::new().await;
    let mut body = user_body("u");
    body[ENTERPRISE] = json!({"manager": {"value": "m", "displayName": "Boss"}});
    assert_aws_error(&ctx.post("/Users", &body).await, 400);
}

#[tokio::test]
async fn create_user_accepts_the_supported_enterprise_attributes() {
    // AWS-DG limitations: employeeNumber, costCenter, organization, division, department,
    // manager.value and manager.$ref are supported.
    let ctx = Ctx::new().await;
    let mut body = user_body("u");
    let ext = json!({
        "employeeNumber": "42", "costCenter": "CC", "organization": "Org", "division": "Div",
        "department": "Dep", "manager": {"value": "m-1", "$ref": "../Users/m-1"}
    });
    body[ENTERPRISE] = ext.clone();
    let r = ctx.post("/Users", &body).await;
    assert_eq!(r.status, 201, "{}", r.raw);
    assert_eq!(r.body[ENTERPRISE], ext);
    assert!(
        r.body["schemas"]
            .as_array()
            .unwrap()
            .contains(&json!(ENTERPRISE))
    );
}

#[tokio::test]
async fn user_name_longer_than_128_characters_is_rejected() {
    // Identity Store CreateUser.UserName ≤ 128 (`docs/identity-center-dialect.md` §7).
    let ctx = Ctx::new().await;
    assert_eq!(
        ctx.post("/Users", &user_body(&"a".repeat(128)))
            .await
            .status,
        201
    );
    assert_aws_error(&ctx.post("/Users", &user_body(&"b".repeat(129))).await, 400);
}

#[tokio::test]
async fn duplicate_user_name_is_a_conflict_regardless_of_case() {
    // AWS-DG createuser: 409 ConflictException "User already exists"; userName is not
    // case-exact (RFC 7643 §4.1.1).
    let ctx = Ctx::new().await;
    ctx.create_user("Jane.Doe").await;
    assert_aws_error(&ctx.post("/Users", &user_body("jane.doe")).await, 409);
    assert_eq!(ctx.running.users().len(), 1);
}

#[tokio::test]
async fn get_user_of_an_unknown_id_is_not_found() {
    // AWS-DG getuser: 404 ResourceNotFoundException.
    let ctx = Ctx::new().await;
    assert_aws_error(
        &ctx.get("/Users/9067729b3d-00000000-0000-0000-0000-000000000000")
            .await,
        404,
    );
}

#[tokio::test]
async fn put_user_replaces_the_user_and_answers_200() {
    // AWS-DG putuser: replaces the whole user; 200 with the user; spaces allowed in userName.
    let ctx = Ctx::new().await;
    let id = ctx.create_user("u").await;
    let mut body = user_body("u renamed");
    body["title"] = json!("Engineer");
    body.as_object_mut().unwrap().remove("externalId");
    let r = ctx.put(&format!("/Users/{id}"), &body).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["userName"], "u renamed");
    assert_eq!(r.body["title"], "Engineer");
    assert!(r.body.get("externalId").is_none());
    assert_aws_error(&ctx.put("/Users/missing", &user_body("x")).await, 404);
}

#[tokio::test]
async fn put_user_follows_the_create_rules() {
    // AWS-DG putuser: same required fields and unsupported attributes as createuser.
    let ctx = Ctx::new().await;
    let id = ctx.create_user("u").await;
    let mut body = user_body("u");
    body["password"] = json!("x");
    assert_aws_error(&ctx.put(&format!("/Users/{id}"), &body).await, 400);
    let mut body = user_body("u");
    body.as_object_mut().unwrap().remove("displayName");
    assert_aws_error(&ctx.put(&format!("/Users/{id}"), &body).await, 400);
}

#[tokio::test]
async fn put_user_to_a_taken_user_name_is_a_conflict() {
    let ctx = Ctx::new().await;
    ctx.create_user("a").await;
    let b = ctx.create_user("b").await;
    assert_aws_error(&ctx.put(&format!("/Users/{b}"), &user_body("A")).await, 409);
}

#[tokio::test]
async fn delete_user_answers_204_then_404_and_drops_memberships() {
    // AWS-DG deleteuser: 204; then the user does not exist.
    let ctx = Ctx::new().await;
    let uid = ctx.create_user("u").await;
    let gid = ctx.create_group("g").await;
    ctx.add_members(&gid, &[&uid]).await;
    assert_eq!(ctx.delete(&format!("/Users/{uid}")).await.status, 204);
    assert_aws_error(&ctx.get(&format!("/Users/{uid}")).await, 404);
    assert_aws_error(&ctx.delete(&format!("/Users/{uid}")).await, 404);
    assert!(ctx.running.groups()[0].members.is_empty());
}

// ---- PatchUser -------------------------------------------------------------------------

async fn patched(ctx: &Ctx, id: &str, ops: Value) -> crate::common::Resp {
    ctx.patch(&format!("/Users/{id}"), &patch_ops(ops)).await
}

#[tokio::test]
async fn patch_user_answers_200_with_the_full_user() {
    // AWS-DG patchuser example: 200 with the full user.
    let ctx = Ctx::new().await;
    let id = ctx.create_user("u").await;
    let r = patched(
        &ctx,
        &id,
        json!([{"op": "replace", "path": "title", "value": "CTO"}]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["title"], "CTO");
    assert_eq!(r.body["userName"], "u");
    assert_eq!(r.body["id"], id.as_str());
}

#[tokio::test]
async fn patch_user_accepts_active_as_the_string_false() {
    // AWS-DG patchuser example: {"op":"replace","path":"active","value":"false"}.
    let ctx = Ctx::new().await;
    let id = ctx.create_user("u").await;
    let r = patched(
        &ctx,
        &id,
        json!([{"op": "replace", "path": "active", "value": "false"}]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["active"], false);
    let r = patched(
        &ctx,
        &id,
        json!([{"op": "replace", "path": "active", "value": true}]),
    )
    .await;
    assert_eq!(r.body["active"], true);
}

#[tokio::test]
async fn patch_user_accepts_okta_pathless_deactivation() {
    // OKTA-SCIM20 deactivation: {"op":"replace","value":{"active":false}}, no path. AWS
    // requires a path only for remove (AWS-DG patchuser); not yet confirmed against a
    // live tenant (`docs/identity-center-dialect.md` §5).
    let ctx = Ctx::new().await;
    let id = ctx.create_user("u").await;
    let r = patched(
        &ctx,
        &id,
        json!([{"op": "replace", "value": {"active": false}}]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert!(!ctx.running.users()[0].active);
}

#[tokio::test]
async fn patch_user_requires_op_path_for_remove_and_value_for_add_and_replace() {
    // AWS-DG patchuser: "The operation must be specified." "The path is required for a
    // remove operation." "A value is required for add and replace."
    let ctx = Ctx::new().await;
    let id = ctx.create_user("u").await;
    for ops in [
        json!([{"path": "title", "value": "x"}]),
        json!([{"op": "remove"}]),
        json!([{"op": "add", "path": "title"}]),
        json!([{"op": "replace", "path": "title"}]),
        json!([{"op": "copy", "path": "title", "value": "x"}]),
        json!([]),
    ] {
        assert_aws_error(&patched(&ctx, &id, ops).await, 400);
    }
}

#[tokio::test]
async fn patch_user_cannot_remove_user_name_or_active() {
    // AWS-DG patchuser: "The remove patch operation is not supported for userName or active."
    let ctx = Ctx::new().await;
    let id = ctx.create_user("u").await;
    for path in ["userName", "active"] {
        assert_aws_error(
            &patched(&ctx, &id, json!([{"op": "remove", "path": path}])).await,
            400,
        );
    }
}

#[tokio::test]
async fn patch_user_rejects_multiple_operations_on_user_name_or_active() {
    // AWS-DG patchuser: "Multiple PATCH operations on userName or active attribute" not supported.
    let ctx = Ctx::new().await;
    let id = ctx.create_user("u").await;
    let two_names = json!([
        {"op": "replace", "path": "userName", "value": "a"},
        {"op": "replace", "path": "userName", "value": "b"}
    ]);
    let two_actives = json!([
        {"op": "replace", "path": "active", "value": false},
        {"op": "replace", "value": {"active": true}}
    ]);
    assert_aws_error(&patched(&ctx, &id, two_names).await, 400);
    assert_aws_error(&patched(&ctx, &id, two_actives).await, 400);
    let one_each = json!([
        {"op": "replace", "path": "userName", "value": "a"},
        {"op": "replace", "path": "active", "value": false}
    ]);
    assert_eq!(patched(&ctx, &id, one_each).await.status, 200);
}

#[tokio::test]
async fn patch_user_modifies_only_the_documented_attributes() {
    // AWS-DG patchuser: modification only for userName, active, externalId, displayName,
    // nickName, profileUrl, title, userType, preferredLanguage, locale, timezone, name,
    // enterprise, emails, addresses, phoneNumbers.
    let ctx = Ctx::new().await;
    let id = ctx.create_user("u").await;
    for path in [
        "roles",
        "groups",
        "password",
        "id",
        "meta",
        "photos",
        "x509Certificates",
    ] {
        let r = patched(
            &ctx,
            &id,
            json!([{"op": "add", "path": path, "value": [{"value": "x"}]}]),
        )
        .await;
        assert_aws_error(&r, 400);
    }
    let allowed = json!([
        {"op": "replace", "path": "externalId", "value": "e2"},
        {"op": "replace", "path": "displayName", "value": "D"},
        {"op": "add", "path": "nickName", "value": "n"},
        {"op": "add", "path": "profileUrl", "value": "https://example.com"},
        {"op": "add", "path": "userType", "value": "Employee"},
        {"op": "add", "path": "preferredLanguage", "value": "en"},
        {"op": "add", "path": "locale", "value": "en-US"},
        {"op": "add", "path": "timezone", "value": "Europe/Paris"},
        {"op": "replace", "path": "name.familyName", "value": "F2"},
        {"op": "replace", "path": "phoneNumbers", "value": [{"value": "+1", "type": "work"}]},
        {"op": "replace", "path": "addresses", "value": [{"locality": "Town"}]},
        {"op": "add", "path": format!("{ENTERPRISE}:department"), "value": "Ops"}
    ]);
    let r = patched(&ctx, &id, allowed).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["name"]["familyName"], "F2");
    assert_eq!(r.body[ENTERPRISE]["department"], "Ops");
}

#[tokio::test]
async fn patch_user_refuses_unsupported_sub_attributes() {
    // AWS-DG patchuser: no display of emails/addresses/phoneNumbers; no manager.displayName.
    let ctx = Ctx::new().await;
    let id = ctx.create_user("u").await;
    for ops in [
        json!([{"op": "add", "path": "emails[type eq \"work\"].display", "value": "x"}]),
        json!([{"op": "add", "path": format!("{ENTERPRISE}:manager.displayName"), "value": "B"}]),
        json!([{"op": "replace", "path": ENTERPRISE, "value": {"manager": {"displayName": "B"}}}]),
    ] {
        assert_aws_error(&patched(&ctx, &id, ops).await, 400);
    }
}

#[tokio::test]
async fn patch_user_value_filters_support_only_eq() {
    // AWS-DG patchuser: "Only the eq operator is supported in filters."
    let ctx = Ctx::new().await;
    let id = ctx.create_user("u").await;
    let eq = json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "new@example.com"}]);
    let r = patched(&ctx, &id, eq).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["emails"][0]["value"], "new@example.com");
    for filter in [
        "type co \"w\"",
        "type ne \"home\"",
        "type eq \"work\" or primary eq true",
        "type pr",
    ] {
        let path = format!("emails[{filter}].value");
        let r = patched(
            &ctx,
            &id,
            json!([{"op": "replace", "path": path, "value": "x@example.com"}]),
        )
        .await;
        assert_aws_error(&r, 400);
    }
}

#[tokio::test]
async fn patch_user_keeps_multi_valued_attributes_single_valued() {
    // AWS-DG patchuser: "Only one value is permitted for each of those attributes."
    let ctx = Ctx::new().await;
    let id = ctx.create_user("u").await;
    let add = json!([{"op": "add", "path": "emails", "value": [{"value": "b@example.com", "primary": true}]}]);
    assert_aws_error(&patched(&ctx, &id, add).await, 400);
    let replace = json!([{"op": "replace", "path": "emails", "value": [{"value": "b@example.com", "primary": true}]}]);
    assert_eq!(patched(&ctx, &id, replace).await.status, 200);
}

#[tokio::test]
async fn patch_user_is_atomic() {
    // RFC 7644 §3.5.2: operations are atomic; a failing operation changes nothing.
    let ctx = Ctx::new().await;
    let id = ctx.create_user("u").await;
    let ops = json!([
        {"op": "replace", "path": "title", "value": "CTO"},
        {"op": "add", "path": "password", "value": "x"}
    ]);
    assert_aws_error(&patched(&ctx, &id, ops).await, 400);
    assert!(ctx.running.users()[0].resource.get("title").is_none());
}

#[tokio::test]
async fn patch_user_rename_to_a_taken_user_name_is_a_conflict() {
    // AWS-DG patchuser: 409 ConflictException "User already exists".
    let ctx = Ctx::new().await;
    ctx.create_user("a").await;
    let b = ctx.create_user("b").await;
    let r = patched(
        &ctx,
        &b,
        json!([{"op": "replace", "path": "userName", "value": "A"}]),
    )
    .await;
    assert_aws_error(&r, 409);
    assert_aws_error(
        &patched(
            &ctx,
            "missing",
            json!([{"op": "replace", "path": "title", "value": "x"}]),
        )
        .await,
        404,
    );
}
