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
//! A role's grants are its inline policies and those of the `AWS::IAM::RolePolicy`,
//! `AWS::IAM::Policy` and `AWS::IAM::ManagedPolicy` resources attached to it.
//!
//! **Fences.** Each secret's resource policy, and the audit table's, denies reading the
//! value (writing the items) to every principal but exactly the roles whose grants read
//! it (write them) and the break-glass parameter, and allows nothing; writing a secret's
//! new value is never fenced. The fence rule alarms on exactly what the fences spare:
//! reads and writes by anyone but those roles, and changes to the fences.
//!
//! **Settings.** Every function is built with cargo-lambda from the binary its crate
//! defines, for `provided.al2023` on arm64, with JSON logs and X-Ray.
//!
//! **Metrics.** The alarms and the dashboard name only metrics that
//! `edge::metrics` emits, and the dashboard shows every one of them.
//!
//! **Rollout.** Every function is published behind an alias (`AutoPublishAlias`, its own or
//! `Globals.Function`'s), which its events invoke; every function with an API route shifts
//! that alias gradually (a canary or linear `DeploymentPreference`, `AllAtOnce` only by
//! choice of a parameter) and rolls it back on its own Lambda error alarm.
//!
//! **The edge.** Every route of every function, but the audit API's, is on a REST API
//! whose stage has a regional web ACL associated (written generally, so that the SCIM
//! routes today and the Okta event hook later are covered alike); no function has a
//! function URL around it. The web ACL limits each source IP and, with a parameter, admits
//! Okta's ranges only. The audit routes are on the HTTP API, behind its JWT authorizer.
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
///
/// `dynamodb_rule_store` (rule-set versions and the active pointer) is used today only
/// by `scimgw rules`, with the administrator's own credentials, so no function is granted
/// its calls yet; the function that reads the active set will name the state table in
/// `STATE_TABLE_NAME` and be granted its `Query` and `GetItem` there.
const ADAPTER_TABLES: &[(&str, &str)] = &[
    ("dynamodb_audit", "AUDIT_TABLE_NAME"),
    ("dynamodb_mirror", "STATE_TABLE_NAME"),
    ("dynamodb_rule_store", "STATE_TABLE_NAME"),
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

/// The policy documents that grant a role's permissions: its inline policies, and those
/// of the policy resources attached to it (`RoleName`, or `Roles`, naming it).
fn policy_documents<'a>(template: &'a Value, role_id: &str) -> Vec<&'a Value> {
    let role = &template["Resources"][role_id];
    let mut documents: Vec<&Value> = one_or_many(&role["Properties"]["Policies"])
        .into_iter()
        .map(|policy| &policy["PolicyDocument"])
        .collect();
    for (_, resource) in resources(template) {
        let attached = match resource["Type"].as_str() {
            Some("AWS::IAM::RolePolicy") => refs(&resource["Properties"]["RoleName"]),
            Some("AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy") => {
                refs(&resource["Properties"]["Roles"])
            }
            _ => continue,
        };
        if attached.contains(role_id) {
            documents.push(&resource["Properties"]["PolicyDocument"]);
        }
    }
    documents
}

fn statements<'a>(template: &'a Value, role_id: &str) -> Vec<Statement<'a>> {
    let mut out = Vec::new();
    for document in policy_documents(template, role_id) {
        for statement in one_or_many(&document["Statement"]) {
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
    // or its statements on the state table gone.
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
        s.retain(|st| {
            !matches!(
                st["Sid"].as_str(),
                Some("StateTableMirror" | "StateTableReads")
            )
        })
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

        for statement in statements(template, &role_id) {
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
        for statement in statements(&template, role) {
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
// The edge: which API each route is on, and the web ACL in front of the SCIM API

/// The binary of the one function whose routes are not behind the web ACL: the audit
/// API, whose callers API Gateway's JWT authorizer checks before the function does.
const AUDIT_API_BINARY: &str = "audit-api";

/// The context variables the SCIM API's access log must carry: API Gateway's ids, who
/// called what, the answer, the Lambda request id (the correlation id of the function's
/// logs and audit records), what the web ACL did, and the latency.
const SCIM_ACCESS_LOG_FIELDS: &[&str] = &[
    "$context.requestId",
    "$context.extendedRequestId",
    "$context.identity.sourceIp",
    "$context.httpMethod",
    "$context.resourcePath",
    "$context.status",
    "$context.integration.requestId",
    "$context.waf.error",
    "$context.waf.status",
    "$context.responseLatency",
];

/// A route of a function: one of its `Api` (REST) or `HttpApi` events.
struct Route<'a> {
    function: String,
    event: String,
    kind: String,
    properties: &'a Value,
}

impl Route<'_> {
    fn label(&self) -> String {
        format!(
            "{}/{} ({} {} {})",
            self.function,
            self.event,
            self.kind,
            self.properties["Method"].as_str().unwrap_or("?"),
            self.properties["Path"].as_str().unwrap_or("?")
        )
    }

    /// The API it names (`RestApiId` or `ApiId`); none for SAM's implicit APIs.
    fn api(&self) -> Option<String> {
        let key = if self.kind == "Api" {
            "RestApiId"
        } else {
            "ApiId"
        };
        let named = refs(&self.properties[key]);
        (named.len() == 1).then(|| named.into_iter().next().unwrap_or_default())
    }
}

fn binary<'a>(function: &Function<'a>) -> &'a str {
    function.value["Metadata"]["BuildProperties"]["Binary"]
        .as_str()
        .unwrap_or_default()
}

fn routes<'a>(function: &Function<'a>) -> Vec<Route<'a>> {
    let Some(events) = function.value["Properties"]["Events"].as_mapping() else {
        return Vec::new();
    };
    events
        .iter()
        .filter(|(_, event)| matches!(event["Type"].as_str(), Some("Api" | "HttpApi")))
        .map(|(name, event)| Route {
            function: function.id.clone(),
            event: name.as_str().unwrap_or_default().to_owned(),
            kind: event["Type"].as_str().unwrap_or_default().to_owned(),
            properties: &event["Properties"],
        })
        .collect()
}

/// A list item written as `!If [Condition, item, !Ref AWS::NoValue]`: the condition and
/// the item; a plain item has no condition.
fn conditional(item: &Value) -> (Option<String>, &Value) {
    match intrinsic(item) {
        Some((name, Value::Sequence(branches))) if name == "If" && branches.len() == 3 => {
            let no_value = intrinsic(&branches[2])
                .is_some_and(|(n, v)| n == "Ref" && v.as_str() == Some("AWS::NoValue"));
            if no_value {
                let condition = branches[0].as_str().map(str::to_owned);
                return (condition, &branches[1]);
            }
            (None, item)
        }
        _ => (None, item),
    }
}

