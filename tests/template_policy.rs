//! `template.yaml` against the code it deploys.
//!
//! **IAM.** Each function's role must grant exactly the AWS calls its code makes, on its
//! own resources only. The calls are derived at test time, not kept in a list: the
//! function's source names the `aws_adapters` types it uses; each adapter module's SDK
//! calls (`.get_secret_value()`, `.transact_write_items()` with its `Put`/`Update`
//! items, …) are found in its source and mapped to IAM actions. Every derived action
//! must be granted unless [`NOT_CALLED`] says, with a reason, why this function never
//! makes it although its adapter can; nothing may be granted that the code cannot call.
//! Resources are checked by what the function is told about in its environment: a
//! function may touch only the tables and secrets its environment variables name, and
//! only its own log group. DynamoDB is checked table by table: each adapter module
//! reads its table's name from one variable ([`ADAPTER_TABLES`]), and the actions
//! granted on a table are exactly those of the adapters bound to it.
//!
//! **Settings.** Every function is built with cargo-lambda from the binary its crate
//! defines, for `provided.al2023` on arm64, with JSON logs and X-Ray.
//!
//! **Metrics.** The alarms and the dashboard name only metrics that
//! `edge::metrics` emits, and the dashboard shows every one of them.
//!
//! CloudFormation's short tags (`!Ref`, `!GetAtt`, `!Sub`, `!If`, …) are parsed as
//! tagged YAML values; their long forms (`Ref:`, `Fn::GetAtt:`) are understood too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_norway::Value;

/// Actions a function's adapters can make that the function never does, and why. An
/// entry that no longer matches a derived action fails the test, so this cannot rot.
const NOT_CALLED: &[(&str, &str, &str)] = &[
    (
        "AuditApiFunction",
        "dynamodb:PutItem",
        "the audit API reads the trail; appending is the SCIM and event functions' job",
    ),
    (
        "AuditApiFunction",
        "dynamodb:UpdateItem",
        "read-only, as above",
    ),
    (
        "AuditApiFunction",
        "dynamodb:ConditionCheckItem",
        "read-only, as above",
    ),
];

/// SDK calls adapters make for local runs, tests and tools only, never on a deployed
/// function's path: (adapter module, action, where it is used).
const LOCAL_ONLY: &[(&str, &str, &str)] = &[
    (
        "dynamodb_audit",
        "dynamodb:CreateTable",
        "create_table: the tests and scimgw's local runs make their table",
    ),
    (
        "dynamodb_audit",
        "dynamodb:UpdateTimeToLive",
        "create_table, as above",
    ),
    (
        "dynamodb_audit",
        "dynamodb:BatchWriteItem",
        "DynamoDbLedger::bulk_load: the query benchmark's loader",
    ),
    (
        "dynamodb_mirror",
        "dynamodb:CreateTable",
        "create_table: the tests make their state table",
    ),
    (
        "dynamodb_mirror",
        "dynamodb:UpdateTimeToLive",
        "create_table, as above",
    ),
];

/// The environment variable each DynamoDB adapter module's table is named by, in every
/// function that uses it: the module's actions are due on that table, and only there.
/// A module that makes DynamoDB calls and is missing here fails the test.
const ADAPTER_TABLES: &[(&str, &str)] = &[
    ("dynamodb_audit", "AUDIT_TABLE_NAME"),
    ("dynamodb_mirror", "STATE_TABLE_NAME"),
];

/// Actions every function needs from the platform rather than its code: writing its
/// own logs, and X-Ray segments (which support no resource-level permissions).
const LOG_ACTIONS: [&str; 2] = ["logs:CreateLogStream", "logs:PutLogEvents"];
const TRACE_ACTIONS: [&str; 2] = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"];

/// The operations of the SDK clients the adapters use (the `operation` modules of
/// aws-sdk-dynamodb, aws-sdk-secretsmanager and aws-sdk-sqs 1.x).
const SDK_OPERATIONS: &[(&str, &str, &[&str])] = &[
    (
        "aws_sdk_dynamodb",
        "dynamodb",
        &[
            "batch_execute_statement",
            "batch_get_item",
            "batch_write_item",
            "create_backup",
            "create_global_table",
            "create_table",
            "delete_backup",
            "delete_item",
            "delete_resource_policy",
            "delete_table",
            "describe_backup",
            "describe_continuous_backups",
            "describe_contributor_insights",
            "describe_endpoints",
            "describe_export",
            "describe_global_table",
            "describe_global_table_settings",
            "describe_import",
            "describe_kinesis_streaming_destination",
            "describe_limits",
            "describe_table",
            "describe_table_replica_auto_scaling",
            "describe_time_to_live",
            "disable_kinesis_streaming_destination",
            "enable_kinesis_streaming_destination",
            "execute_statement",
            "execute_transaction",
            "export_table_to_point_in_time",
            "get_item",
            "get_resource_policy",
            "import_table",
            "list_backups",
            "list_contributor_insights",
            "list_exports",
            "list_global_tables",
            "list_imports",
            "list_tables",
            "list_tags_of_resource",
            "put_item",
            "put_resource_policy",
            "query",
            "restore_table_from_backup",
            "restore_table_to_point_in_time",
            "scan",
            "search_vectors",
            "tag_resource",
            "transact_get_items",
            "transact_write_items",
            "untag_resource",
            "update_continuous_backups",
            "update_contributor_insights",
            "update_global_table",
            "update_global_table_settings",
            "update_item",
            "update_kinesis_streaming_destination",
            "update_table",
            "update_table_replica_auto_scaling",
            "update_time_to_live",
        ],
    ),
    (
        "aws_sdk_secretsmanager",
        "secretsmanager",
        &[
            "batch_get_secret_value",
            "cancel_rotate_secret",
            "create_secret",
            "delete_resource_policy",
            "delete_secret",
            "describe_secret",
            "get_random_password",
            "get_resource_policy",
            "get_secret_value",
            "list_secret_version_ids",
            "list_secrets",
            "put_resource_policy",
            "put_secret_value",
            "remove_regions_from_replication",
            "replicate_secret_to_regions",
            "restore_secret",
            "rotate_secret",
            "stop_replication_to_replica",
            "tag_resource",
            "untag_resource",
            "update_secret",
            "update_secret_version_stage",
            "validate_resource_policy",
        ],
    ),
    (
        "aws_sdk_sqs",
        "sqs",
        &[
            "add_permission",
            "cancel_message_move_task",
            "change_message_visibility",
            "change_message_visibility_batch",
            "create_queue",
            "delete_message",
            "delete_message_batch",
            "delete_queue",
            "get_queue_attributes",
            "get_queue_url",
            "list_dead_letter_source_queues",
            "list_message_move_tasks",
            "list_queue_tags",
            "list_queues",
            "purge_queue",
            "receive_message",
            "remove_permission",
            "send_message",
            "send_message_batch",
            "set_queue_attributes",
            "start_message_move_task",
            "tag_queue",
            "untag_queue",
        ],
    ),
];

