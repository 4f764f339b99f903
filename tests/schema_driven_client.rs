//! A schema-driven SCIM client, as conformance testers are: it learns what to send from
//! the gateway's `/ServiceProviderConfig`, `/ResourceTypes` and `/Schemas`, builds each
//! user and group from exactly the attributes the schemas mark `required` (sub-attributes
//! of required complex attributes too), and creates, reads, replaces, patches and deletes
//! them through the gateway's real router, over the real Identity Center client, in front
//! of the in-process emulator. What the schemas leave out or mark optional it never sends,
//! so these tests fail when discovery promises less than the gateway requires, or more.

use http::{Method, StatusCode};
use scim_core::discovery::{AttributeType, Mutability, SchemaAttribute, Uniqueness};
use scim_core::{PATCH_OP_SCHEMA, ResourceType, Schema, ServiceProviderConfig};
use serde_json::{Map, Value, json};

use crate::scim_support::{Answer, RecordingEmulator, TestGateway, init_test_log};

/// What the client learnt from the discovery endpoints.
struct SchemaDrivenClient {
    gateway: TestGateway,
    config: ServiceProviderConfig,
    resource_types: Vec<ResourceType>,
    schemas: Vec<Schema>,
}

impl SchemaDrivenClient {
    /// Reads the three discovery endpoints, each of which must answer 200.
    async fn discover(gateway: TestGateway) -> Self {
        let config = serde_json::from_value(discovered(&gateway, "/ServiceProviderConfig").await)
            .expect("a ServiceProviderConfig");
        let resource_types = resources(discovered(&gateway, "/ResourceTypes").await);
        let schemas = resources(discovered(&gateway, "/Schemas").await);
        Self {
            gateway,
            config,
            resource_types,
            schemas,
        }
    }

    fn resource_type(&self, name: &str) -> &ResourceType {
        self.resource_types
            .iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("no resource type {name}"))
    }

    fn schema(&self, urn: &str) -> &Schema {
        self.schemas
            .iter()
            .find(|s| s.id.eq_ignore_ascii_case(urn))
            .unwrap_or_else(|| panic!("no schema {urn}"))
    }

    /// The `endpoint` of the resource type `name`, e.g. `/Users`.
    fn endpoint(&self, name: &str) -> String {
        self.resource_type(name).endpoint.clone()
    }

    /// A resource of type `name` with every required attribute of its schema and of its
    /// required extensions, values made from `tag`; `left_out` (a path such as
    /// `name.givenName`) is not sent.
    fn build(&self, name: &str, tag: &str, left_out: Option<&str>) -> Value {
        let resource_type = self.resource_type(name);
        let mut urns = vec![resource_type.schema.clone()];
        urns.extend(
            resource_type
                .schema_extensions
                .iter()
                .filter(|e| e.required)
                .map(|e| e.schema.clone()),
        );
        let mut body = Map::new();
        body.insert("schemas".to_owned(), json!(urns));
        for (index, urn) in urns.iter().enumerate() {
            let attributes = required_values(&self.schema(urn).attributes, tag, left_out, "");
            if index == 0 {
                body.extend(attributes);
            } else if !attributes.is_empty() {
                body.insert(urn.clone(), Value::Object(attributes));
            }
        }
        Value::Object(body)
    }

    /// The path and a new value of an attribute of `name`'s schema that is optional,
    /// writable and a single string, else of `externalId` (RFC 7643 §3.1: every resource
    /// has it, and schemas do not list it).
    fn optional_string(&self, name: &str, tag: &str) -> (String, Value) {
        let schema = self.schema(&self.resource_type(name).schema);
        let path = schema
            .attributes
            .iter()
            .find(|a| {
                !a.required
                    && !a.multi_valued
                    && a.attribute_type == AttributeType::String
                    && matches!(a.mutability, Mutability::ReadWrite)
            })
            .map_or("externalId", |a| a.name.as_str())
            .to_owned();
        let value = json!(format!("{path}-{tag}"));
        (path, value)
    }

    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Answer {
        self.gateway.call(method, path, body).await
    }
}

async fn discovered(gateway: &TestGateway, path: &str) -> Value {
    let answer = gateway.call(Method::GET, path, None).await;
    assert_eq!(answer.status, StatusCode::OK, "{path}: {:?}", answer.body);
    answer.body.expect("a discovery document")
}

fn resources<T: serde::de::DeserializeOwned>(list: Value) -> Vec<T> {
    serde_json::from_value(list["Resources"].clone()).expect("a list of discovery documents")
}