/// The REST APIs whose stage has a regional web ACL associated, unconditionally, with
/// that web ACL: read from each `WebACLAssociation`'s `ResourceArn`
/// (`!Sub …/restapis/${Api}/stages/${Api.Stage}`) and `WebACLArn` (`!GetAtt Acl.Arn`).
fn web_acls_of_apis(template: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (_, resource) in resources(template) {
        if resource["Type"].as_str() != Some("AWS::WAFv2::WebACLAssociation")
            || resource.get("Condition").is_some()
        {
            continue;
        }
        let properties = &resource["Properties"];
        let Some((name, arn)) = intrinsic(&properties["ResourceArn"]) else {
            continue;
        };
        let Some(arn) = arn.as_str().filter(|_| name == "Sub") else {
            continue;
        };
        let Some(api) = arn
            .split_once("/restapis/${")
            .and_then(|(_, rest)| rest.split_once('}'))
            .map(|(api, _)| api.to_owned())
        else {
            continue;
        };
        let stage = arn
            .rsplit_once("/stages/")
            .map(|(_, s)| s)
            .unwrap_or_default();
        let stage_name = template["Resources"][api.as_str()]["Properties"]["StageName"].as_str();
        let whole_stage = stage == format!("${{{api}.Stage}}") || Some(stage) == stage_name;
        let acl = refs(&properties["WebACLArn"]);
        let Some(acl) = acl.iter().next().filter(|_| acl.len() == 1) else {
            continue;
        };
        let acl_resource = &template["Resources"][acl.as_str()];
        let regional = acl_resource["Type"].as_str() == Some("AWS::WAFv2::WebACL")
            && acl_resource.get("Condition").is_none()
            && acl_resource["Properties"]["Scope"].as_str() == Some("REGIONAL");
        if resource_type(template, &api) == Some("AWS::Serverless::Api") && whole_stage && regional
        {
            out.insert(api, acl.clone());
        }
    }
    out
}

/// What keeps an audit route from being on an HTTP API behind a JWT authorizer.
fn audit_route_problems(template: &Value, route: &Route<'_>) -> Vec<String> {
    let label = route.label();
    let Some(api) = route.api().filter(|_| route.kind == "HttpApi") else {
        return vec![format!(
            "{label}: an audit route must name the HTTP API (ApiId)"
        )];
    };
    if resource_type(template, &api) != Some("AWS::Serverless::HttpApi") {
        return vec![format!("{label}: {api} is not an HTTP API")];
    }
    let mut problems = Vec::new();
    if !route.properties["Path"]
        .as_str()
        .is_some_and(|p| p.starts_with("/audit/"))
    {
        problems.push(format!("{label}: an audit route is under /audit/"));
    }
    let auth = &template["Resources"][api.as_str()]["Properties"]["Auth"];
    let authorizer = route.properties["Auth"]["Authorizer"]
        .as_str()
        .or_else(|| auth["DefaultAuthorizer"].as_str())
        .unwrap_or("NONE");
    let jwt = &auth["Authorizers"][authorizer]["JwtConfiguration"];
    if jwt.get("issuer").is_none() || jwt.get("audience").is_none() {
        problems.push(format!(
            "{label}: its authorizer {authorizer} is not a JWT authorizer of {api} with an issuer and an audience"
        ));
    }
    problems
}

/// What lets a route reach a function around the web ACL, one line each (empty when
/// every route but the audit API's is on a REST API whose stage has the web ACL).
fn edge_problems(template: &Value) -> Vec<String> {
    let protected = web_acls_of_apis(template);
    let mut problems = Vec::new();
    for function in functions(template) {
        if function.value["Properties"]
            .get("FunctionUrlConfig")
            .is_some()
        {
            problems.push(format!(
                "{}: a function URL reaches the function around any web ACL",
                function.id
            ));
        }
        let is_audit_api = binary(&function) == AUDIT_API_BINARY;
        for route in routes(&function) {
            if is_audit_api {
                problems.extend(audit_route_problems(template, &route));
                continue;
            }
            let label = route.label();
            match route.api().filter(|_| route.kind == "Api") {
                Some(api) if protected.contains_key(&api) => {}
                Some(api) => problems.push(format!(
                    "{label}: {api} is not a REST API whose stage has a regional web ACL"
                )),
                None => problems.push(format!(
                    "{label}: not on a REST API of the template (RestApiId), so not behind the web ACL"
                )),
            }
        }
    }
    problems
}

/// The problems the edge check finds in the template after `edit`.
fn edge_problems_after(edit: impl FnOnce(&mut Value)) -> Vec<String> {
    let mut template = template();
    edit(&mut template);
    edge_problems(&template)
}

/// The SCIM API: the REST API the scim-api function's routes are on.
fn scim_api(template: &Value) -> String {
    let functions = functions(template);
    let scim = functions
        .iter()
        .find(|f| binary(f) == "scim-api")
        .expect("the scim-api function");
    let apis: BTreeSet<String> = routes(scim).iter().filter_map(Route::api).collect();
    assert_eq!(apis.len(), 1, "the SCIM routes are on one API: {apis:?}");
    apis.into_iter().next().unwrap_or_default()
}

#[test]
fn every_function_route_but_the_audit_apis_is_behind_the_web_acl() {
    let template = template();
    let problems = edge_problems(&template);
    assert!(
        problems.is_empty(),
        "routes around the web ACL:\n  {}",
        problems.join("\n  ")
    );

    // Not vacuously: the SCIM function's routes, its Identity Center-bound proxy and the
    // discovery endpoints, are all there.
    let functions = functions(&template);
    let scim = functions
        .iter()
        .find(|f| binary(f) == "scim-api")
        .expect("the scim-api function");
    let served: BTreeSet<(String, String)> = routes(scim)
        .iter()
        .map(|r| {
            let field = |name: &str| r.properties[name].as_str().unwrap_or_default().to_owned();
            (field("Method"), field("Path"))
        })
        .collect();
    for (method, path) in [
        ("ANY", "/scim/v2/{proxy+}"),
        ("GET", "/scim/v2/ServiceProviderConfig"),
        ("GET", "/scim/v2/Schemas"),
        ("GET", "/scim/v2/ResourceTypes"),
    ] {
        assert!(
            served.contains(&(method.to_owned(), path.to_owned())),
            "scim-api serves {method} {path}: {served:?}"
        );
    }
    assert!(web_acls_of_apis(&template).contains_key(&scim_api(&template)));
}

