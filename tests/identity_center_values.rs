//! Identity Center's value-level rules end to end (`docs/identity-center-dialect.md` §7):
//! Okta's requests through the gateway's real router and real Identity Center client, in
//! front of the emulator, checking what reaches Identity Center and what Okta is told.
//!
//! - blank values are dropped, not forwarded, and a PATCH to `""` is a removal;
//! - values over 1024 characters, and reserved names, are refused before anything is sent;
//! - a duplicate email or `externalId` is 409 `uniqueness`;
//! - ids no Identity Center resource can have are 404 with nothing sent;
//! - every request reaching Identity Center carries the gateway's own `User-Agent`.

use clients::identity_center::USER_AGENT;
use http::Method;
use serde_json::{Value, json};

use crate::scim_support::{Answer, RecordingEmulator, TestGateway, init_test_log};

/// A gateway in front of a fresh emulator.
async fn setup() -> (RecordingEmulator, TestGateway) {
    init_test_log();
    let emulator = RecordingEmulator::start().await;
    let gateway = TestGateway::over(&emulator);
    (emulator, gateway)
}

/// Okta's create body (`docs/okta-client.md` §2) for `user_name`.
fn okta_user(user_name: &str, external_id: &str) -> Value {
    json!({
        "schemas": [scim_core::USER_SCHEMA],
        "userName": user_name,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"primary": true, "value": user_name, "type": "work"}],
        "displayName": "Ada Lovelace",
        "locale": "en-US",
        "externalId": external_id,
        "groups": [],
        "password": "1mz050nq",
        "active": true
    })
}

fn patch(operations: Value) -> Value {
    json!({"schemas": [scim_core::PATCH_OP_SCHEMA], "Operations": operations})
}

/// The `id` of a 201 answer.
fn created_id(answer: &Answer) -> String {
    assert_eq!(answer.status.as_u16(), 201, "{:?}", answer.body);
    answer
        .body
        .as_ref()
        .and_then(|b| b["id"].as_str())
        .expect("an id")
        .to_owned()
}

/// Asserts a SCIM error with `status` and `scim_type` whose detail mentions `mentions`.
fn assert_error(answer: &Answer, status: u16, scim_type: Option<&str>, mentions: &str) {
    assert_eq!(answer.status.as_u16(), status, "{:?}", answer.body);
    let body = answer.body.as_ref().expect("an error body");
    assert_eq!(body["scimType"].as_str(), scim_type, "{body}");
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(mentions), "{detail}");
}

/// Whether a JSON value holds an empty or blank string anywhere.
fn holds_a_blank_string(value: &Value) -> bool {
    match value {
        Value::String(s) => s.trim().is_empty(),
        Value::Array(items) => items.iter().any(holds_a_blank_string),
        Value::Object(members) => members.values().any(holds_a_blank_string),
        _ => false,
    }
}

#[tokio::test]
async fn a_user_with_a_blank_phone_and_a_partial_address_is_provisioned_with_what_is_valid() {
    // Arrange: Okta's profile has no phone number and only some address parts.
    let (emulator, gateway) = setup().await;
    let mut body = okta_user("blanks@example.com", "00u-blanks");
    body["phoneNumbers"] = json!([{"value": "", "type": "mobile", "primary": true}]);
    body["addresses"] = json!([{
        "streetAddress": "", "locality": "Springfield", "region": "", "postalCode": "",
        "country": "US", "type": "work", "primary": true
    }]);
    body["title"] = json!("");
    body["name"]["middleName"] = json!("");

    // Act
    let answer = gateway.call(Method::POST, "/Users", Some(&body)).await;

    // Assert
    let id = created_id(&answer);
    let sent: Vec<Value> = emulator
        .received()
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| serde_json::from_slice(&r.body).expect("json"))
        .collect();
    assert_eq!(sent.len(), 1);
    assert!(!holds_a_blank_string(&sent[0]), "{}", sent[0]);
    let stored = emulator.emulator.users();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].id, id);
    let resource = &stored[0].resource;
    assert!(resource.get("phoneNumbers").is_none(), "{resource}");
    assert!(resource.get("title").is_none(), "{resource}");
    assert_eq!(resource["addresses"][0]["locality"], "Springfield");
    assert_eq!(resource["addresses"][0]["country"], "US");
    assert!(resource["addresses"][0].get("streetAddress").is_none());
}