/// The required, client-settable attributes among `attributes`, with plausible values.
fn required_values(
    attributes: &[SchemaAttribute],
    tag: &str,
    left_out: Option<&str>,
    prefix: &str,
) -> Map<String, Value> {
    let mut values = Map::new();
    for attribute in attributes
        .iter()
        .filter(|a| a.required && a.mutability != Mutability::ReadOnly)
    {
        let path = format!("{prefix}{}", attribute.name);
        if left_out.is_some_and(|l| l.eq_ignore_ascii_case(&path)) {
            continue;
        }
        let value = if attribute.attribute_type == AttributeType::Complex {
            let prefix = format!("{path}.");
            Value::Object(required_values(
                &attribute.sub_attributes,
                tag,
                left_out,
                &prefix,
            ))
        } else {
            plausible(attribute, tag)
        };
        let value = if attribute.multi_valued {
            json!([value])
        } else {
            value
        };
        values.insert(attribute.name.clone(), value);
    }
    values
}

/// A value of the attribute's type; strings are unique per `tag`, as `uniqueness` may ask.
fn plausible(attribute: &SchemaAttribute, tag: &str) -> Value {
    let name = &attribute.name;
    match attribute.attribute_type {
        AttributeType::String if attribute.uniqueness != Uniqueness::None => {
            json!(format!("{name}-{tag}-unique"))
        }
        AttributeType::String | AttributeType::Complex => json!(format!("{name}-{tag}")),
        AttributeType::Boolean => json!(true),
        AttributeType::Integer => json!(1),
        AttributeType::Decimal => json!(1.5),
        AttributeType::DateTime => json!("2024-04-05T06:32:12Z"),
        AttributeType::Binary => json!("c2NpbQ=="),
        AttributeType::Reference => json!(format!("https://example.com/{name}/{tag}")),
    }
}

fn id_of(answer: &Answer) -> String {
    answer
        .body
        .as_ref()
        .and_then(|b| b["id"].as_str())
        .unwrap_or_default()
        .to_owned()
}

fn patch(operations: Value) -> Value {
    json!({"schemas": [PATCH_OP_SCHEMA], "Operations": operations})
}

async fn setup() -> (RecordingEmulator, SchemaDrivenClient) {
    init_test_log();
    let emulator = RecordingEmulator::start().await;
    let client = SchemaDrivenClient::discover(TestGateway::over(&emulator)).await;
    (emulator, client)
}

#[tokio::test]
async fn a_schema_driven_client_creates_reads_replaces_patches_and_deletes_users_and_groups() {
    // Arrange
    let (_emulator, client) = setup().await;
    let users = client.endpoint("User");
    let groups = client.endpoint("Group");
    let user = client.build("User", "ada", None);
    let group = client.build("Group", "admins", None);
    let (user_attribute, user_value) = client.optional_string("User", "ada");
    let (group_attribute, group_value) = client.optional_string("Group", "admins");
    let mut statuses = Vec::new();

    // Act
    let created = client.call(Method::POST, &users, Some(&user)).await;
    statuses.push(("create user", created.status));
    let user_id = id_of(&created);
    let user_path = format!("{users}/{user_id}");
    let read = client.call(Method::GET, &user_path, None).await;
    statuses.push(("read user", read.status));
    let mut replacement = client.build("User", "ada-replaced", None);
    replacement["id"] = json!(user_id);
    let replaced = client
        .call(Method::PUT, &user_path, Some(&replacement))
        .await;
    statuses.push(("replace user", replaced.status));
    let user_patch = patch(json!([
        {"op": "replace", "path": user_attribute, "value": user_value}
    ]));
    let patched = client
        .call(Method::PATCH, &user_path, Some(&user_patch))
        .await;
    statuses.push(("patch user", patched.status));

    let group_created = client.call(Method::POST, &groups, Some(&group)).await;
    statuses.push(("create group", group_created.status));
    let group_path = format!("{groups}/{}", id_of(&group_created));
    let group_read = client.call(Method::GET, &group_path, None).await;
    statuses.push(("read group", group_read.status));
    let group_replacement = client.build("Group", "admins-replaced", None);
    let group_replaced = client
        .call(Method::PUT, &group_path, Some(&group_replacement))
        .await;
    statuses.push(("replace group", group_replaced.status));
    let group_patch = patch(json!([
        {"op": "replace", "path": group_attribute, "value": group_value}
    ]));
    let group_patched = client
        .call(Method::PATCH, &group_path, Some(&group_patch))
        .await;
    statuses.push(("patch group", group_patched.status));
    let member_add = patch(json!([
        {"op": "add", "path": "members", "value": [{"value": user_id}]}
    ]));
    let member_added = client
        .call(Method::PATCH, &group_path, Some(&member_add))
        .await;
    statuses.push(("add member", member_added.status));
    // `members` is returned on request (the schema says so): ask for it.
    let with_member = client
        .call(
            Method::GET,
            &format!("{group_path}?attributes=members"),
            None,
        )
        .await;
    statuses.push(("read group with member", with_member.status));

    let group_deleted = client.call(Method::DELETE, &group_path, None).await;
    statuses.push(("delete group", group_deleted.status));
    let user_deleted = client.call(Method::DELETE, &user_path, None).await;
    statuses.push(("delete user", user_deleted.status));
    let gone = client.call(Method::GET, &user_path, None).await;
    statuses.push(("read deleted user", gone.status));

    // Assert
    let statuses: Vec<(&str, u16)> = statuses.iter().map(|(s, c)| (*s, c.as_u16())).collect();
    assert_eq!(
        statuses,
        [
            ("create user", 201),
            ("read user", 200),
            ("replace user", 200),
            ("patch user", 200),
            ("create group", 201),
            ("read group", 200),
            ("replace group", 200),
            ("patch group", 200),
            ("add member", 200),
            ("read group with member", 200),
            ("delete group", 204),
            ("delete user", 204),
            ("read deleted user", 404),
        ],
        "{:?}",
        [&created.body, &group_created.body]
    );
    let body = |answer: &Answer| answer.body.clone().expect("a body");
    let read = body(&read);
    for (attribute, value) in user.as_object().expect("an object") {
        if attribute != "schemas" {
            assert_eq!(&read[attribute], value, "{attribute}");
        }
    }
    assert_eq!(body(&replaced)["userName"], replacement["userName"]);
    assert_eq!(body(&patched)[user_attribute.as_str()], user_value);
    assert_eq!(body(&group_read)["displayName"], group["displayName"]);
    assert_eq!(
        body(&group_replaced)["displayName"],
        group_replacement["displayName"]
    );
    assert_eq!(body(&group_patched)[group_attribute.as_str()], group_value);
    assert_eq!(
        body(&with_member)["members"]
            .as_array()
            .map(|m| m.iter().map(|m| m["value"].clone()).collect::<Vec<_>>()),
        Some(vec![json!(user_id)])
    );
}