#[test]
fn the_edge_check_catches_routes_around_the_web_acl() {
    let hook = |api: &str| -> Value {
        let yaml = format!(
            "Type: AWS::Serverless::Function\n\
             Metadata: {{BuildMethod: rust-cargolambda, BuildProperties: {{Binary: okta-hook}}}}\n\
             Properties:\n  CodeUri: functions/okta-hook\n  Events:\n    Hook:\n      {api}\n"
        );
        serde_norway::from_str(&yaml).unwrap()
    };
    let mentions = |problems: &[String], text: &str| problems.iter().any(|p| p.contains(text));
    fn resources_of(t: &mut Value) -> &mut serde_norway::Mapping {
        t["Resources"].as_mapping_mut().expect("Resources")
    }

    // A future Okta event hook on the HTTP API, or on the REST API.
    let on_http_api = edge_problems_after(|t| {
        let function = hook(
            "Type: HttpApi\n      Properties: {ApiId: !Ref HttpApi, Path: /hooks/okta, Method: POST}",
        );
        resources_of(t).insert("OktaHookFunction".into(), function);
    });
    assert!(
        mentions(
            &on_http_api,
            "OktaHookFunction/Hook (HttpApi POST /hooks/okta)"
        ),
        "{on_http_api:?}"
    );
    let template = template();
    let scim = scim_api(&template);
    let on_rest_api = edge_problems_after(|t| {
        let function = hook(&format!(
            "Type: Api\n      Properties: {{RestApiId: !Ref {scim}, Path: /hooks/okta, Method: POST}}"
        ));
        resources_of(t).insert("OktaHookFunction".into(), function);
    });
    assert!(on_rest_api.is_empty(), "{on_rest_api:?}");

    // The SCIM proxy on SAM's implicit REST API.
    let implicit = edge_problems_after(|t| {
        let properties =
            &mut t["Resources"]["ScimApiFunction"]["Properties"]["Events"]["Scim"]["Properties"];
        properties
            .as_mapping_mut()
            .expect("event properties")
            .remove("RestApiId");
    });
    assert!(
        mentions(
            &implicit,
            "ScimApiFunction/Scim (Api ANY /scim/v2/{proxy+}): not on a REST API"
        ),
        "{implicit:?}"
    );

    // The web ACL no longer associated, or only under a condition.
    let association: Vec<String> = resources(&template)
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::WAFv2::WebACLAssociation"))
        .filter_map(|(id, _)| id.as_str().map(str::to_owned))
        .collect();
    let unassociated = edge_problems_after(|t| {
        for id in &association {
            resources_of(t).remove(id.as_str());
        }
    });
    assert!(
        mentions(
            &unassociated,
            "is not a REST API whose stage has a regional web ACL"
        ),
        "{unassociated:?}"
    );
    let conditional_association = edge_problems_after(|t| {
        for id in &association {
            t["Resources"][id.as_str()]["Condition"] = Value::from("HasOktaIpAllowList");
        }
    });
    assert!(
        !conditional_association.is_empty(),
        "an association under a condition is not always there"
    );

    // A function URL, and an audit route without its authorizer.
    let url = edge_problems_after(|t| {
        t["Resources"]["AuditApiFunction"]["Properties"]["FunctionUrlConfig"] =
            serde_norway::from_str("{AuthType: NONE}").unwrap();
    });
    assert!(
        mentions(&url, "AuditApiFunction: a function URL"),
        "{url:?}"
    );
    let unauthorized = edge_problems_after(|t| {
        let events = t["Resources"]["AuditApiFunction"]["Properties"]["Events"]
            .as_mapping_mut()
            .expect("audit events");
        for (_, event) in events.iter_mut() {
            if let Some(properties) = event["Properties"].as_mapping_mut() {
                properties.remove("Auth");
            }
        }
    });
    assert!(
        mentions(&unauthorized, "is not a JWT authorizer"),
        "{unauthorized:?}"
    );
}

#[test]
fn the_audit_routes_are_on_the_http_api_behind_its_jwt_authorizer() {
    let template = template();
    let functions = functions(&template);
    let audit = functions
        .iter()
        .find(|f| binary(f) == AUDIT_API_BINARY)
        .expect("the audit-api function");
    let routes = routes(audit);
    assert!(!routes.is_empty(), "the audit API has routes");
    for route in &routes {
        let problems = audit_route_problems(&template, route);
        assert!(problems.is_empty(), "{problems:?}");
    }
}

#[test]
fn the_web_acl_limits_each_source_ip_and_can_admit_only_oktas_ranges() {
    let template = template();
    let acls = web_acls_of_apis(&template);
    let acl_id = acls
        .get(&scim_api(&template))
        .expect("the SCIM API's web ACL");
    let acl = &template["Resources"][acl_id.as_str()]["Properties"];
    assert!(
        acl["DefaultAction"].get("Allow").is_some(),
        "{acl_id}: the allow-list rule blocks, the default allows"
    );
    assert_eq!(
        acl["VisibilityConfig"]["CloudWatchMetricsEnabled"].as_bool(),
        Some(true),
        "{acl_id}: metrics"
    );
    let rules: Vec<(Option<String>, &Value)> = one_or_many(&acl["Rules"])
        .into_iter()
        .map(conditional)
        .collect();
    for (_, rule) in &rules {
        assert_eq!(
            rule["VisibilityConfig"]["CloudWatchMetricsEnabled"].as_bool(),
            Some(true),
            "{acl_id}/{}: metrics",
            rule["Name"].as_str().unwrap_or("?")
        );
    }
    let parameter_default = |value: &Value| -> Option<String> {
        let named = refs(value);
        let parameter = named.iter().next().filter(|_| named.len() == 1)?;
        let default = &template["Parameters"][parameter.as_str()]["Default"];
        default
            .as_str()
            .map(str::to_owned)
            .or_else(|| default.as_u64().map(|n| n.to_string()))
    };

    // The rate rule: always there, per source IP, from a parameter with a default.
    let (rate_condition, rate) = rules
        .iter()
        .find(|(_, r)| r["Statement"].get("RateBasedStatement").is_some())
        .expect("a rate-based rule");
    assert_eq!(rate_condition, &None, "the rate rule is unconditional");
    let statement = &rate["Statement"]["RateBasedStatement"];
    assert_eq!(statement["AggregateKeyType"].as_str(), Some("IP"));
    assert!(
        statement.get("ScopeDownStatement").is_none(),
        "the rate rule counts every request"
    );
    let limit =
        parameter_default(&statement["Limit"]).expect("Limit is a parameter with a default");
    assert!(limit.parse::<u64>().is_ok_and(|n| n >= 10), "{limit}");
    assert!(
        rate["Action"].get("Block").is_some(),
        "the rate rule blocks"
    );

    // The allow-list: present only when its parameter (empty by default) is set, blocking
    // every source outside the IP set built from it, before the rate rule.
    let (allow_condition, allow) = rules
        .iter()
        .find(|(_, r)| {
            r["Statement"]["NotStatement"]["Statement"]
                .get("IPSetReferenceStatement")
                .is_some()
        })
        .expect("an allow-list rule: block what is not in an IP set");
    let condition = allow_condition
        .as_deref()
        .expect("the allow-list rule is conditional");
    assert!(
        allow["Action"].get("Block").is_some(),
        "the allow-list rule blocks the rest"
    );
    let priority = |rule: &Value| rule["Priority"].as_u64().expect("a priority");
    assert!(
        priority(allow) < priority(rate),
        "the allow-list comes before the rate rule"
    );
    let parameter = match intrinsic(&template["Conditions"][condition]) {
        Some((not, Value::Sequence(inner))) if not == "Not" => match inner
            .first()
            .and_then(intrinsic)
        {
            Some((equals, Value::Sequence(sides))) if equals == "Equals" && sides.len() == 2 => {
                assert_eq!(
                    sides[1].as_str(),
                    Some(""),
                    "{condition}: set when not empty"
                );
                refs(&sides[0])
            }
            _ => BTreeSet::new(),
        },
        _ => BTreeSet::new(),
    };
    assert_eq!(
        parameter.len(),
        1,
        "{condition} is !Not [!Equals [!Ref <parameter>, \"\"]]"
    );
    let parameter = parameter.into_iter().next().unwrap_or_default();
    assert_eq!(
        template["Parameters"][parameter.as_str()]["Default"].as_str(),
        Some(""),
        "{parameter}: off by default"
    );
    let ip_set =
        refs(&allow["Statement"]["NotStatement"]["Statement"]["IPSetReferenceStatement"]["Arn"]);
    assert_eq!(ip_set.len(), 1);
    let ip_set = &template["Resources"][ip_set.iter().next().map_or("", String::as_str)];
    assert_eq!(ip_set["Type"].as_str(), Some("AWS::WAFv2::IPSet"));
    assert_eq!(ip_set["Condition"].as_str(), Some(condition));
    assert_eq!(ip_set["Properties"]["Scope"].as_str(), Some("REGIONAL"));
    assert!(refs(&ip_set["Properties"]["Addresses"]).contains(&parameter));

    // Its blocks are logged, without the bearer token.
    let logging = resources(&template)
        .values()
        .find(|r| {
            r["Type"].as_str() == Some("AWS::WAFv2::LoggingConfiguration")
                && refs(&r["Properties"]["ResourceArn"]).contains(acl_id)
        })
        .expect("a logging configuration for the web ACL");
    let redacted: Vec<String> = one_or_many(&logging["Properties"]["RedactedFields"])
        .iter()
        .filter_map(|f| f["SingleHeader"]["Name"].as_str())
        .map(str::to_ascii_lowercase)
        .collect();
    assert!(
        redacted.iter().any(|h| h == "authorization"),
        "{redacted:?}"
    );
}