#[tokio::test]
async fn a_patch_to_an_empty_string_removes_the_attribute_and_is_refused_for_user_name() {
    // Arrange
    let (emulator, gateway) = setup().await;
    let mut body = okta_user("titled@example.com", "00u-titled");
    body["title"] = json!("Countess");
    body["phoneNumbers"] = json!([{"value": "+44 20 7946 0000", "type": "work"}]);
    let id = created_id(&gateway.call(Method::POST, "/Users", Some(&body)).await);
    let path = format!("/Users/{id}");

    // Act
    let cleared = gateway
        .call(
            Method::PATCH,
            &path,
            Some(&patch(json!([
                {"op": "replace", "value": {"title": ""}},
                {"op": "replace", "path": "phoneNumbers", "value": [{"value": "", "type": "work"}]}
            ]))),
        )
        .await;
    let before = emulator.requests();
    let blank_name = gateway
        .call(
            Method::PATCH,
            &path,
            Some(&patch(
                json!([{"op": "replace", "path": "userName", "value": ""}]),
            )),
        )
        .await;

    // Assert
    assert_eq!(cleared.status.as_u16(), 200, "{:?}", cleared.body);
    let sent: Value = emulator
        .received()
        .iter()
        .rev()
        .find(|r| r.method == "PATCH")
        .map(|r| serde_json::from_slice(&r.body).expect("json"))
        .expect("a PATCH reached the emulator");
    assert_eq!(
        sent["Operations"],
        json!([
            {"op": "remove", "path": "title"},
            {"op": "remove", "path": "phoneNumbers"}
        ])
    );
    let resource = &emulator.emulator.users()[0].resource;
    assert!(resource.get("title").is_none(), "{resource}");
    assert!(resource.get("phoneNumbers").is_none(), "{resource}");
    assert_error(&blank_name, 400, Some("invalidValue"), "`userName`");
    assert_eq!(emulator.requests(), before, "nothing was sent");
}

#[tokio::test]
async fn values_over_the_targets_limits_are_refused_naming_the_attribute_before_anything_is_sent() {
    // Arrange
    let (emulator, gateway) = setup().await;
    let long = "x".repeat(1025);
    let mut long_title = okta_user("long@example.com", "00u-long");
    long_title["title"] = json!(long);
    let mut long_street = okta_user("street@example.com", "00u-street");
    long_street["addresses"] = json!([{"streetAddress": long, "type": "work"}]);
    let long_user_name = okta_user(&format!("{}@example.com", "u".repeat(120)), "00u-name");
    let long_group = json!({"schemas": [scim_core::GROUP_SCHEMA], "displayName": long});

    // Act
    let answers = [
        (
            gateway
                .call(Method::POST, "/Users", Some(&long_title))
                .await,
            "`title`",
        ),
        (
            gateway
                .call(Method::POST, "/Users", Some(&long_street))
                .await,
            "`addresses.streetAddress`",
        ),
        (
            gateway
                .call(Method::POST, "/Users", Some(&long_user_name))
                .await,
            "`userName`",
        ),
        (
            gateway
                .call(Method::POST, "/Groups", Some(&long_group))
                .await,
            "`displayName`",
        ),
    ];

    // Assert
    for (answer, attribute) in &answers {
        assert_error(answer, 400, Some("invalidValue"), attribute);
        assert!(
            !answer.raw.windows(64).any(|w| w == &long.as_bytes()[..64]),
            "the value is not echoed"
        );
    }
    assert_eq!(emulator.requests(), 0, "nothing was sent");
}

#[tokio::test]
async fn reserved_names_are_refused_on_group_create_put_and_rename_and_for_user_names() {
    // Arrange
    let (emulator, gateway) = setup().await;
    let group = |name: &str| json!({"schemas": [scim_core::GROUP_SCHEMA], "displayName": name});
    let id = created_id(
        &gateway
            .call(Method::POST, "/Groups", Some(&group("Eng")))
            .await,
    );
    let path = format!("/Groups/{id}");
    let before = emulator.requests();

    // Act
    let answers = [
        gateway
            .call(Method::POST, "/Groups", Some(&group("Administrator")))
            .await,
        gateway
            .call(Method::PUT, &path, Some(&group("AWSAdministrators")))
            .await,
        gateway
            .call(
                Method::PATCH,
                &path,
                Some(&patch(json!([
                    {"op": "replace", "value": {"id": id, "displayName": "administrator"}}
                ]))),
            )
            .await,
        gateway
            .call(
                Method::POST,
                "/Users",
                Some(&okta_user("Administrator", "00u-admin")),
            )
            .await,
    ];

    // Assert
    for answer in &answers {
        assert_error(answer, 400, Some("invalidValue"), "reserves");
    }
    assert_eq!(emulator.requests(), before, "nothing was sent");
    assert_eq!(emulator.emulator.groups()[0].display_name, "Eng");
}

#[tokio::test]
async fn a_duplicate_email_or_external_id_is_answered_409_uniqueness() {
    // Arrange: Identity Center keeps a user's email and externalId unique (§7).
    let (emulator, gateway) = setup().await;
    let first = okta_user("first@example.com", "00u-first");
    created_id(&gateway.call(Method::POST, "/Users", Some(&first)).await);
    let mut same_email = okta_user("second@example.com", "00u-second");
    same_email["emails"] = first["emails"].clone();
    let same_external_id = okta_user("third@example.com", "00u-first");

    // Act
    let answers = [
        gateway
            .call(Method::POST, "/Users", Some(&same_email))
            .await,
        gateway
            .call(Method::POST, "/Users", Some(&same_external_id))
            .await,
    ];

    // Assert
    for answer in &answers {
        assert_eq!(answer.status.as_u16(), 409, "{:?}", answer.body);
        let body = answer.body.as_ref().expect("an error body");
        assert_eq!(body["scimType"], "uniqueness", "{body}");
    }
    assert_eq!(emulator.emulator.users().len(), 1, "no second user");
}