// ---------------------------------------------------------------------------------------
// Reading the template and the code

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn read(path: impl AsRef<Path>) -> String {
    let path = root().join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn template() -> Value {
    serde_norway::from_str(&read("template.yaml")).expect("template.yaml is valid YAML")
}

fn resources(template: &Value) -> &serde_norway::Mapping {
    template["Resources"]
        .as_mapping()
        .expect("Resources is a mapping")
}

fn resource_type<'a>(template: &'a Value, id: &str) -> Option<&'a str> {
    template["Resources"].get(id)?.get("Type")?.as_str()
}

/// A CloudFormation intrinsic in either form: `!Name value` or `{Fn::Name: value}`
/// (`Ref` has no `Fn::`).
fn intrinsic(value: &Value) -> Option<(String, &Value)> {
    match value {
        Value::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            Some((tag.trim_start_matches('!').to_owned(), &tagged.value))
        }
        Value::Mapping(map) if map.len() == 1 => {
            let (key, inner) = map.iter().next()?;
            let key = key.as_str()?;
            let name = key
                .strip_prefix("Fn::")
                .or((key == "Ref").then_some("Ref"))?;
            Some((name.to_owned(), inner))
        }
        _ => None,
    }
}

/// The logical ids (resources or parameters) a value refers to, anywhere inside it.
fn refs(value: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    collect_refs(value, &mut out);
    out
}

fn collect_refs(value: &Value, out: &mut BTreeSet<String>) {
    if let Some((name, inner)) = intrinsic(value) {
        match name.as_str() {
            "Ref" => {
                if let Some(id) = inner.as_str() {
                    out.insert(id.to_owned());
                }
                return;
            }
            "GetAtt" => {
                let id = match inner {
                    Value::String(s) => s.split('.').next().map(str::to_owned),
                    Value::Sequence(parts) => {
                        parts.first().and_then(Value::as_str).map(str::to_owned)
                    }
                    _ => None,
                };
                out.extend(id);
                return;
            }
            "Sub" => {
                let (text, vars) = match inner {
                    Value::String(s) => (s.as_str(), None),
                    Value::Sequence(parts) => (
                        parts.first().and_then(Value::as_str).unwrap_or(""),
                        parts.get(1),
                    ),
                    _ => ("", None),
                };
                out.extend(sub_names(text));
                if let Some(vars) = vars {
                    collect_refs(vars, out);
                }
                return;
            }
            _ => {}
        }
        collect_refs(inner, out);
        return;
    }
    match value {
        Value::Sequence(items) => items.iter().for_each(|v| collect_refs(v, out)),
        Value::Mapping(map) => map.values().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// The logical ids in a `!Sub` string: `${Id}` and `${Id.Attribute}`, not `${AWS::…}`
/// pseudo parameters and not `${!literal}`.
fn sub_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        if !name.starts_with('!') && !name.contains("::") {
            names.push(name.split('.').next().unwrap_or(name).to_owned());
        }
        rest = &after[end..];
    }
    names
}

/// A list that may be written as a single value.
fn one_or_many(value: &Value) -> Vec<&Value> {
    match value {
        Value::Sequence(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// A policy statement, with the condition it is included under (`!If [Cond, stmt, NoValue]`).
struct Statement<'a> {
    value: &'a Value,
    condition: Option<String>,
}

impl Statement<'_> {
    fn actions(&self) -> Vec<String> {
        one_or_many(&self.value["Action"])
            .iter()
            .filter_map(|a| a.as_str())
            .map(str::to_owned)
            .collect()
    }

    fn resources(&self) -> Vec<&Value> {
        one_or_many(&self.value["Resource"])
    }

    fn sid(&self) -> String {
        self.value["Sid"].as_str().unwrap_or("(no Sid)").to_owned()
    }
}

fn statements(role: &Value) -> Vec<Statement<'_>> {
    let mut out = Vec::new();
    for policy in one_or_many(&role["Properties"]["Policies"]) {
        for statement in one_or_many(&policy["PolicyDocument"]["Statement"]) {
            match intrinsic(statement) {
                Some((name, Value::Sequence(branches))) if name == "If" => {
                    let condition = branches.first().and_then(Value::as_str).map(str::to_owned);
                    for branch in branches.iter().skip(1) {
                        let is_no_value = intrinsic(branch)
                            .is_some_and(|(n, v)| n == "Ref" && v.as_str() == Some("AWS::NoValue"));
                        if !is_no_value {
                            out.push(Statement {
                                value: branch,
                                condition: condition.clone(),
                            });
                        }
                    }
                }
                _ => out.push(Statement {
                    value: statement,
                    condition: None,
                }),
            }
        }
    }
    out
}