#[test]
fn the_scim_api_stage_keeps_the_throttle_logs_access_and_its_base_url_carries_the_stage() {
    let template = template();
    let api = scim_api(&template);
    let properties = &template["Resources"][api.as_str()]["Properties"];
    assert_eq!(
        properties["EndpointConfiguration"]["Type"].as_str(),
        Some("REGIONAL"),
        "{api}"
    );

    // The stage default is the SCIM throttle.
    let default = one_or_many(&properties["MethodSettings"])
        .into_iter()
        .find(|m| m["ResourcePath"].as_str() == Some("/*") && m["HttpMethod"].as_str() == Some("*"))
        .expect("a stage-wide method setting");
    assert_eq!(
        refs(&default["ThrottlingRateLimit"]),
        BTreeSet::from(["ScimThrottleRateLimit".to_owned()])
    );
    assert_eq!(
        refs(&default["ThrottlingBurstLimit"]),
        BTreeSet::from(["ScimThrottleBurstLimit".to_owned()])
    );

    // A JSON access log, to a log group with a retention.
    let log = &properties["AccessLogSetting"];
    let group = refs(&log["DestinationArn"]);
    let group = group.iter().next().expect("an access log group");
    assert_eq!(resource_type(&template, group), Some("AWS::Logs::LogGroup"));
    assert!(
        template["Resources"][group.as_str()]["Properties"]
            .get("RetentionInDays")
            .is_some()
    );
    let format = log["Format"].as_str().expect("a format");
    assert!(
        serde_json::from_str::<serde_json::Value>(format).is_ok(),
        "the access log format is JSON: {format}"
    );
    for field in SCIM_ACCESS_LOG_FIELDS {
        assert!(
            format.contains(&format!("\"{field}\"")),
            "the access log has {field}"
        );
    }

    // ScimBaseUrl: the default endpoint carries the stage in front of /scim/v2, which the
    // router strips (shared/edge/src/http.rs).
    let (_, branches) = intrinsic(&template["Outputs"]["ScimBaseUrl"]["Value"])
        .expect("ScimBaseUrl is !If [HasPublicBaseUrl, …, …]");
    let default_url = one_or_many(branches)
        .into_iter()
        .filter_map(intrinsic)
        .find(|(name, _)| name == "Sub")
        .and_then(|(_, text)| text.as_str().map(str::to_owned))
        .expect("a !Sub default URL");
    assert_eq!(
        default_url,
        format!(
            "https://${{{api}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/${{{api}.Stage}}/scim/v2"
        )
    );
    let stage = properties["StageName"].as_str().expect("a stage name");
    let request = http::Request::builder()
        .uri(format!("/{stage}/scim/v2/Users?count=1"))
        .body(axum::body::Body::empty())
        .unwrap();
    let stripped = edge::http::strip_stage_prefix(request, "/scim/v2");
    assert_eq!(
        stripped.uri().path(),
        "/scim/v2/Users",
        "the router strips {stage}"
    );
}

// ---------------------------------------------------------------------------------------
// Fences

/// The parameter naming the break-glass roles, spared by every fence.
const BREAK_GLASS: &str = "BreakGlassPrincipalArns";

/// The condition under which the fences name the break-glass roles.
const HAS_BREAK_GLASS: &str = "HasBreakGlassPrincipals";

/// The item writes the audit table's fence denies: every way to write or delete an item
/// (a transaction's items are authorised as these).
const ITEM_WRITES: [&str; 7] = [
    "dynamodb:BatchWriteItem",
    "dynamodb:DeleteItem",
    "dynamodb:PartiQLDelete",
    "dynamodb:PartiQLInsert",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
];

/// Whether a DynamoDB action writes items, by its name (for actions found in code).
fn looks_like_item_write(action: &str) -> bool {
    let Some(name) = action.strip_prefix("dynamodb:") else {
        return false;
    };
    (name.ends_with("Item") && !matches!(name, "GetItem" | "BatchGetItem" | "ConditionCheckItem"))
        || (name.starts_with("PartiQL") && name != "PartiQLSelect")
}

/// The function roles whose grants allow `actions` on `resource` (a table or secret id).
fn roles_granting(template: &Value, actions: &[&str], resource: &str) -> BTreeSet<String> {
    functions(template)
        .iter()
        .map(Function::role_id)
        .filter(|role| {
            statements(template, role).iter().any(|s| {
                s.value["Effect"].as_str() == Some("Allow")
                    && s.actions().iter().any(|a| actions.contains(&a.as_str()))
                    && s.resources().iter().any(|r| refs(r).contains(resource))
            })
        })
        .collect()
}

/// The roles (and the break-glass parameter) a list of principal ARNs names, each entry
/// being exactly a role's ARN (`!GetAtt Role.Arn`, `${Role.Arn}` in a `!Split` of a
/// `!Sub`) or the break-glass parameter (`${BreakGlassPrincipalArns}`); problems for
/// anything else, which could spare more than it seems to.
fn principal_arns(value: &Value, what: &str, problems: &mut Vec<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    match intrinsic(value) {
        Some((name, Value::Sequence(args))) if name == "Split" => {
            let text = args
                .get(1)
                .and_then(intrinsic)
                .filter(|(n, _)| n == "Sub")
                .and_then(|(_, v)| v.as_str());
            let (Some(","), Some(text)) = (args.first().and_then(Value::as_str), text) else {
                problems.push(format!("{what}: expected !Split [\",\", !Sub \"...\"]"));
                return out;
            };
            for part in text.split(',') {
                let name = part.strip_prefix("${").and_then(|p| p.strip_suffix('}'));
                match name {
                    Some(BREAK_GLASS) => {
                        out.insert(BREAK_GLASS.to_owned());
                    }
                    Some(name) if name.ends_with(".Arn") => {
                        out.insert(name.trim_end_matches(".Arn").to_owned());
                    }
                    _ => problems.push(format!("{what}: {part:?} is not a role's ARN")),
                }
            }
        }
        _ => {
            for arn in one_or_many(value) {
                match role_of_arn(arn) {
                    Some(role) => {
                        out.insert(role);
                    }
                    None => problems.push(format!("{what}: {arn:?} is not a role's ARN")),
                }
            }
        }
    }
    out
}

