//! The Identity Center call budget, end to end through the gateway's router and client
//! in front of the emulator: each Okta write costs one request in steady state, reads
//! cost one whatever the directory's size, Okta's import costs one request per page, and
//! `target_calls` in the audit records counts exactly the requests the emulator received.
//! Then the same with the gateway's knowledge made wrong behind its back (changes made
//! straight at Identity Center, as in the AWS console): every answer is still right.

use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::scim_support::{RecordingEmulator, TARGET_TOKEN, TestGateway};

fn okta_user(n: usize) -> Value {
    let name = format!("budget{n:04}@example.com");
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "name": {"givenName": "Given", "familyName": format!("Family{n}")},
        "emails": [{"primary": true, "value": name, "type": "work"}],
        "displayName": format!("User {n}"),
        "externalId": format!("00u{n:017}"),
        "groups": [],
        "password": "placeholder-Pw1!",
        "active": true
    })
}

fn patch(operations: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations})
}

fn id_of(body: &Option<Value>) -> String {
    body.as_ref().unwrap()["id"].as_str().unwrap().to_owned()
}

/// The emulator's requests during `work`, and the `target_calls` the gateway recorded.
async fn cost<F: std::future::Future<Output = T>, T>(
    emulator: &RecordingEmulator,
    gateway: &TestGateway,
    work: F,
) -> (u64, u32, T) {
    let before = emulator.requests();
    let out = work.await;
    let recorded = gateway.audit.records().last().unwrap().target_calls;
    (emulator.requests() - before, recorded, out)
}

/// An emulator that hides what it creates from reads for `lag_ms`, and a gateway over it.
async fn lagging(lag_ms: u64) -> (RecordingEmulator, TestGateway) {
    let knobs = ic_emulator::Knobs {
        read_after_create_lag_ms: lag_ms,
        ..ic_emulator::Knobs::default()
    };
    let config = ic_emulator::EmulatorConfig::new(TARGET_TOKEN).with_knobs(knobs);
    let emulator = RecordingEmulator::start_with(config).await;
    let gateway = TestGateway::over(&emulator);
    (emulator, gateway)
}

/// Changes made straight at Identity Center, as in the AWS console.
struct Console {
    http: reqwest::Client,
    url: String,
}