/// A function of the template, with what the test needs to know about it.
struct Function<'a> {
    id: String,
    value: &'a Value,
    globals: &'a Value,
}

impl<'a> Function<'a> {
    /// A property, from the function or else from `Globals.Function`.
    fn property(&self, name: &str) -> &'a Value {
        match self.value["Properties"].get(name) {
            Some(v) => v,
            None => &self.globals[name],
        }
    }

    fn code_uri(&self) -> String {
        self.value["Properties"]["CodeUri"]
            .as_str()
            .expect("CodeUri is a path")
            .to_owned()
    }

    fn role_id(&self) -> String {
        let role = refs(&self.value["Properties"]["Role"]);
        assert_eq!(
            role.len(),
            1,
            "{}: Role must be !GetAtt <its own role>.Arn",
            self.id
        );
        role.into_iter().next().unwrap_or_default()
    }

    fn log_group_id(&self) -> String {
        let group = refs(&self.value["Properties"]["LoggingConfig"]["LogGroup"]);
        assert_eq!(
            group.len(),
            1,
            "{}: LoggingConfig.LogGroup must be !Ref its log group",
            self.id
        );
        group.into_iter().next().unwrap_or_default()
    }

    /// The resources its environment variables name.
    fn environment_refs(&self) -> BTreeSet<String> {
        refs(&self.value["Properties"]["Environment"])
    }

    /// The resources one environment variable names.
    fn variable_refs(&self, variable: &str) -> BTreeSet<String> {
        self.value["Properties"]["Environment"]["Variables"]
            .get(variable)
            .map(refs)
            .unwrap_or_default()
    }

    /// Its Rust source: every file under `<CodeUri>/src`.
    fn source(&self) -> String {
        rust_files(&root().join(self.code_uri()).join("src"))
            .iter()
            .map(std::fs::read_to_string)
            .filter_map(Result::ok)
            .collect()
    }
}

fn functions(template: &Value) -> Vec<Function<'_>> {
    resources(template)
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(id, value)| Function {
            id: id.as_str().unwrap_or_default().to_owned(),
            value,
            globals: &template["Globals"]["Function"],
        })
        .collect()
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(rust_files(&path));
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The code of a file without its test module (by convention the last item).
fn without_tests(source: &str) -> &str {
    source
        .find("#[cfg(test)]")
        .map_or(source, |at| &source[..at])
}