/// The role whose ARN `value` is (`!GetAtt Role.Arn`), if that is what it is.
fn role_of_arn(value: &Value) -> Option<String> {
    let (name, inner) = intrinsic(value)?;
    if name != "GetAtt" {
        return None;
    }
    let parts: Vec<&str> = match inner {
        Value::String(s) => s.split('.').collect(),
        Value::Sequence(parts) => parts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    match parts.as_slice() {
        [role, "Arn"] => Some((*role).to_owned()),
        _ => None,
    }
}

/// What a fence's deny statement spares: the principals its `aws:PrincipalArn`
/// condition names when break-glass roles are given, and when they are not.
fn spared(statement: &Value, what: &str, problems: &mut Vec<String>) -> [BTreeSet<String>; 2] {
    let condition = &statement["Condition"];
    let only_arn_not_equals = condition.as_mapping().is_some_and(|c| c.len() == 1)
        && condition["ArnNotEquals"]
            .as_mapping()
            .is_some_and(|c| c.len() == 1);
    if !only_arn_not_equals {
        problems.push(format!(
            "{what}: the condition must be ArnNotEquals on aws:PrincipalArn alone, not {condition:?}"
        ));
    }
    let arns = &condition["ArnNotEquals"]["aws:PrincipalArn"];
    match intrinsic(arns) {
        Some((name, Value::Sequence(branches)))
            if name == "If"
                && branches.len() == 3
                && branches[0].as_str() == Some(HAS_BREAK_GLASS) =>
        {
            [
                principal_arns(&branches[1], what, problems),
                principal_arns(&branches[2], what, problems),
            ]
        }
        _ => {
            problems.push(format!(
                "{what}: aws:PrincipalArn must be !If [{HAS_BREAK_GLASS}, <with>, <without>]"
            ));
            [BTreeSet::new(), BTreeSet::new()]
        }
    }
}

/// Checks one fence: a policy document that allows nothing, and denies `denied` (at
/// least; never anything in `never`) to every principal but `expected` roles and the
/// break-glass roles.
fn check_fence(
    what: &str,
    document: &Value,
    denied: &BTreeSet<String>,
    never: &dyn Fn(&str) -> bool,
    expected: &BTreeSet<String>,
    problems: &mut Vec<String>,
) {
    let statements = one_or_many(&document["Statement"]);
    if statements.is_empty() {
        problems.push(format!("{what}: no fence"));
    }
    let mut covered = BTreeSet::new();
    for statement in statements {
        let sid = statement["Sid"].as_str().unwrap_or("(no Sid)");
        let what = format!("{what}/{sid}");
        if statement["Effect"].as_str() != Some("Deny") {
            problems.push(format!(
                "{what}: a fence allows nothing; only Deny statements"
            ));
            continue;
        }
        if statement["Principal"].as_str() != Some("*")
            || statement["Resource"].as_str() != Some("*")
        {
            problems.push(format!("{what}: Principal and Resource must be \"*\""));
        }
        let actions: BTreeSet<String> = one_or_many(&statement["Action"])
            .iter()
            .filter_map(|a| a.as_str())
            .map(str::to_owned)
            .collect();
        for action in actions.iter().filter(|a| never(a) || a.contains('*')) {
            problems.push(format!("{what}: denies {action}, which must stay allowed"));
        }
        let [with, without] = spared(statement, &what, problems);
        let mut expected_with = expected.clone();
        expected_with.insert(BREAK_GLASS.to_owned());
        if with != expected_with {
            problems.push(format!(
                "{what}: spares {with:?} with break-glass roles; exactly {expected_with:?} read or write it"
            ));
        }
        if without != *expected {
            problems.push(format!(
                "{what}: spares {without:?} without break-glass roles; exactly {expected:?} read or write it"
            ));
        }
        covered.extend(actions);
    }
    for action in denied.difference(&covered) {
        problems.push(format!("{what}: does not deny {action}"));
    }
}

/// The secrets' fences: one resource policy per secret.
fn secret_fence_problems(template: &Value, problems: &mut Vec<String>) {
    let denied = BTreeSet::from(["secretsmanager:GetSecretValue".to_owned()]);
    // A new value can always be put (the rotation runbooks), and nothing else is fenced.
    let never = |action: &str| action != "secretsmanager:GetSecretValue";
    for (id, resource) in resources(template) {
        let Some(secret) = id.as_str() else { continue };
        if resource["Type"].as_str() != Some("AWS::SecretsManager::Secret") {
            continue;
        }
        let policies: Vec<&Value> = resources(template)
            .values()
            .filter(|r| r["Type"].as_str() == Some("AWS::SecretsManager::ResourcePolicy"))
            .filter(|r| refs(&r["Properties"]["SecretId"]) == BTreeSet::from([secret.to_owned()]))
            .collect();
        let [policy] = policies.as_slice() else {
            problems.push(format!(
                "{secret}: {} resource policies, not one",
                policies.len()
            ));
            continue;
        };
        if policy["Properties"]["BlockPublicPolicy"].as_bool() != Some(true) {
            problems.push(format!("{secret}: the fence must block public policies"));
        }
        let readers = roles_granting(template, &["secretsmanager:GetSecretValue"], secret);
        if readers.is_empty() {
            problems.push(format!(
                "{secret}: no function reads it; drop it or fence it shut"
            ));
        }
        check_fence(
            secret,
            &policy["Properties"]["ResourcePolicy"],
            &denied,
            &never,
            &readers,
            problems,
        );
    }
}

/// The audit table's fence: its own resource policy.
fn table_fence_problems(template: &Value, problems: &mut Vec<String>) {
    // Every item write the audit adapter can make (its local-only bulk load included) is
    // one the fence knows.
    let code = std::fs::read_to_string(root().join("shared/aws-adapters/src/dynamodb_audit.rs"))
        .unwrap_or_default();
    let adapter_writes: BTreeSet<String> = sdk_calls(without_tests(&code))
        .actions
        .into_iter()
        .filter(|a| looks_like_item_write(a))
        .collect();
    assert!(
        adapter_writes.contains("dynamodb:PutItem")
            && adapter_writes.contains("dynamodb:UpdateItem"),
        "the audit adapter's writes were not found: {adapter_writes:?}"
    );
    for action in adapter_writes
        .iter()
        .filter(|a| !ITEM_WRITES.contains(&a.as_str()))
    {
        problems.push(format!(
            "the audit adapter writes with {action}, which ITEM_WRITES lacks"
        ));
    }
    let denied: BTreeSet<String> = ITEM_WRITES.map(str::to_owned).into();
    let writers = roles_granting(template, &ITEM_WRITES, "AuditTable");
    if writers.is_empty() {
        problems.push("AuditTable: no function writes it".to_owned());
    }
    // Reads stay with IAM (the audit API, auditors), as do the table's settings.
    let never = |action: &str| !ITEM_WRITES.contains(&action);
    check_fence(
        "AuditTable",
        &template["Resources"]["AuditTable"]["Properties"]["ResourcePolicy"]["PolicyDocument"],
        &denied,
        &never,
        &writers,
        problems,
    );
}

/// The roles a fence-rule branch exempts (`anything-but` on the session issuer's ARN),
/// and whether callers without a session issuer (users, the root user) match too.
fn rule_exempts(branch: &Value) -> (BTreeSet<String>, bool) {
    let mut exempt = BTreeSet::new();
    let mut no_issuer = false;
    let identity = &branch["detail"]["userIdentity"];
    for alternative in one_or_many(&identity["$or"]) {
        for matcher in one_or_many(&alternative["sessionContext"]["sessionIssuer"]["arn"]) {
            if matcher["exists"].as_bool() == Some(false) {
                no_issuer = true;
            }
            exempt.extend(
                one_or_many(&matcher["anything-but"])
                    .into_iter()
                    .flat_map(refs),
            );
        }
    }
    (exempt, no_issuer)
}

/// The fence rule: each secret's reads by anyone but its readers, the audit table's item
/// writes by anyone but its writers, and every change of a fence, to the alarm topic.
fn fence_rule_problems(template: &Value, problems: &mut Vec<String>) {
    const RULE: &str = "FenceRule";
    let rule = &template["Resources"][RULE];
    if rule["Type"].as_str() != Some("AWS::Events::Rule") {
        problems.push(format!("no {RULE}"));
        return;
    }
    let properties = &rule["Properties"];
    if properties["State"].as_str() != Some("ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS") {
        problems
            .push("the fence rule must take read-only management events (GetSecretValue)".into());
    }
    let targets: BTreeSet<String> = one_or_many(&properties["Targets"])
        .iter()
        .flat_map(|t| refs(&t["Arn"]))
        .collect();
    if targets != BTreeSet::from(["AlarmTopic".to_owned(), "AlarmTopicArn".to_owned()]) {
        problems.push(format!(
            "the fence rule must notify the alarm topic, not {targets:?}"
        ));
    }
    let pattern = &properties["EventPattern"];
    if one_or_many(&pattern["detail-type"])
        .iter()
        .filter_map(|d| d.as_str())
        .collect::<Vec<_>>()
        != ["AWS API Call via CloudTrail"]
    {
        problems.push("the fence rule must match CloudTrail's API calls".into());
    }
    let branches = one_or_many(&pattern["$or"]);
    let names = |branch: &Value| -> BTreeSet<String> {
        one_or_many(&branch["detail"]["eventName"])
            .iter()
            .filter_map(|n| n.as_str())
            .map(str::to_owned)
            .collect()
    };
    // A secret is matched by its ARN (`!Ref`) and, when named, by its name anywhere.
    let matches_secret = |branch: &Value, secret: &str| {
        let name = template["Resources"][secret]["Properties"]["Name"].clone();
        one_or_many(&branch["detail"]["requestParameters"]["secretId"])
            .iter()
            .any(|id| {
                refs(id).contains(secret)
                    || intrinsic(&name)
                        .and_then(|(_, n)| n.as_str().map(str::to_owned))
                        .zip(intrinsic(&id["wildcard"]).and_then(|(_, w)| w.as_str()))
                        .is_some_and(|(n, w)| w == format!("*{n}*"))
            })
    };
    for (id, resource) in resources(template) {
        let Some(secret) = id.as_str() else { continue };
        if resource["Type"].as_str() != Some("AWS::SecretsManager::Secret") {
            continue;
        }
        let readers = roles_granting(template, &["secretsmanager:GetSecretValue"], secret);
        let reads: Vec<&&Value> = branches
            .iter()
            .filter(|b| names(b).contains("GetSecretValue") && matches_secret(b, secret))
            .collect();
        if reads.is_empty() {
            problems.push(format!("the fence rule does not watch reads of {secret}"));
        }
        for branch in reads {
            let (exempt, no_issuer) = rule_exempts(branch);
            if exempt != readers || !no_issuer {
                problems.push(format!(
                    "the fence rule exempts {exempt:?} (callers without a role: {no_issuer}) from reads of {secret}; exactly {readers:?} read it"
                ));
            }
        }
        let changes = branches.iter().any(|b| {
            let n = names(b);
            n.contains("PutResourcePolicy")
                && n.contains("DeleteResourcePolicy")
                && matches_secret(b, secret)
        });
        if !changes {
            problems.push(format!(
                "the fence rule does not watch changes of {secret}'s fence"
            ));
        }
    }
    let writers = roles_granting(template, &ITEM_WRITES, "AuditTable");
    let on_table = |branch: &Value| {
        refs(&branch["detail"]["resources"]).contains("AuditTable")
            || refs(&branch["detail"]["requestParameters"]).contains("AuditTable")
    };
    let item_writes: Vec<&&Value> = branches
        .iter()
        .filter(|b| {
            on_table(b)
                && [
                    "PutItem",
                    "UpdateItem",
                    "DeleteItem",
                    "BatchWriteItem",
                    "TransactWriteItems",
                    "ExecuteStatement",
                ]
                .iter()
                .all(|n| names(b).contains(*n))
        })
        .collect();
    if item_writes.is_empty() {
        problems.push("the fence rule does not watch writes to AuditTable's items".into());
    }
    for branch in item_writes {
        let (exempt, no_issuer) = rule_exempts(branch);
        if exempt != writers || !no_issuer {
            problems.push(format!(
                "the fence rule exempts {exempt:?} from writes to AuditTable; exactly {writers:?} write it"
            ));
        }
    }
    for change in ["PutResourcePolicy", "DeleteResourcePolicy", "UpdateTable"] {
        if !branches
            .iter()
            .any(|b| on_table(b) && names(b).contains(change))
        {
            problems.push(format!(
                "the fence rule does not watch {change} on AuditTable"
            ));
        }
    }
    // The created topic lets the rule publish.
    let topic_allows_rule = resources(template)
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::SNS::TopicPolicy"))
        .filter(|r| refs(&r["Properties"]["Topics"]).contains("AlarmTopic"))
        .flat_map(|r| one_or_many(&r["Properties"]["PolicyDocument"]["Statement"]))
        .any(|s| {
            s["Effect"].as_str() == Some("Allow")
                && s["Principal"]["Service"].as_str() == Some("events.amazonaws.com")
                && refs(&s["Condition"]) == BTreeSet::from([RULE.to_owned()])
        });
    if !topic_allows_rule {
        problems.push("the alarm topic's policy does not let the fence rule publish".into());
    }
}

fn fence_problems(template: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    secret_fence_problems(template, &mut problems);
    table_fence_problems(template, &mut problems);
    fence_rule_problems(template, &mut problems);
    problems
}

#[test]
fn the_secrets_and_the_audit_table_are_fenced_to_exactly_their_readers_and_writers() {
    let problems = fence_problems(&template());
    assert!(
        problems.is_empty(),
        "template.yaml's fences:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn the_audit_routes_require_the_auditors_scope_which_the_function_checks_again() {
    let template = template();
    let functions = functions(&template);
    let audit = functions
        .iter()
        .find(|f| f.code_uri() == "functions/audit-api")
        .expect("the audit-api function");
    let scope = BTreeSet::from(["AuditJwtScope".to_owned()]);
    let events: Vec<(&Value, &Value)> = audit.value["Properties"]["Events"]
        .as_mapping()
        .map(|events| events.iter().collect())
        .unwrap_or_default();
    assert!(!events.is_empty(), "the audit API has routes");
    for (name, event) in events {
        let auth = &event["Properties"]["Auth"];
        assert!(
            auth["Authorizer"].as_str().is_some(),
            "{name:?}: a JWT authorizer"
        );
        let scopes = one_or_many(&auth["AuthorizationScopes"]);
        assert_eq!(scopes.len(), 1, "{name:?}: exactly the auditors' scope");
        assert_eq!(refs(scopes[0]), scope, "{name:?}: AuthorizationScopes");
    }
    // The function checks the same scope, and the client allow-list, itself.
    assert_eq!(audit.variable_refs("JWT_REQUIRED_SCOPE"), scope);
    assert!(
        audit
            .variable_refs("JWT_ALLOWED_CLIENT_IDS")
            .contains("AuditJwtClientIds")
    );
    // The defaults: the verifier's scope, and an audience of the audit API's own.
    let parameters = &template["Parameters"];
    assert_eq!(
        parameters["AuditJwtScope"]["Default"].as_str(),
        Some(clients::jwks::DEFAULT_REQUIRED_SCOPE)
    );
    assert!(
        parameters["AuditJwtAudience"]["Default"]
            .as_str()
            .is_some_and(|a| a != "api://default"),
        "the default audience is a dedicated one, not Okta's default server's"
    );
    assert_eq!(
        parameters["AuditJwtClientIds"]["Default"].as_str(),
        Some("")
    );
}

/// The value at `path` under `value`: mapping keys, or sequence indexes.
fn at_path<'a>(mut value: &'a mut Value, path: &[&str]) -> &'a mut Value {
    for key in path {
        value = match (value, key.parse::<usize>()) {
            (Value::Sequence(items), Ok(index)) => &mut items[index],
            (other, _) => &mut other[*key],
        };
    }
    value
}