#[tokio::test]
async fn every_attribute_the_schemas_mark_required_is_refused_when_left_out() {
    // Arrange
    let (emulator, client) = setup().await;
    let mut cases = Vec::new();
    for name in ["User", "Group"] {
        let schema = client.schema(&client.resource_type(name).schema);
        for path in schema.required_paths() {
            cases.push((name, path));
        }
    }
    let before = emulator.requests();

    // Act
    let mut statuses = Vec::new();
    for (name, path) in &cases {
        let body = client.build(name, "partial", Some(path));
        let answer = client
            .call(Method::POST, &client.endpoint(name), Some(&body))
            .await;
        statuses.push((name.to_owned(), path.clone(), answer.status.as_u16()));
    }

    // Assert: each is refused by the gateway itself; nothing reached Identity Center.
    assert!(
        cases.iter().any(|(name, _)| *name == "User") && cases.iter().any(|(n, _)| *n == "Group"),
        "{cases:?}"
    );
    for (name, path, status) in &statuses {
        assert_eq!(*status, 400, "{name} without {path}");
    }
    assert_eq!(emulator.requests(), before);
}

#[tokio::test]
async fn a_listing_sorted_as_the_service_provider_config_allows_comes_back_in_that_order() {
    // Arrange
    let (_emulator, client) = setup().await;
    let users = client.endpoint("User");
    for tag in ["carol", "alice", "bob"] {
        let created = client
            .call(Method::POST, &users, Some(&client.build("User", tag, None)))
            .await;
        assert_eq!(created.status, 201, "{:?}", created.body);
    }

    // Act
    let descending = client
        .call(
            Method::GET,
            &format!("{users}?sortBy=userName&sortOrder=descending"),
            None,
        )
        .await;
    let ascending = client
        .call(Method::GET, &format!("{users}?sortBy=name.givenName"), None)
        .await;

    // Assert
    assert!(client.config.sort.supported);
    let order = |answer: &Answer, attribute: &dyn Fn(&Value) -> Value| {
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        answer.body.as_ref().expect("a body")["Resources"]
            .as_array()
            .expect("resources")
            .iter()
            .map(attribute)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        order(&descending, &|u| u["userName"].clone()),
        [
            "userName-carol-unique",
            "userName-bob-unique",
            "userName-alice-unique"
        ]
    );
    assert_eq!(
        order(&ascending, &|u| u["name"]["givenName"].clone()),
        ["givenName-alice", "givenName-bob", "givenName-carol"]
    );
}
