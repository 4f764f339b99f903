//! moto's server as the suite runs it (`infra/test-services/moto_untracked.py`, which backs
//! up only the items a `TransactWriteItems` names, not the whole table) keeps DynamoDB's
//! all-or-nothing transactions: a cancelled transaction leaves every item it named as it
//! was, a committed one applies every write, and concurrent transactions are each
//! answered. The audit trail's appends and seals, and the state table's claims, rely on
//! exactly this.

use std::collections::HashMap;

use aws_adapters::dynamodb_mirror;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update,
};

type Item = HashMap<String, AttributeValue>;

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn key(pk: &str, sk: &str) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

fn item(pk: &str, sk: &str, value: &str) -> Item {
    let mut item = key(pk, sk);
    item.insert("value".to_owned(), s(value));
    item
}

async fn table() -> (Client, String) {
    let client = Client::new(&test_services::moto_sdk_config().await);
    let table = test_services::unique_name("scimgw-tx");
    dynamodb_mirror::create_table(&client, &table)
        .await
        .unwrap();
    (client, table)
}

async fn all_items(client: &Client, table: &str) -> Vec<Item> {
    let mut items = client
        .scan()
        .table_name(table)
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    items.sort_by_key(|i| format!("{:?}{:?}", i.get("pk"), i.get("sk")));
    items
}

fn put(table: &str, item: Item) -> TransactWriteItem {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(pk)")
        .build()
        .unwrap();
    TransactWriteItem::builder().put(put).build()
}

fn set_value(table: &str, key: Item, value: &str) -> TransactWriteItem {
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(key))
        .update_expression("SET #v = :v")
        .expression_attribute_names("#v", "value")
        .expression_attribute_values(":v", s(value))
        .build()
        .unwrap();
    TransactWriteItem::builder().update(update).build()
}

fn delete(table: &str, key: Item) -> TransactWriteItem {
    let delete = Delete::builder()
        .table_name(table)
        .set_key(Some(key))
        .build()
        .unwrap();
    TransactWriteItem::builder().delete(delete).build()
}

fn exists(table: &str, key: Item) -> TransactWriteItem {
    let check = ConditionCheck::builder()
        .table_name(table)
        .set_key(Some(key))
        .condition_expression("attribute_exists(pk)")
        .build()
        .unwrap();
    TransactWriteItem::builder().condition_check(check).build()
}

#[tokio::test]
async fn a_cancelled_transaction_leaves_every_item_it_named_as_it_was() {
    // Arrange: two items, one of them to be changed and one deleted.
    let (client, table) = table().await;
    for (sk, value) in [("1", "kept"), ("2", "also kept")] {
        client
            .put_item()
            .table_name(&table)
            .set_item(Some(item("A", sk, value)))
            .send()
            .await
            .unwrap();
    }
    let before = all_items(&client, &table).await;

    // Act: a put, an update and a delete that moto applies in turn, then a condition
    // check that fails, which cancels the whole transaction.
    let result = client
        .transact_write_items()
        .transact_items(put(&table, item("B", "1", "new")))
        .transact_items(set_value(&table, key("A", "1"), "changed"))
        .transact_items(delete(&table, key("A", "2")))
        .transact_items(exists(&table, key("missing", "1")))
        .send()
        .await;

    // Assert
    let error = result.expect_err("the condition check fails");
    assert!(
        error
            .as_service_error()
            .is_some_and(|e| e.is_transaction_canceled_exception()),
        "{error:?}"
    );
    assert_eq!(all_items(&client, &table).await, before);
}

#[tokio::test]
async fn a_committed_transaction_applies_every_write() {
    // Arrange
    let (client, table) = table().await;
    client
        .put_item()
        .table_name(&table)
        .set_item(Some(item("A", "1", "old")))
        .send()
        .await
        .unwrap();

    // Act
    client
        .transact_write_items()
        .transact_items(put(&table, item("B", "1", "new")))
        .transact_items(set_value(&table, key("A", "1"), "changed"))
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(
        all_items(&client, &table).await,
        [item("A", "1", "changed"), item("B", "1", "new")]
    );
}

#[tokio::test]
async fn concurrent_transactions_on_one_table_are_each_answered_and_each_applied() {
    // Arrange: a table that is being written while the transactions run.
    let (client, table) = table().await;

    // Act: 200 transactions, 8 at a time, each a conditional put of its own item.
    let results: Vec<_> = futures::future::join_all((0..8).map(|lane| {
        let (client, table) = (client.clone(), table.clone());
        async move {
            let mut answers = Vec::new();
            for n in 0..25 {
                let sk = format!("{lane}-{n:02}");
                let answer = client
                    .transact_write_items()
                    .transact_items(put(&table, item("C", &sk, "v")))
                    .send()
                    .await;
                answers.push(answer.map(|_| ()).map_err(|e| format!("{e:?}")));
            }
            answers
        }
    }))
    .await;

    // Assert: none failed (a whole-table copy racing the other writers answered 500
    // now and then), and every item is there once.
    let failures: Vec<_> = results
        .iter()
        .flatten()
        .filter_map(|r| r.clone().err())
        .collect();
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(all_items(&client, &table).await.len(), 200);
}