#[test]
fn the_fence_check_catches_extra_missing_and_wrong_principals_and_actions() {
    let template = template();
    let edited = |path: &[&str], edit: &dyn Fn(&mut Value)| {
        let mut template = template.clone();
        edit(at_path(&mut template["Resources"], path));
        fence_problems(&template)
    };
    let yaml = |text: &str| -> Value { serde_norway::from_str(text).unwrap() };
    let mentions = |problems: &[String], text: &str| problems.iter().any(|p| p.contains(text));
    let arns = |policy: &'static str| -> Vec<&'static str> {
        vec![
            policy,
            "Properties",
            "ResourcePolicy",
            "Statement",
            "0",
            "Condition",
            "ArnNotEquals",
        ]
    };

    // The audit API's role spared on the Identity Center token, which it never reads.
    let extra = edited(&arns("IdentityCenterTokenSecretPolicy"), &|c| {
        c["aws:PrincipalArn"] = yaml(
            "!If [HasBreakGlassPrincipals, !Split [',', !Sub '${ScimApiRole.Arn},${AuditApiRole.Arn},${BreakGlassPrincipalArns}'], [!GetAtt ScimApiRole.Arn, !GetAtt AuditApiRole.Arn]]",
        )
    });
    assert!(
        mentions(
            &extra,
            "IdentityCenterTokenSecret/OnlyItsReadersReadTheValue: spares"
        ),
        "{extra:?}"
    );

    // The audit API's role not spared on the audit key, which it reads; no break-glass.
    let missing = edited(&arns("AuditKeySecretPolicy"), &|c| {
        c["aws:PrincipalArn"] = yaml(
            "!If [HasBreakGlassPrincipals, !Split [',', !Sub '${ScimApiRole.Arn}'], [!GetAtt ScimApiRole.Arn]]",
        )
    });
    assert!(
        mentions(
            &missing,
            "AuditKeySecret/OnlyItsReadersReadTheValue: spares"
        ),
        "{missing:?}"
    );

    // A role's name where its ARN belongs; a looser operator; an allow; a fenced put.
    let name = edited(&arns("ScimTokensSecretPolicy"), &|c| {
        c["aws:PrincipalArn"] = yaml(
            "!If [HasBreakGlassPrincipals, !Split [',', !Sub '${ScimApiRole},${BreakGlassPrincipalArns}'], [!Ref ScimApiRole]]",
        )
    });
    assert!(mentions(&name, "is not a role's ARN"), "{name:?}");
    let statement = [
        "ScimTokensSecretPolicy",
        "Properties",
        "ResourcePolicy",
        "Statement",
    ];
    let like = edited(&[&statement[..], &["0", "Condition"][..]].concat(), &|c| {
        let principals = c["ArnNotEquals"]["aws:PrincipalArn"].clone();
        *c = yaml("{ArnNotLike: {aws:PrincipalArn: placeholder}}");
        c["ArnNotLike"]["aws:PrincipalArn"] = principals;
    });
    assert!(
        mentions(&like, "ArnNotEquals on aws:PrincipalArn alone"),
        "{like:?}"
    );
    let allow = edited(&statement, &|s| {
        if let Value::Sequence(s) = s {
            s.push(yaml("{Sid: Open, Effect: Allow, Principal: '*', Action: secretsmanager:GetSecretValue, Resource: '*'}"));
        }
    });
    assert!(mentions(&allow, "only Deny statements"), "{allow:?}");
    let put = edited(&[&statement[..], &["0"][..]].concat(), &|s| {
        s["Action"] = yaml("[secretsmanager:GetSecretValue, secretsmanager:PutSecretValue]")
    });
    assert!(
        mentions(&put, "denies secretsmanager:PutSecretValue"),
        "{put:?}"
    );

    // The table's fence without DeleteItem, or denying reads.
    let table = [
        "AuditTable",
        "Properties",
        "ResourcePolicy",
        "PolicyDocument",
        "Statement",
        "0",
        "Action",
    ];
    let no_delete = edited(&table, &|actions| {
        if let Value::Sequence(actions) = actions {
            actions.retain(|a| a.as_str() != Some("dynamodb:DeleteItem"));
        }
    });
    assert!(
        mentions(&no_delete, "AuditTable: does not deny dynamodb:DeleteItem"),
        "{no_delete:?}"
    );
    let reads = edited(&table, &|actions| {
        if let Value::Sequence(actions) = actions {
            actions.push(yaml("dynamodb:Query"));
        }
    });
    assert!(mentions(&reads, "denies dynamodb:Query"), "{reads:?}");

    // The rule exempting the audit API's role from reads of the Identity Center token, or
    // not watching callers without a role.
    let identity = [
        "FenceRule",
        "Properties",
        "EventPattern",
        "$or",
        "0",
        "detail",
        "userIdentity",
    ];
    let rule = edited(&identity, &|u| {
        *u = yaml(
            "{$or: [{sessionContext: {sessionIssuer: {arn: [anything-but: [!GetAtt ScimApiRole.Arn, !GetAtt AuditApiRole.Arn]]}}}, {sessionContext: {sessionIssuer: {arn: [exists: false]}}}]}",
        );
    });
    assert!(
        mentions(&rule, "from reads of IdentityCenterTokenSecret"),
        "{rule:?}"
    );
    let roles_only = edited(&identity, &|u| {
        *u = yaml(
            "{sessionContext: {sessionIssuer: {arn: [anything-but: [!GetAtt ScimApiRole.Arn]]}}}",
        );
    });
    assert!(
        mentions(&roles_only, "callers without a role: false"),
        "{roles_only:?}"
    );
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

#[test]
fn the_scim_function_writes_only_mirror_items_in_the_state_table() {
    // The state table also holds the rule sets, which only admins may write: the
    // function's writes there are fenced to the mirror's own keys.
    let template = template();
    let writes: Vec<&Value> = statements(&template, "ScimApiRole")
        .into_iter()
        .filter(|s| {
            s.actions()
                .iter()
                .any(|a| a == "dynamodb:PutItem" || a == "dynamodb:DeleteItem")
        })
        .filter(|s| format!("{:?}", s.value["Resource"]).contains("StateTable"))
        .map(|s| s.value)
        .collect();
    assert_eq!(writes.len(), 1, "{writes:?}");
    let keys = &writes[0]["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"];
    assert_eq!(
        one_or_many(keys)
            .iter()
            .filter_map(|k| k.as_str())
            .collect::<Vec<_>>(),
        ["MIRROR#*"],
        "{:?}",
        writes[0]
    );
    assert_eq!(
        aws_adapters::dynamodb_mirror::PK_PREFIX,
        "MIRROR#",
        "the condition names the mirror's key prefix"
    );
}

/// The `AWS/Lambda` `Errors` alarms of each function (by the `FunctionName` dimension).
fn lambda_error_alarms(template: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (id, resource) in resources(template) {
        let p = &resource["Properties"];
        if resource["Type"].as_str() != Some("AWS::CloudWatch::Alarm")
            || p["Namespace"].as_str() != Some("AWS/Lambda")
            || p["MetricName"].as_str() != Some("Errors")
        {
            continue;
        }
        for dimension in p["Dimensions"].as_sequence().into_iter().flatten() {
            if dimension["Name"].as_str() == Some("FunctionName") {
                for function in refs(&dimension["Value"]) {
                    out.entry(function)
                        .or_default()
                        .insert(id.as_str().unwrap_or_default().to_owned());
                }
            }
        }
    }
    out
}

/// A deployment type that shifts traffic gradually (CodeDeploy's predefined Lambda configs).
fn is_gradual(kind: &str) -> bool {
    kind.starts_with("Canary") || kind.starts_with("Linear")
}

fn rollout_problems(template: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let error_alarms = lambda_error_alarms(template);
    for function in functions(template) {
        let id = &function.id;
        match function.property("AutoPublishAlias").as_str() {
            Some(alias) if !alias.is_empty() => {}
            _ => problems.push(format!(
                "{id}: no AutoPublishAlias (its own or Globals.Function's): its events would invoke $LATEST, \
                 and no deployment could roll it back"
            )),
        }
        let alarms = error_alarms.get(id).cloned().unwrap_or_default();
        if alarms.is_empty() {
            problems.push(format!("{id}: no AWS/Lambda Errors alarm on it"));
        }
        if routes(&function).is_empty() {
            continue;
        }
        let preference = function.property("DeploymentPreference");
        if preference.is_null() {
            problems.push(format!(
                "{id}: an API function without a DeploymentPreference"
            ));
            continue;
        }
        // The type: a gradual literal, or a parameter whose default is gradual.
        let kind = &preference["Type"];
        let default = match intrinsic(kind) {
            Some((name, inner)) if name == "Ref" => {
                let parameter = inner.as_str().unwrap_or_default();
                template["Parameters"][parameter]["Default"]
                    .as_str()
                    .map(str::to_owned)
            }
            _ => kind.as_str().map(str::to_owned),
        };
        match default {
            Some(kind) if is_gradual(&kind) => {}
            other => problems.push(format!(
                "{id}: DeploymentPreference.Type must be (default to) a canary or linear shift, not {other:?}"
            )),
        }
        // The rollback alarms: every Errors alarm of the function, each an alarm of the
        // template.
        let named = refs(&preference["Alarms"]);
        for alarm in &named {
            if resource_type(template, alarm) != Some("AWS::CloudWatch::Alarm") {
                problems.push(format!(
                    "{id}: DeploymentPreference names {alarm}, not an alarm"
                ));
            }
        }
        for alarm in alarms.difference(&named) {
            problems.push(format!(
                "{id}: DeploymentPreference.Alarms lacks its error alarm {alarm}: a failing release would not roll back"
            ));
        }
        if preference.get("Enabled").and_then(Value::as_bool) == Some(false) {
            problems.push(format!("{id}: DeploymentPreference is disabled"));
        }
    }
    problems
}

fn rollout_problems_after(edit: impl FnOnce(&mut Value)) -> Vec<String> {
    let mut template = template();
    edit(&mut template);
    rollout_problems(&template)
}

#[test]
fn every_function_is_behind_an_alias_and_the_api_functions_roll_back_on_their_error_alarms() {
    let problems = rollout_problems(&template());
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_rollout_check_catches_a_missing_alias_preference_alarm_or_gradual_default() {
    fn function<'a>(t: &'a mut Value, id: &str) -> &'a mut serde_norway::Mapping {
        t["Resources"][id]["Properties"]
            .as_mapping_mut()
            .expect("a function's Properties")
    }
    // A new function, without an alias of its own, once the global one goes.
    let problems = rollout_problems_after(|t| {
        t["Globals"]["Function"]
            .as_mapping_mut()
            .expect("Globals.Function")
            .remove("AutoPublishAlias");
    });
    assert!(
        problems
            .iter()
            .filter(|p| p.contains("AutoPublishAlias"))
            .count()
            >= 3,
        "{problems:#?}"
    );
    let problems = rollout_problems_after(|t| {
        function(t, "AuditApiFunction").remove("DeploymentPreference");
    });
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("AuditApiFunction: an API function without")),
        "{problems:#?}"
    );
    let problems = rollout_problems_after(|t| {
        function(t, "ScimApiFunction")["DeploymentPreference"]["Alarms"] =
            serde_norway::from_str("[!Ref ScimApi5xxAlarm]").expect("YAML");
    });
    assert!(
        problems
            .iter()
            .any(|p| p.contains("lacks its error alarm ScimApiErrorsAlarm")),
        "{problems:#?}"
    );
    let problems = rollout_problems_after(|t| {
        t["Parameters"]["DeploymentType"]["Default"] = Value::from("AllAtOnce");
    });
    assert!(
        problems
            .iter()
            .filter(|p| p.contains("canary or linear"))
            .count()
            == 2,
        "{problems:#?}"
    );
}