fn is_word_in(word: &str, text: &str) -> bool {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

// ---------------------------------------------------------------------------------------
// Deriving the AWS calls from the code

/// The `aws_adapters` modules and the public names each exports (from its `lib.rs`).
fn adapter_modules() -> BTreeMap<String, Vec<String>> {
    let lib = read("shared/aws-adapters/src/lib.rs");
    let mut modules: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in lib.lines().map(str::trim) {
        if let Some(module) = line
            .strip_prefix("pub mod ")
            .and_then(|m| m.strip_suffix(';'))
        {
            modules
                .entry(module.to_owned())
                .or_default()
                .push(module.to_owned());
        }
        if let Some(rest) = line
            .strip_prefix("pub use ")
            .and_then(|m| m.strip_suffix(';'))
        {
            let (module, names) = rest.split_once("::").unwrap_or((rest, ""));
            let names = names.trim_start_matches('{').trim_end_matches('}');
            modules.entry(module.to_owned()).or_default().extend(
                names
                    .split(',')
                    .map(|n| n.trim().to_owned())
                    .filter(|n| !n.is_empty()),
            );
        }
    }
    modules
}

/// The source files of an adapter module: `<module>.rs` and anything under `<module>/`.
fn adapter_files(module: &str) -> Vec<PathBuf> {
    let dir = root().join("shared/aws-adapters/src");
    let mut files = vec![dir.join(format!("{module}.rs"))];
    files.extend(rust_files(&dir.join(module)));
    files.into_iter().filter(|f| f.exists()).collect()
}

/// The adapter modules a function's source uses.
fn modules_used(source: &str) -> BTreeSet<String> {
    adapter_modules()
        .into_iter()
        .filter(|(_, names)| names.iter().any(|n| is_word_in(n, source)))
        .map(|(module, _)| module)
        .collect()
}

/// An AWS call found in code, as the IAM actions it needs and whether it reads an index.
#[derive(Debug, Default)]
struct Calls {
    actions: BTreeSet<String>,
    uses_index: bool,
}

/// The SDK calls in some code, as IAM actions.
fn sdk_calls(code: &str) -> Calls {
    let mut calls = Calls::default();
    for (krate, prefix, operations) in SDK_OPERATIONS {
        if !code.contains(krate) {
            continue;
        }
        for op in *operations {
            if !code.contains(&format!(".{op}()")) {
                continue;
            }
            calls.actions.extend(iam_actions(prefix, op, code));
        }
    }
    calls.uses_index = code.contains(".index_name(");
    calls
}

/// The IAM actions one SDK operation needs. Most are the operation's name; the
/// exceptions are the DynamoDB transactions (authorized per item action) and the SQS
/// batches (authorized as their single-message actions).
fn iam_actions(prefix: &str, op: &str, code: &str) -> Vec<String> {
    let action = |name: &str| format!("{prefix}:{name}");
    match (prefix, op) {
        ("dynamodb", "transact_write_items") => [
            ("Put::builder()", "PutItem"),
            ("Update::builder()", "UpdateItem"),
            ("Delete::builder()", "DeleteItem"),
            ("ConditionCheck::builder()", "ConditionCheckItem"),
        ]
        .iter()
        .filter(|(builder, _)| is_word_in(builder, code))
        .map(|(_, name)| action(name))
        .collect(),
        ("dynamodb", "transact_get_items") => vec![action("GetItem")],
        ("dynamodb", "execute_statement" | "batch_execute_statement" | "execute_transaction") => {
            panic!(
                "PartiQL ({op}) maps to dynamodb:PartiQL* actions; teach template_policy.rs which"
            )
        }
        ("sqs", op) if op.ends_with("_batch") => {
            vec![action(&pascal(op.trim_end_matches("_batch")))]
        }
        ("secretsmanager", "batch_get_secret_value") => {
            vec![action("BatchGetSecretValue"), action("GetSecretValue")]
        }
        _ => vec![action(&pascal(op))],
    }
}

fn pascal(snake: &str) -> String {
    snake
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// What an adapter module's code can call on a deployed function's path: its SDK
/// calls less its local-only ones.
fn module_calls(module: &str) -> Calls {
    let mut calls = Calls::default();
    for file in adapter_files(module) {
        let code = std::fs::read_to_string(&file).unwrap_or_default();
        let found = sdk_calls(without_tests(&code));
        calls.uses_index |= found.uses_index;
        calls.actions.extend(
            found
                .actions
                .into_iter()
                .filter(|a| !LOCAL_ONLY.iter().any(|(m, l, _)| *m == module && l == a)),
        );
    }
    calls
}

/// What a function's code can call: its own SDK calls and those of the adapter modules
/// it uses, less the adapters' local-only calls.
fn derived_calls(function: &Function<'_>) -> (Calls, BTreeSet<String>) {
    let source = function.source();
    let modules = modules_used(&source);
    let mut calls = sdk_calls(&source);
    for module in &modules {
        let found = module_calls(module);
        calls.uses_index |= found.uses_index;
        calls.actions.extend(found.actions);
    }
    (calls, modules)
}

fn is_dynamodb(action: &str) -> bool {
    action.starts_with("dynamodb:")
}

/// The DynamoDB actions a function's code makes on each table, by the variable each
/// adapter module reads its table from; problems when that cannot be told.
fn dynamodb_calls_by_table(
    function: &Function<'_>,
    template: &Value,
    not_called: &BTreeSet<String>,
    problems: &mut Vec<String>,
) -> BTreeMap<String, BTreeSet<String>> {
    let id = &function.id;
    let source = function.source();
    let is_table = |r: &String| resource_type(template, r) == Some("AWS::DynamoDB::Table");
    let tables: BTreeSet<String> = function
        .environment_refs()
        .into_iter()
        .filter(|r| is_table(r))
        .collect();
    let mut due: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for module in modules_used(&source) {
        let actions: BTreeSet<String> = module_calls(&module)
            .actions
            .into_iter()
            .filter(|a| is_dynamodb(a) && !not_called.contains(a))
            .collect();
        if actions.is_empty() {
            continue;
        }
        let Some((_, variable)) = ADAPTER_TABLES.iter().find(|(m, _)| *m == module) else {
            problems.push(format!(
                "{module} makes DynamoDB calls; name the variable its table comes from in ADAPTER_TABLES"
            ));
            continue;
        };
        let named: BTreeSet<String> = function
            .variable_refs(variable)
            .into_iter()
            .filter(|r| is_table(r))
            .collect();
        if named.len() != 1 {
            problems.push(format!(
                "{id}: uses {module}, whose table {variable} must name (one table), not {named:?}"
            ));
        }
        for table in named {
            due.entry(table)
                .or_default()
                .extend(actions.iter().cloned());
        }
    }
    // The function's own DynamoDB calls (none today) could be on any of its tables.
    let own: BTreeSet<String> = sdk_calls(&source)
        .actions
        .into_iter()
        .filter(|a| is_dynamodb(a) && !not_called.contains(a))
        .collect();
    for table in &tables {
        due.entry(table.clone())
            .or_default()
            .extend(own.iter().cloned());
        if due.get(table).is_none_or(BTreeSet::is_empty) {
            problems.push(format!(
                "{id}: its environment names {table}, which none of its code uses"
            ));
        }
    }
    due
}

// ---------------------------------------------------------------------------------------
// The checks

#[test]
fn the_policy_test_derives_calls_from_adapter_code() {
    // Guards the derivation itself, so that a policy check cannot pass by finding nothing.
    let code = r#"
        use aws_sdk_dynamodb::types::{Put, ConditionCheck};
        client.transact_write_items().transact_items(TransactWriteItem::builder().put(Put::builder().build()).build()).send();
        client.query().index_name("time-index").send();
        other.query(&pairs);
    "#;
    let calls = sdk_calls(code);
    assert_eq!(
        calls.actions.into_iter().collect::<Vec<_>>(),
        ["dynamodb:PutItem", "dynamodb:Query"],
        "ConditionCheck is imported but never built; reqwest's .query(..) is not an SDK call"
    );
    assert!(calls.uses_index);
    assert_eq!(
        iam_actions("sqs", "send_message_batch", ""),
        ["sqs:SendMessage"]
    );
    assert_eq!(pascal("list_secret_version_ids"), "ListSecretVersionIds");
    assert!(modules_used("let s = SecretsManagerSource::new(c, ttl);").contains("secrets_manager"));
    assert!(!modules_used("let s = SecretsManagerSourceX;").contains("secrets_manager"));
    assert!(modules_used("DynamoDbMirror::new(c, t, clock)").contains("dynamodb_mirror"));

    // Every module that calls DynamoDB says where its table comes from, and every entry
    // of ADAPTER_TABLES is such a module.
    let modules = adapter_modules();
    for module in modules.keys() {
        if module_calls(module).actions.iter().any(|a| is_dynamodb(a)) {
            assert!(
                ADAPTER_TABLES.iter().any(|(m, _)| m == module),
                "{module} calls DynamoDB but is not in ADAPTER_TABLES"
            );
        }
    }
    for (module, _) in ADAPTER_TABLES {
        assert!(
            module_calls(module).actions.iter().any(|a| is_dynamodb(a)),
            "ADAPTER_TABLES lists {module}, which makes no DynamoDB call"
        );
    }
}

#[test]
fn every_function_is_built_with_cargo_lambda_for_arm64_with_json_logs_and_tracing() {
    let template = template();
    let functions = functions(&template);
    assert!(
        functions.len() >= 3,
        "scim-api, audit-api and token-age at least"
    );
    for function in &functions {
        let id = &function.id;
        assert_eq!(
            function.value["Metadata"]["BuildMethod"].as_str(),
            Some("rust-cargolambda"),
            "{id}"
        );
        assert_eq!(
            function.property("Runtime").as_str(),
            Some("provided.al2023"),
            "{id}"
        );
        let architectures: Vec<_> = one_or_many(function.property("Architectures"))
            .iter()
            .filter_map(|a| a.as_str())
            .collect();
        assert_eq!(architectures, ["arm64"], "{id}");
        assert_eq!(
            function.property("Tracing").as_str(),
            Some("Active"),
            "{id}"
        );
        assert_eq!(
            function.globals["LoggingConfig"]["LogFormat"].as_str(),
            Some("JSON"),
            "{id}: Globals"
        );
        assert!(
            function.value["Properties"]["LoggingConfig"]
                .get("LogFormat")
                .is_none_or(|f| f.as_str() == Some("JSON")),
            "{id}"
        );
        // The binary named in the template is the one the crate builds.
        let binary = function.value["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_default();
        let manifest = read(Path::new(&function.code_uri()).join("Cargo.toml"));
        assert!(
            manifest.contains(&format!("name = \"{binary}\"")),
            "{id}: {binary} is not a binary of {}",
            function.code_uri()
        );
        // Its own log group, with a retention.
        let group = function.log_group_id();
        assert_eq!(
            resource_type(&template, &group),
            Some("AWS::Logs::LogGroup"),
            "{id}"
        );
        assert!(
            template["Resources"][group.as_str()]["Properties"]
                .get("RetentionInDays")
                .is_some(),
            "{id}: {group} has no retention"
        );
    }
}

#[test]
fn each_function_has_its_own_role_granting_exactly_what_its_code_calls() {
    let problems = policy_problems(&template());
    assert!(
        problems.is_empty(),
        "template.yaml's IAM policies:\n  {}",
        problems.join("\n  ")
    );
}

/// The problems the policy check finds in the template with one role's statements edited.
fn problems_after(role: &str, edit: impl FnOnce(&mut Vec<Value>)) -> Vec<String> {
    let mut template = template();
    let statements = &mut template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]
        ["Statement"];
    match statements {
        Value::Sequence(statements) => edit(statements),
        _ => panic!("{role} has no statement list"),
    }
    policy_problems(&template)
}

#[test]
fn the_policy_check_catches_excess_missing_wildcard_and_foreign_grants() {
    let statement = |yaml: &str| -> Value { serde_norway::from_str(yaml).unwrap() };
    let mentions = |problems: &[String], text: &str| problems.iter().any(|p| p.contains(text));

    let excess = problems_after("AuditApiRole", |s| {
        s.push(statement(
            "{Sid: Extra, Effect: Allow, Action: [dynamodb:Scan], Resource: !GetAtt AuditTable.Arn}",
        ))
    });
    assert!(
        mentions(&excess, "grants dynamodb:Scan, which its code"),
        "{excess:?}"
    );

    let missing = problems_after("ScimApiRole", |s| {
        s.retain(|st| st["Sid"].as_str() != Some("Secrets"))
    });
    assert!(
        mentions(
            &missing,
            "calls secretsmanager:GetSecretValue, which its role does not grant"
        ),
        "{missing:?}"
    );

    let wildcard = problems_after("ScimApiRole", |s| {
        s.push(statement(
            "{Sid: Wild, Effect: Allow, Action: ['secretsmanager:*'], Resource: !Ref ScimTokensSecret}",
        ))
    });
    assert!(
        mentions(&wildcard, "wildcard action secretsmanager:*"),
        "{wildcard:?}"
    );

    let foreign = problems_after("AuditApiRole", |s| {
        s.push(statement(
            "{Sid: Foreign, Effect: Allow, Action: [dynamodb:GetItem], Resource: !GetAtt StateTable.Arn}",
        ))
    });
    assert!(mentions(&foreign, "StateTable is not a"), "{foreign:?}");

    // DynamoDB table by table: the mirror's DeleteItem granted on the audit table too,
    // or its statement on the state table gone.
    let wrong_table = problems_after("ScimApiRole", |s| {
        s.push(statement(
            "{Sid: Wrong, Effect: Allow, Action: [dynamodb:DeleteItem], Resource: !GetAtt AuditTable.Arn}",
        ))
    });
    assert!(
        mentions(
            &wrong_table,
            "grants dynamodb:DeleteItem on AuditTable, which its code never calls there"
        ),
        "{wrong_table:?}"
    );
    let no_mirror = problems_after("ScimApiRole", |s| {
        s.retain(|st| st["Sid"].as_str() != Some("StateTableMirror"))
    });
    assert!(
        mentions(
            &no_mirror,
            "calls dynamodb:GetItem on StateTable, which its role does not grant there"
        ),
        "{no_mirror:?}"
    );
    let merged = problems_after("ScimApiRole", |s| {
        s.retain(|st| st["Sid"].as_str() != Some("StateTableMirror"));
        s.push(statement(
            "{Sid: Merged, Effect: Allow, Action: [dynamodb:DeleteItem, dynamodb:GetItem, dynamodb:PutItem], Resource: [!GetAtt AuditTable.Arn, !GetAtt StateTable.Arn]}",
        ));
    });
    assert!(
        mentions(&merged, "grants dynamodb:DeleteItem on AuditTable"),
        "{merged:?}"
    );
    let foreign_logs = problems_after("ScimApiRole", |s| {
        s.push(statement(
            "{Sid: OtherLogs, Effect: Allow, Action: [logs:PutLogEvents], Resource: !GetAtt TokenAgeLogGroup.Arn}",
        ))
    });
    assert!(
        mentions(&foreign_logs, "on its own log group"),
        "{foreign_logs:?}"
    );
}

/// What is wrong with the template's roles, one line each (empty when all is well).
fn policy_problems(template: &Value) -> Vec<String> {
    let functions = functions(template);
    let mut roles_seen = BTreeSet::new();
    let mut problems = Vec::new();

    for function in &functions {
        let id = function.id.as_str();
        let role_id = function.role_id();
        assert!(
            roles_seen.insert(role_id.clone()),
            "{id}: role {role_id} is shared with another function"
        );
        let role = &template["Resources"][role_id.as_str()];
        assert_eq!(
            role["Type"].as_str(),
            Some("AWS::IAM::Role"),
            "{id}: {role_id}"
        );
        assert!(
            role["Properties"].get("ManagedPolicyArns").is_none(),
            "{id}: managed policies grant more than the code calls"
        );

        let (calls, modules) = derived_calls(function);
        let environment = function.environment_refs();
        let log_group = function.log_group_id();
        let mut granted = BTreeSet::new();
        let mut granted_on: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();

        for statement in statements(role) {
            let sid = statement.sid();
            assert_eq!(
                statement.value["Effect"].as_str(),
                Some("Allow"),
                "{id}/{sid}"
            );
            let actions = statement.actions();
            for action in &actions {
                if action.contains('*') {
                    problems.push(format!("{id}/{sid}: wildcard action {action}"));
                }
            }
            let resources = statement.resources();
            let resource_refs: BTreeSet<String> = resources.iter().flat_map(|r| refs(r)).collect();
            let literal_star = resources.iter().any(|r| r.as_str() == Some("*"));
            let services: BTreeSet<&str> =
                actions.iter().filter_map(|a| a.split(':').next()).collect();
            assert_eq!(
                services.len(),
                1,
                "{id}/{sid}: one service per statement keeps resources checkable"
            );
            let service = services.into_iter().next().unwrap_or_default();

            match service {
                "logs" => {
                    if actions.iter().any(|a| !LOG_ACTIONS.contains(&a.as_str()))
                        || resource_refs != BTreeSet::from([log_group.clone()])
                        || literal_star
                    {
                        problems.push(format!("{id}/{sid}: logs actions must be {LOG_ACTIONS:?} on its own log group {log_group} only"));
                    }
                }
                "xray" => {
                    if actions.iter().any(|a| !TRACE_ACTIONS.contains(&a.as_str())) {
                        problems.push(format!(
                            "{id}/{sid}: only {TRACE_ACTIONS:?} may use Resource \"*\""
                        ));
                    }
                }
                "kms" => {
                    // Only with a customer-managed key, only through the services the code
                    // uses, and encrypting only for a function that writes to DynamoDB.
                    let via: BTreeSet<String> = one_or_many(
                        &statement.value["Condition"]["StringEquals"]["kms:ViaService"],
                    )
                    .iter()
                    .filter_map(|v| match intrinsic(v) {
                        Some((name, inner)) if name == "Sub" => inner.as_str(),
                        _ => v.as_str(),
                    })
                    .filter_map(|service| service.split('.').next())
                    .map(str::to_owned)
                    .collect();
                    let used: BTreeSet<String> = calls
                        .actions
                        .iter()
                        .filter_map(|a| a.split(':').next())
                        .map(str::to_owned)
                        .collect();
                    let writes = calls.actions.iter().any(|a| {
                        a.starts_with("dynamodb:")
                            && ["Put", "Update", "Delete", "ConditionCheck", "BatchWrite"]
                                .iter()
                                .any(|verb| a["dynamodb:".len()..].starts_with(verb))
                    });
                    let allowed: &[&str] = if writes {
                        &["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
                    } else {
                        &["kms:Decrypt"]
                    };
                    if statement.condition.as_deref() != Some("HasKmsKey")
                        || actions.iter().any(|a| !allowed.contains(&a.as_str()))
                        || resource_refs != BTreeSet::from(["KmsKeyArn".to_owned()])
                        || via.is_empty()
                        || !via.is_subset(&used)
                    {
                        problems.push(format!(
                            "{id}/{sid}: kms must be {allowed:?} on KmsKeyArn, under HasKmsKey, \
                             via the services its code uses ({used:?}), not {actions:?} via {via:?}"
                        ));
                    }
                }
                "dynamodb" | "secretsmanager" | "sqs" => {
                    granted.extend(actions.iter().cloned());
                    let kind = match service {
                        "dynamodb" => "AWS::DynamoDB::Table",
                        "secretsmanager" => "AWS::SecretsManager::Secret",
                        _ => "AWS::SQS::Queue",
                    };
                    if literal_star {
                        problems.push(format!("{id}/{sid}: Resource \"*\" for {service}"));
                    }
                    // Its own resources only: those its environment names.
                    for r in &resource_refs {
                        if resource_type(template, r) != Some(kind) || !environment.contains(r) {
                            problems.push(format!(
                                "{id}/{sid}: {r} is not a {kind} its environment names"
                            ));
                        }
                    }
                    if service == "dynamodb" {
                        // Checked table by table below.
                        for r in &resource_refs {
                            granted_on
                                .entry(r.clone())
                                .or_default()
                                .extend(actions.iter().cloned());
                        }
                    } else {
                        // Every such resource it is told about is granted (the code uses
                        // what it is given).
                        for r in environment
                            .iter()
                            .filter(|r| resource_type(template, r) == Some(kind))
                        {
                            if !resource_refs.contains(r) {
                                problems.push(format!("{id}/{sid}: its environment names {r}, which the statement does not grant"));
                            }
                        }
                    }
                    let index_arns = resources.iter().filter(|r| {
                        intrinsic(r).is_some_and(|(n, v)| {
                            n == "Sub" && v.as_str().is_some_and(|s| s.ends_with("/index/*"))
                        })
                    });
                    if index_arns.count() > 0 && !calls.uses_index {
                        problems.push(format!(
                            "{id}/{sid}: grants index access its code never uses"
                        ));
                    }
                }
                other => problems.push(format!("{id}/{sid}: unexpected service {other}")),
            }
        }

        let not_called: BTreeSet<String> = NOT_CALLED
            .iter()
            .filter(|(f, _, _)| *f == id)
            .map(|(_, a, _)| (*a).to_owned())
            .collect();
        // DynamoDB, table by table: exactly the actions of the adapters bound to it.
        let due_on = dynamodb_calls_by_table(function, template, &not_called, &mut problems);
        let tables: BTreeSet<&String> = due_on.keys().chain(granted_on.keys()).collect();
        for table in tables {
            let due = due_on.get(table).cloned().unwrap_or_default();
            let given = granted_on.get(table).cloned().unwrap_or_default();
            for action in due.difference(&given) {
                problems.push(format!(
                    "{id}: its code calls {action} on {table}, which its role does not grant there"
                ));
            }
            for action in given.difference(&due) {
                problems.push(format!(
                    "{id}: grants {action} on {table}, which its code never calls there"
                ));
            }
        }
        for action in &calls.actions {
            if !granted.contains(action) && !not_called.contains(action) {
                problems.push(format!(
                    "{id}: its code ({modules:?}) calls {action}, which its role does not grant"
                ));
            }
        }
        for action in &granted {
            if !calls.actions.contains(action) {
                problems.push(format!(
                    "{id}: grants {action}, which its code ({modules:?}) never calls"
                ));
            }
        }
        for action in &not_called {
            if !calls.actions.contains(action) || granted.contains(action) {
                problems.push(format!(
                    "{id}: NOT_CALLED lists {action}, which its code cannot call or its role grants"
                ));
            }
        }
    }
    problems
}

#[test]
fn no_role_reaches_another_functions_resources() {
    let template = template();
    let functions = functions(&template);
    let own: BTreeMap<String, BTreeSet<String>> = functions
        .iter()
        .map(|f| {
            let mut mine = f.environment_refs();
            mine.insert(f.log_group_id());
            (f.role_id(), mine)
        })
        .collect();
    let everyones: BTreeSet<String> = own.values().flatten().cloned().collect();
    for (role, mine) in &own {
        for statement in statements(&template["Resources"][role.as_str()]) {
            for r in statement.resources().iter().flat_map(|r| refs(r)) {
                assert!(
                    mine.contains(&r) || !everyones.contains(&r),
                    "{role}/{}: {r} belongs to another function",
                    statement.sid()
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Metrics

/// The `scimgw` metric names the alarms use.
fn alarm_metric_names(template: &Value) -> Vec<String> {
    let mut names = Vec::new();
    for (_, resource) in resources(template) {
        if resource["Type"].as_str() != Some("AWS::CloudWatch::Alarm") {
            continue;
        }
        let properties = &resource["Properties"];
        if properties["Namespace"].as_str() == Some(edge::metrics::NAMESPACE) {
            names.extend(properties["MetricName"].as_str().map(str::to_owned));
            for dimension in one_or_many(&properties["Dimensions"]) {
                assert_eq!(
                    dimension["Name"].as_str(),
                    Some(edge::metrics::DIM_FUNCTION)
                );
            }
        }
        for metric in one_or_many(&properties["Metrics"]) {
            let metric = &metric["MetricStat"]["Metric"];
            if metric["Namespace"].as_str() == Some(edge::metrics::NAMESPACE) {
                names.extend(metric["MetricName"].as_str().map(str::to_owned));
            }
        }
    }
    names
}

/// The dashboard's body, with `${…}` substitutions replaced so that it parses as JSON.
fn dashboard_body(template: &Value) -> serde_json::Value {
    let (_, body) = resources(template)
        .values()
        .find(|r| r["Type"].as_str() == Some("AWS::CloudWatch::Dashboard"))
        .and_then(|d| intrinsic(&d["Properties"]["DashboardBody"]))
        .expect("a dashboard with a !Sub body");
    let mut text = body.as_str().expect("a string body").to_owned();
    while let Some(start) = text.find("${") {
        let end = text[start..]
            .find('}')
            .map_or(text.len(), |e| start + e + 1);
        text.replace_range(start..end, "1");
    }
    serde_json::from_str(&text).expect("the dashboard body is JSON")
}

/// The `scimgw` metric names a dashboard shows: in metric arrays and in SEARCH expressions.
fn dashboard_metric_names(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Array(items) => {
            if items.first().and_then(|v| v.as_str()) == Some(edge::metrics::NAMESPACE) {
                out.extend(items.get(1).and_then(|v| v.as_str()).map(str::to_owned));
            }
            items.iter().for_each(|v| dashboard_metric_names(v, out));
        }
        serde_json::Value::Object(map) => {
            if let Some(expression) = map.get("expression").and_then(|e| e.as_str())
                && expression.contains(&format!("{{{},", edge::metrics::NAMESPACE))
            {
                for part in expression.split("MetricName=\"").skip(1) {
                    out.extend(part.split('"').next().map(str::to_owned));
                }
            }
            map.values().for_each(|v| dashboard_metric_names(v, out));
        }
        _ => {}
    }
}

#[test]
fn alarms_and_dashboard_use_exactly_the_metrics_the_functions_emit() {
    let template = template();
    let emitted: BTreeSet<&str> = edge::metrics::METRIC_NAMES.into_iter().collect();

    let alarmed = alarm_metric_names(&template);
    for name in &alarmed {
        assert!(
            emitted.contains(name.as_str()),
            "an alarm uses {name}, which edge::metrics does not emit"
        );
    }
    // The alarms the deployment promises: Identity Center throttling and token age.
    for required in [
        edge::metrics::TARGET_THROTTLES,
        edge::metrics::TARGET_CALLS,
        edge::metrics::TARGET_TOKEN_AGE_DAYS,
    ] {
        assert!(
            alarmed.iter().any(|n| n == required),
            "no alarm on {required}"
        );
    }

    let mut shown = Vec::new();
    dashboard_metric_names(&dashboard_body(&template), &mut shown);
    for name in &shown {
        assert!(
            emitted.contains(name.as_str()),
            "the dashboard shows {name}, which edge::metrics does not emit"
        );
    }
    for name in emitted {
        assert!(
            shown.iter().any(|s| s == name),
            "the dashboard does not show {name}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Tables

#[test]
fn the_audit_table_is_the_one_the_adapter_creates() {
    use aws_adapters::dynamodb_audit::{INDEXES, TIME_SK, TTL_ATTRIBUTE};

    let template = template();
    let table = &template["Resources"]["AuditTable"]["Properties"];
    let key = |schema: &Value| -> Vec<(String, String)> {
        one_or_many(schema)
            .iter()
            .map(|k| {
                let field = |name: &str| k[name].as_str().unwrap_or_default().to_owned();
                (field("AttributeName"), field("KeyType"))
            })
            .collect()
    };
    assert_eq!(
        key(&table["KeySchema"]),
        [
            ("pk".to_owned(), "HASH".to_owned()),
            ("sk".to_owned(), "RANGE".to_owned())
        ]
    );
    let indexes: BTreeMap<String, Vec<(String, String)>> =
        one_or_many(&table["GlobalSecondaryIndexes"])
            .iter()
            .map(|gsi| {
                assert_eq!(gsi["Projection"]["ProjectionType"].as_str(), Some("ALL"));
                (
                    gsi["IndexName"].as_str().unwrap_or_default().to_owned(),
                    key(&gsi["KeySchema"]),
                )
            })
            .collect();
    let expected: BTreeMap<String, Vec<(String, String)>> = INDEXES
        .iter()
        .map(|(name, attribute)| {
            let schema = vec![
                ((*attribute).to_owned(), "HASH".to_owned()),
                (TIME_SK.to_owned(), "RANGE".to_owned()),
            ];
            ((*name).to_owned(), schema)
        })
        .collect();
    assert_eq!(indexes, expected);
    assert_eq!(
        table["TimeToLiveSpecification"]["AttributeName"].as_str(),
        Some(TTL_ATTRIBUTE)
    );
    for table_id in ["AuditTable", "StateTable"] {
        let resource = &template["Resources"][table_id];
        let properties = &resource["Properties"];
        assert_eq!(
            properties["BillingMode"].as_str(),
            Some("PAY_PER_REQUEST"),
            "{table_id}"
        );
        assert_eq!(
            properties["DeletionProtectionEnabled"].as_bool(),
            Some(true),
            "{table_id}"
        );
        assert_eq!(
            properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(),
            Some(true),
            "{table_id}"
        );
        assert_eq!(
            properties["TimeToLiveSpecification"]["Enabled"].as_bool(),
            Some(true),
            "{table_id}"
        );
        assert!(properties.get("SSESpecification").is_some(), "{table_id}");
        assert_eq!(
            resource["DeletionPolicy"].as_str(),
            Some("Retain"),
            "{table_id}"
        );
        assert_eq!(
            resource["UpdateReplacePolicy"].as_str(),
            Some("Retain"),
            "{table_id}"
        );
    }
}

#[test]
fn the_state_table_is_the_one_the_mirror_creates() {
    use aws_adapters::dynamodb_mirror::TTL_ATTRIBUTE;

    let template = template();
    let table = &template["Resources"]["StateTable"]["Properties"];
    let key: Vec<(&str, &str)> = one_or_many(&table["KeySchema"])
        .iter()
        .map(|k| {
            (
                k["AttributeName"].as_str().unwrap_or_default(),
                k["KeyType"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(key, [("pk", "HASH"), ("sk", "RANGE")]);
    let attributes: Vec<(&str, &str)> = one_or_many(&table["AttributeDefinitions"])
        .iter()
        .map(|a| {
            (
                a["AttributeName"].as_str().unwrap_or_default(),
                a["AttributeType"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(attributes, [("pk", "S"), ("sk", "S")]);
    assert_eq!(
        table["TimeToLiveSpecification"]["AttributeName"].as_str(),
        Some(TTL_ATTRIBUTE)
    );
}
