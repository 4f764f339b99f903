//! The discovery endpoints (AWS-DG serviceproviderconfig, getschema, listschemas,
//! listresourcetypes; `docs/identity-center-dialect.md` §2).

use serde_json::json;

use crate::common::{Ctx, assert_aws_error};

#[tokio::test]
async fn service_provider_config_matches_the_aws_example() {
    // AWS-DG serviceproviderconfig (maxResults 100 as the list pages now say).
    let ctx = Ctx::new().await;
    let r = ctx.get("/ServiceProviderConfig").await;
    assert_eq!(r.status, 200);
    let b = &r.body;
    assert_eq!(b["patch"], json!({"supported": true}));
    assert_eq!(
        b["bulk"],
        json!({"supported": false, "maxOperations": 1, "maxPayloadSize": 1_048_576})
    );
    assert_eq!(b["filter"], json!({"supported": true, "maxResults": 100}));
    for off in ["changePassword", "sort", "etag"] {
        assert_eq!(b[off], json!({"supported": false}), "{off}");
    }
    let schemes = b["authenticationSchemes"].as_array().unwrap();
    assert_eq!(schemes.len(), 1);
    assert_eq!(schemes[0]["type"], "oauthbearertoken");
    assert_eq!(
        schemes[0]["specUri"],
        "https://www.rfc-editor.org/info/rfc6750"
    );
}

#[tokio::test]
async fn schemas_and_resource_types_are_served() {
    let ctx = Ctx::new().await;
    let schemas = ctx.get("/Schemas").await;
    assert_eq!(schemas.status, 200);
    let ids: Vec<&str> = schemas.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"urn:ietf:params:scim:schemas:core:2.0:User"));
    assert!(ids.contains(&"urn:ietf:params:scim:schemas:core:2.0:Group"));
    assert!(ids.contains(&"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"));
    let types = ctx.get("/ResourceTypes").await;
    assert_eq!(types.status, 200);
    assert_eq!(types.body["totalResults"], 2);
}

#[tokio::test]
async fn get_schema_by_urn() {
    let ctx = Ctx::new().await;
    let r = ctx
        .get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group")
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["name"], "Group");
    assert_aws_error(&ctx.get("/Schemas/urn:example:nothing").await, 404);
}