#[tokio::test]
async fn ids_not_shaped_like_identity_centers_are_answered_404_without_a_request() {
    // Arrange: ids the edge lets through (`ResourceId`), but no Identity Center user or
    // group can have.
    let (emulator, gateway) = setup().await;
    let user = okta_user("put@example.com", "00u-put");
    let group = json!({"schemas": [scim_core::GROUP_SCHEMA], "displayName": "G"});
    let deactivate = patch(json!([{"op": "replace", "value": {"active": false}}]));
    let rename = patch(json!([{"op": "replace", "path": "displayName", "value": "H"}]));

    for id in [
        "u-1",
        "00ujl29u0le5T6Aj10h7",
        "EE533C18-538A-4CD3-A572-63FB863ED734",
    ] {
        // Act
        let answers = [
            gateway
                .call(Method::GET, &format!("/Users/{id}"), None)
                .await,
            gateway
                .call(Method::PUT, &format!("/Users/{id}"), Some(&user))
                .await,
            gateway
                .call(Method::PATCH, &format!("/Users/{id}"), Some(&deactivate))
                .await,
            gateway
                .call(Method::DELETE, &format!("/Users/{id}"), None)
                .await,
            gateway
                .call(Method::GET, &format!("/Groups/{id}"), None)
                .await,
            gateway
                .call(Method::PUT, &format!("/Groups/{id}"), Some(&group))
                .await,
            gateway
                .call(Method::PATCH, &format!("/Groups/{id}"), Some(&rename))
                .await,
            gateway
                .call(Method::DELETE, &format!("/Groups/{id}"), None)
                .await,
        ];

        // Assert
        for answer in &answers {
            assert_eq!(answer.status.as_u16(), 404, "{id}: {:?}", answer.body);
        }
    }
    assert_eq!(emulator.requests(), 0, "nothing reached Identity Center");
}

#[tokio::test]
async fn a_member_id_no_user_can_have_is_refused_and_no_membership_change_is_sent() {
    // Arrange
    let (emulator, gateway) = setup().await;
    let group = json!({"schemas": [scim_core::GROUP_SCHEMA], "displayName": "Eng"});
    let id = created_id(&gateway.call(Method::POST, "/Groups", Some(&group)).await);

    // Act
    let answer = gateway
        .call(
            Method::PATCH,
            &format!("/Groups/{id}"),
            Some(&patch(json!([
                {"op": "add", "path": "members", "value": [{"value": "00ujl29u0le5T6Aj10h7"}]}
            ]))),
        )
        .await;

    // Assert
    assert_error(&answer, 400, Some("invalidValue"), "member");
    assert!(
        emulator.received().iter().all(|r| r.method != "PATCH"),
        "no PatchGroup was sent"
    );
}

#[tokio::test]
async fn every_request_reaching_identity_center_carries_the_gateways_user_agent_not_oktas() {
    // Arrange: Okta calls with `User-Agent: Okta SCIM Client 1.0.0` (TestGateway::call).
    let (emulator, gateway) = setup().await;
    let id = created_id(
        &gateway
            .call(
                Method::POST,
                "/Users",
                Some(&okta_user("agent@example.com", "00u-agent")),
            )
            .await,
    );
    let group = json!({"schemas": [scim_core::GROUP_SCHEMA], "displayName": "Agents"});
    let group_id = created_id(&gateway.call(Method::POST, "/Groups", Some(&group)).await);

    // Act
    let deactivated = gateway
        .call(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(&patch(
                json!([{"op": "replace", "value": {"active": false}}]),
            )),
        )
        .await;
    let added = gateway
        .call(
            Method::PATCH,
            &format!("/Groups/{group_id}"),
            Some(&patch(
                json!([{"op": "add", "path": "members", "value": [{"value": id}]}]),
            )),
        )
        .await;
    let listed = gateway
        .call(
            Method::GET,
            "/Users?filter=userName%20eq%20%22agent%40example.com%22",
            None,
        )
        .await;

    // Assert
    assert_eq!(deactivated.status.as_u16(), 200, "{:?}", deactivated.body);
    assert_eq!(added.status.as_u16(), 200, "{:?}", added.body);
    assert_eq!(listed.status.as_u16(), 200, "{:?}", listed.body);
    let received = emulator.received();
    assert!(received.iter().filter(|r| r.method == "PATCH").count() >= 2);
    for request in &received {
        assert_eq!(
            request.user_agent.as_deref(),
            Some(USER_AGENT),
            "{} {}",
            request.method,
            request.uri
        );
    }
}
