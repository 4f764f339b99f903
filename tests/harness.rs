//! Proves the test harness itself: the suite reaches moto's server through the real AWS SDK.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};

#[tokio::test]
async fn the_suite_writes_and_reads_an_item_in_motos_dynamodb() {
    // Arrange: a fresh table in the shared moto server.
    let ddb = aws_sdk_dynamodb::Client::new(&test_services::moto_sdk_config().await);
    let table = test_services::unique_name("harness");
    ddb.create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("create_table against moto");

    // Act: write an item, then read it back with a consistent read.
    ddb.put_item()
        .table_name(&table)
        .item("pk", AttributeValue::S("user#1".into()))
        .item("userName", AttributeValue::S("ada@example.com".into()))
        .send()
        .await
        .expect("put_item");
    let got = ddb
        .get_item()
        .table_name(&table)
        .key("pk", AttributeValue::S("user#1".into()))
        .consistent_read(true)
        .send()
        .await
        .expect("get_item");

    // Assert: the stored attribute comes back, and a conditional put on the same key is refused.
    let item = got.item.expect("the item exists");
    assert_eq!(
        item.get("userName"),
        Some(&AttributeValue::S("ada@example.com".into()))
    );
    let dup = ddb
        .put_item()
        .table_name(&table)
        .item("pk", AttributeValue::S("user#1".into()))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await;
    let err = dup.expect_err("the conditional put must fail on an existing key");
    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_conditional_check_failed_exception()),
        "expected ConditionalCheckFailedException, got {err:?}"
    );
}
