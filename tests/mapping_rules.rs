//! The example rule sets (`examples/rules/`) active on the SCIM path, through the real
//! router and client in front of the emulator: Identity Center holds what the rules
//! made, Okta sees and finds what it sent, a skip is a 403 that nothing passes, and
//! every audit record names the rule set's version.

use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::scim_support::{RecordingEmulator, TestGateway};

const LOWERCASE: &str = include_str!("../examples/rules/lowercase-username.yaml");
const DISPLAY_NAME: &str = include_str!("../examples/rules/display-name-from-names.yaml");
const GROUP_PREFIX: &str = include_str!("../examples/rules/group-prefix.yaml");
const CONTRACTORS: &str = include_str!("../examples/rules/exclude-contractors.yaml");
const COST_CENTER: &str = include_str!("../examples/rules/cost-center.yaml");

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn okta_user(user_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"primary": true, "value": user_name.to_lowercase(), "type": "work"}],
        "displayName": "Ada Lovelace",
        "externalId": "00uada",
        "groups": [],
        "password": "placeholder-Pw1!",
        "active": true
    })
}

fn patch(operations: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations})
}

fn query(filter: &str) -> String {
    form_urlencoded::byte_serialize(filter.as_bytes()).collect()
}

#[tokio::test]
async fn lowercase_user_names_are_stored_lowercase_and_found_in_oktas_case() {
    // Arrange
    let emulator = RecordingEmulator::start().await;
    let gateway = TestGateway::with_rules(&emulator, LOWERCASE, "v7");

    // Act
    let created = gateway
        .call(
            Method::POST,
            "/Users",
            Some(&okta_user("Ada.Lovelace@Example.com")),
        )
        .await;
    let found = gateway
        .call(
            Method::GET,
            &format!(
                "/Users?filter={}",
                query("userName eq \"Ada.Lovelace@Example.com\"")
            ),
            None,
        )
        .await;

    // Assert: Identity Center holds the lowercase name; Okta's lookup in its own case
    // finds the user, whose name equals Okta's ignoring case (RFC 7643 §4.1.1).
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(
        emulator.emulator.users()[0].user_name,
        "ada.lovelace@example.com"
    );
    let found = found.body.unwrap();
    assert_eq!(found["totalResults"], 1);
    assert!(
        found["Resources"][0]["userName"]
            .as_str()
            .unwrap()
            .eq_ignore_ascii_case("Ada.Lovelace@Example.com")
    );
    let record = gateway.audit.records().pop().unwrap();
    assert_eq!(record.rule_set_version, "v7");
}

#[tokio::test]
async fn a_display_name_missing_from_okta_is_derived_and_no_longer_required() {
    // Arrange
    let emulator = RecordingEmulator::start().await;
    let gateway = TestGateway::with_rules(&emulator, DISPLAY_NAME, "v2");
    let mut user = okta_user("grace@example.com");
    user.as_object_mut().unwrap().remove("displayName");

    // Act
    let created = gateway.call(Method::POST, "/Users", Some(&user)).await;
    let schema = gateway
        .call(
            Method::GET,
            "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
            None,
        )
        .await;

    // Assert
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body.unwrap()["displayName"], "Ada Lovelace");
    let display_name = schema.body.unwrap()["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "displayName")
        .cloned()
        .unwrap();
    assert_eq!(display_name["required"], false);
}

#[tokio::test]
async fn a_prefixed_group_is_read_filtered_and_renamed_as_okta_named_it() {
    // Arrange
    let emulator = RecordingEmulator::start().await;
    let gateway = TestGateway::with_rules(&emulator, GROUP_PREFIX, "v3");

    // Act: Okta's push, look-up, read and rename.
    let created = gateway
        .call(
            Method::POST,
            "/Groups",
            Some(&json!({"displayName": "Engineers", "members": []})),
        )
        .await;
    let gid = created.body.as_ref().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let in_target = emulator.emulator.groups()[0].display_name.clone();
    let found = gateway
        .call(
            Method::GET,
            &format!("/Groups?filter={}", query("displayName eq \"Engineers\"")),
            None,
        )
        .await;
    let renamed = gateway
        .call(
            Method::PATCH,
            &format!("/Groups/{gid}"),
            Some(&patch(
                json!([{"op": "replace", "value": {"id": gid, "displayName": "Platform"}}]),
            )),
        )
        .await;
    let read = gateway
        .call(Method::GET, &format!("/Groups/{gid}"), None)
        .await;

    // Assert
    assert_eq!(created.body.unwrap()["displayName"], "Engineers");
    assert_eq!(in_target, "okta-Engineers");
    let found = found.body.unwrap();
    assert_eq!(found["totalResults"], 1);
    assert_eq!(found["Resources"][0]["displayName"], "Engineers");
    assert_eq!(renamed.body.unwrap()["displayName"], "Platform");
    assert_eq!(emulator.emulator.groups()[0].display_name, "okta-Platform");
    assert_eq!(read.body.unwrap()["displayName"], "Platform");
}

#[tokio::test]
async fn a_skipped_contractor_is_refused_403_naming_the_rule_and_nothing_is_sent() {
    // Arrange
    let emulator = RecordingEmulator::start().await;
    let gateway = TestGateway::with_rules(&emulator, CONTRACTORS, "v4");
    let mut contractor = okta_user("temp@example.com");
    contractor["userType"] = json!("Contractor");

    // Act
    let refused = gateway
        .call(Method::POST, "/Users", Some(&contractor))
        .await;
    let employee = gateway
        .call(
            Method::POST,
            "/Users",
            Some(&okta_user("staff@example.com")),
        )
        .await;

    // Assert
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let detail = refused.body.unwrap()["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("exclude-contractors"), "{detail}");
    assert_eq!(employee.status, StatusCode::CREATED);
    assert_eq!(emulator.emulator.users().len(), 1);
    let records = gateway.audit.records();
    assert_eq!(records[0].outcome, gateway::audit::Outcome::Refused);
    assert_eq!(records[0].target_calls, 0);
}

#[tokio::test]
async fn a_cost_center_is_derived_from_the_department() {
    // Arrange
    let emulator = RecordingEmulator::start().await;
    let gateway = TestGateway::with_rules(&emulator, COST_CENTER, "v5");
    let mut user = okta_user("finance@example.com");
    user["schemas"] = json!(["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE]);
    user[ENTERPRISE] = json!({"department": "4711 Finance"});

    // Act
    let created = gateway.call(Method::POST, "/Users", Some(&user)).await;

    // Assert
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body.unwrap()[ENTERPRISE]["costCenter"], "4711");
}