impl Console {
    fn of(emulator: &RecordingEmulator) -> Self {
        Self {
            http: reqwest::Client::new(),
            url: emulator.url.clone(),
        }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> u16 {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(TARGET_TOKEN)
            .header("user-agent", "aws-console");
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap().status().as_u16()
    }
}

#[tokio::test]
async fn every_okta_write_costs_one_request_in_steady_state_and_target_calls_says_so() {
    // Arrange: a directory the gateway has written, and a group of 150 members.
    let emulator = RecordingEmulator::start().await;
    let gateway = TestGateway::over(&emulator);
    let mut ids = Vec::new();
    for n in 0..160 {
        let created = gateway
            .call(Method::POST, "/Users", Some(&okta_user(n)))
            .await;
        ids.push(id_of(&created.body));
    }
    let group = gateway
        .call(
            Method::POST,
            "/Groups",
            Some(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Engineers", "members": []})),
        )
        .await;
    let gid = id_of(&group.body);
    let members: Vec<Value> = ids[..150].iter().map(|id| json!({"value": id})).collect();
    gateway
        .call(
            Method::PATCH,
            &format!("/Groups/{gid}"),
            Some(&patch(
                json!([{"op": "add", "path": "members", "value": members}]),
            )),
        )
        .await;
    let uid = ids[155].clone();
    let rename_same = json!({"op": "replace", "value": {"id": gid, "displayName": "Engineers"}});
    let mut profile = okta_user(155);
    profile["id"] = json!(uid);
    profile["title"] = json!("Engineer");

    // Act and Assert: (emulator requests, recorded target_calls) per operation.
    let cases: Vec<(&str, Method, String, Option<Value>, u64)> = vec![
        (
            "create",
            Method::POST,
            "/Users".into(),
            Some(okta_user(999)),
            1,
        ),
        (
            "look-up",
            Method::GET,
            "/Users?filter=userName%20eq%20%22budget0155%40example.com%22&startIndex=1&count=100"
                .into(),
            None,
            1,
        ),
        (
            "profile PUT",
            Method::PUT,
            format!("/Users/{uid}"),
            Some(profile),
            1,
        ),
        (
            "deactivate",
            Method::PATCH,
            format!("/Users/{uid}"),
            Some(patch(
                json!([{"op": "replace", "value": {"active": false}}]),
            )),
            1,
        ),
        (
            "reactivate",
            Method::PATCH,
            format!("/Users/{uid}"),
            Some(patch(json!([{"op": "replace", "value": {"active": true}}]))),
            1,
        ),
        (
            "member add with Okta's unchanged rename",
            Method::PATCH,
            format!("/Groups/{gid}"),
            Some(patch(
                json!([rename_same, {"op": "add", "path": "members", "value": [{"value": uid, "display": "U"}]}]),
            )),
            1,
        ),
        (
            "member remove with Okta's unchanged rename",
            Method::PATCH,
            format!("/Groups/{gid}"),
            Some(patch(
                json!([rename_same, {"op": "remove", "path": format!("members[value eq \"{uid}\"]")}]),
            )),
            1,
        ),
        (
            "Okta's group GET",
            Method::GET,
            format!("/Groups/{gid}"),
            None,
            1,
        ),
        ("user GET", Method::GET, format!("/Users/{uid}"), None, 1),
        (
            "delete",
            Method::DELETE,
            format!("/Users/{}", ids[159]),
            None,
            1,
        ),
    ];
    for (name, method, path, body, expected) in cases {
        let (sent, recorded, answer) = cost(
            &emulator,
            &gateway,
            gateway.call(method, &path, body.as_ref()),
        )
        .await;
        assert!(answer.status.is_success(), "{name}: {:?}", answer.status);
        assert_eq!(sent, expected, "{name}: requests at Identity Center");
        assert_eq!(u64::from(recorded), sent, "{name}: target_calls");
    }
}

#[tokio::test]
async fn a_replace_of_members_reads_the_members_then_sends_the_difference_in_hundreds() {
    // Arrange: a group of 150; the replace keeps 50 and adds 60 others.
    let emulator = RecordingEmulator::start().await;
    let gateway = TestGateway::over(&emulator);
    let mut ids = Vec::new();
    for n in 0..210 {
        let created = gateway
            .call(Method::POST, "/Users", Some(&okta_user(n)))
            .await;
        ids.push(id_of(&created.body));
    }
    let group = gateway
        .call(
            Method::POST,
            "/Groups",
            Some(&json!({"displayName": "G", "members": ids[..150].iter().map(|id| json!({"value": id})).collect::<Vec<_>>()})),
        )
        .await;
    let gid = id_of(&group.body);
    let wanted: Vec<Value> = ids[100..210]
        .iter()
        .map(|id| json!({"value": id}))
        .collect();
    // Steady state: past the second in which the gateway first makes sure that what it
    // has just created shows in Identity Center's listings.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    // Act
    let (sent, recorded, answer) = cost(
        &emulator,
        &gateway,
        gateway.call(
            Method::PATCH,
            &format!("/Groups/{gid}"),
            Some(&patch(
                json!([{"op": "replace", "path": "members", "value": wanted}]),
            )),
        ),
    )
    .await;

    // Assert: two pages of members read; 100 removals and 60 additions in two requests.
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!((sent, u64::from(recorded)), (4, 4));
    let after = gateway
        .call(
            Method::GET,
            &format!("/Groups/{gid}?attributes=members"),
            None,
        )
        .await;
    let mut members: Vec<String> = after.body.unwrap()["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap().to_owned())
        .collect();
    members.sort();
    let mut expected = ids[100..210].to_vec();
    expected.sort();
    assert_eq!(members, expected);
}

#[tokio::test]
async fn oktas_import_costs_one_request_per_page_with_exact_totals_and_every_user_once() {
    // Arrange: 250 users written straight at Identity Center (nothing in the mirror).
    let emulator = RecordingEmulator::start().await;
    let console = Console::of(&emulator);
    for n in 0..250 {
        let mut user = okta_user(n);
        let object = user.as_object_mut().unwrap();
        object.remove("password");
        object.remove("groups");
        let status = console
            .send(reqwest::Method::POST, "/Users", Some(user))
            .await;
        assert_eq!(status, 201);
    }
    let gateway = TestGateway::over(&emulator);

    // Act: Okta's import, page by page, until startIndex passes totalResults.
    let before = emulator.requests();
    let (mut seen, mut start, mut totals) = (Vec::new(), 1, Vec::new());
    loop {
        let page = gateway
            .call(
                Method::GET,
                &format!("/Users?startIndex={start}&count=100"),
                None,
            )
            .await;
        let body = page.body.unwrap();
        totals.push(body["totalResults"].as_u64().unwrap());
        for user in body["Resources"].as_array().unwrap() {
            seen.push(user["userName"].as_str().unwrap().to_owned());
        }
        start += 100;
        if start > body["totalResults"].as_u64().unwrap() {
            break;
        }
    }
    let sent = emulator.requests() - before;

    // Assert: 3 pages, 4 requests (the classic first page gives the total, the second
    // starts a cursor walk, the third continues it), each user once.
    assert_eq!(totals, [250, 250, 250]);
    assert_eq!(sent, 4);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (250, 250));
}

#[tokio::test]
async fn a_user_deleted_in_the_console_is_answered_404_and_never_recreated() {
    // Arrange
    let emulator = RecordingEmulator::start().await;
    let gateway = TestGateway::over(&emulator);
    let uid = id_of(
        &gateway
            .call(Method::POST, "/Users", Some(&okta_user(1)))
            .await
            .body,
    );
    let console = Console::of(&emulator);
    assert_eq!(
        console
            .send(reqwest::Method::DELETE, &format!("/Users/{uid}"), None)
            .await,
        204
    );

    // Act
    let deactivate = gateway
        .call(
            Method::PATCH,
            &format!("/Users/{uid}"),
            Some(&patch(
                json!([{"op": "replace", "value": {"active": false}}]),
            )),
        )
        .await;
    let read = gateway
        .call(Method::GET, &format!("/Users/{uid}"), None)
        .await;

    // Assert
    assert_eq!(deactivate.status, StatusCode::NOT_FOUND);
    assert_eq!(read.status, StatusCode::NOT_FOUND);
    assert!(emulator.emulator.users().is_empty());
}

#[tokio::test]
async fn a_user_renamed_in_the_console_is_answered_as_identity_center_holds_it() {
    // Arrange
    let emulator = RecordingEmulator::start().await;
    let gateway = TestGateway::over(&emulator);
    let uid = id_of(
        &gateway
            .call(Method::POST, "/Users", Some(&okta_user(2)))
            .await
            .body,
    );
    let console = Console::of(&emulator);
    let renamed = console
        .send(
            reqwest::Method::PATCH,
            &format!("/Users/{uid}"),
            Some(patch(
                json!([{"op": "replace", "path": "userName", "value": "renamed@example.com"}]),
            )),
        )
        .await;
    assert_eq!(renamed, 200);

    // Act: Okta deactivates the user it knows.
    let deactivate = gateway
        .call(
            Method::PATCH,
            &format!("/Users/{uid}"),
            Some(&patch(
                json!([{"op": "replace", "value": {"active": false}}]),
            )),
        )
        .await;

    // Assert: the answer is Identity Center's user, not the gateway's stale picture.
    assert_eq!(deactivate.status, StatusCode::OK);
    let body = deactivate.body.unwrap();
    assert_eq!(body["userName"], "renamed@example.com");
    assert_eq!(body["active"], false);
}

#[tokio::test]
async fn a_group_renamed_in_the_console_gets_oktas_name_back_with_the_next_membership_change() {
    // Arrange
    let emulator = RecordingEmulator::start().await;
    let gateway = TestGateway::over(&emulator);
    let uid = id_of(
        &gateway
            .call(Method::POST, "/Users", Some(&okta_user(3)))
            .await
            .body,
    );
    let gid = id_of(
        &gateway
            .call(
                Method::POST,
                "/Groups",
                Some(&json!({"displayName": "Engineers", "members": []})),
            )
            .await
            .body,
    );
    let console = Console::of(&emulator);
    let renamed = console
        .send(
            reqwest::Method::PATCH,
            &format!("/Groups/{gid}"),
            Some(patch(
                json!([{"op": "replace", "path": "displayName", "value": "Console Name"}]),
            )),
        )
        .await;
    assert!(renamed == 204 || renamed == 200, "{renamed}");

    // Act: Okta's membership change, with the name Okta knows.
    let (sent, _, answer) = cost(
        &emulator,
        &gateway,
        gateway.call(
            Method::PATCH,
            &format!("/Groups/{gid}"),
            Some(&patch(json!([
                {"op": "replace", "value": {"id": gid, "displayName": "Engineers"}},
                {"op": "add", "path": "members", "value": [{"value": uid}]}
            ]))),
        ),
    )
    .await;

    // Assert: one request set both, and Identity Center holds what Okta asked for.
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(sent, 1);
    let groups = emulator.emulator.groups();
    assert_eq!(groups[0].display_name, "Engineers");
    assert_eq!(groups[0].members, [uid]);
}

#[tokio::test]
async fn a_group_deleted_in_the_console_is_answered_404_on_the_next_membership_change() {
    // Arrange
    let emulator = RecordingEmulator::start().await;
    let gateway = TestGateway::over(&emulator);
    let uid = id_of(
        &gateway
            .call(Method::POST, "/Users", Some(&okta_user(4)))
            .await
            .body,
    );
    let gid = id_of(
        &gateway
            .call(
                Method::POST,
                "/Groups",
                Some(&json!({"displayName": "Gone", "members": []})),
            )
            .await
            .body,
    );
    let console = Console::of(&emulator);
    assert_eq!(
        console
            .send(reqwest::Method::DELETE, &format!("/Groups/{gid}"), None)
            .await,
        204
    );

    // Act
    let add = gateway
        .call(
            Method::PATCH,
            &format!("/Groups/{gid}"),
            Some(&patch(
                json!([{"op": "add", "path": "members", "value": [{"value": uid}]}]),
            )),
        )
        .await;
    let read = gateway
        .call(Method::GET, &format!("/Groups/{gid}"), None)
        .await;

    // Assert
    assert_eq!(add.status, StatusCode::NOT_FOUND);
    assert_eq!(read.status, StatusCode::NOT_FOUND);
    assert!(emulator.emulator.groups().is_empty());
}

#[tokio::test]
async fn reads_right_after_a_create_wait_out_identity_centers_lag_within_the_deadline() {
    // Arrange: an Identity Center that hides new resources from reads for 150 ms.
    let (_emulator, gateway) = lagging(150).await;

    // Act: Okta reads back what it just created, and looks it up.
    let created = gateway
        .call(Method::POST, "/Users", Some(&okta_user(5)))
        .await;
    let uid = id_of(&created.body);
    let read = gateway
        .call(Method::GET, &format!("/Users/{uid}"), None)
        .await;
    let gid = id_of(
        &gateway
            .call(
                Method::POST,
                "/Groups",
                Some(&json!({"displayName": "New", "members": [{"value": uid}]})),
            )
            .await
            .body,
    );
    let members = gateway
        .call(
            Method::GET,
            &format!("/Groups/{gid}?attributes=members"),
            None,
        )
        .await;

    // Assert
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body.unwrap()["id"], json!(uid));
    assert_eq!(members.status, StatusCode::OK);
    assert_eq!(members.body.unwrap()["members"][0]["value"], json!(uid));
}

#[tokio::test]
async fn a_resource_missing_for_good_is_404_after_a_bounded_wait_not_a_hang() {
    // Arrange: a user deleted straight at Identity Center right after the gateway made it.
    let (emulator, gateway) = lagging(50).await;
    let uid = id_of(
        &gateway
            .call(Method::POST, "/Users", Some(&okta_user(6)))
            .await
            .body,
    );
    let console = Console::of(&emulator);
    assert_eq!(
        console
            .send(reqwest::Method::DELETE, &format!("/Users/{uid}"), None)
            .await,
        204
    );

    // Act
    let started = std::time::Instant::now();
    let read = gateway
        .call(Method::GET, &format!("/Users/{uid}"), None)
        .await;

    // Assert: the few retries a recent create earns, then the truth.
    assert_eq!(read.status, StatusCode::NOT_FOUND);
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert!(gateway.audit.records().last().unwrap().target_calls <= 5);
}
