//! The auditor console (`/audit/ui`) in a real headless browser: Debian's `chromium`
//! driven through its `chromedriver` by fantoccini (WebDriver), both installed by
//! `scripts/services`. Each test runs its own `scimgw dev` and signs in through dev's
//! local issuer as an auditor would through Okta.
//!
//! With `SCIMGW_CONSOLE_SCREENSHOTS=<dir>` (`scripts/console-screenshots` sets
//! `docs/console`) the tests save the screenshots the README shows; without it they
//! take none, so a normal run leaves the tree as it was.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use gateway::audit_store::chain;
use serde_json::{Value, json};

use crate::dev_process::Dev;
use crate::tamper::{aws_env, put, s, scan};

/// How long the page gets to show what a step expects.
const PATIENCE: Duration = Duration::from_secs(30);

/// A headless chromium behind its chromedriver, both stopped when dropped.
struct Browser {
    driver: Child,
    client: Option<Client>,
    profile: PathBuf,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ending the session makes chromedriver quit chromium, also when a step failed
        // (the tests run on the multi-thread runtime, where blocking here is allowed).
        if let (Some(client), Ok(runtime)) =
            (self.client.take(), tokio::runtime::Handle::try_current())
            && runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
        {
            tokio::task::block_in_place(|| {
                runtime.block_on(async {
                    let _ = tokio::time::timeout(PATIENCE, client.close()).await;
                });
            });
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Browser {
    async fn start() -> Self {
        let port = free_port();
        let driver = Command::new(
            std::env::var("SCIMGW_TEST_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into()),
        )
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver is not installed: run scripts/services install");
        let profile = std::env::temp_dir().join(test_services::unique_name("console-browser"));
        let mut browser = Self {
            driver,
            client: None,
            profile,
        };
        let chromium =
            std::env::var("SCIMGW_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1280,1200", "--lang=en-US",
                    format!("--user-data-dir={}", browser.profile.display()),
                ],
                "prefs": {
                    "download.default_directory": browser.profile.join("downloads"),
                    "download.prompt_for_download": false,
                },
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let deadline = Instant::now() + PATIENCE;
        loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(client) => {
                    browser.client = Some(client);
                    return browser;
                }
                Err(error) => {
                    assert!(
                        Instant::now() < deadline,
                        "no browser session in {PATIENCE:?}: {error}"
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }

    fn c(&self) -> &Client {
        self.client.as_ref().unwrap()
    }

    async fn close(mut self) {
        if let Some(client) = self.client.take() {
            let _ = client.close().await;
        }
    }

    /// Opens the console and waits until its script is ready.
    async fn open(&self, console_url: &str) {
        self.c().goto(console_url).await.unwrap();
        self.ready().await;
    }

    async fn ready(&self) {
        self.c()
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css("body[data-ready=true]"))
            .await
            .unwrap();
    }

    async fn click(&self, css: &str) {
        self.c()
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
    }

    async fn text(&self, css: &str) -> String {
        match self.c().find(Locator::Css(css)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Waits until the element `css` shows `expected`, and returns its text.
    async fn wait_text(&self, css: &str, expected: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let text = self.text(css).await;
            if text.contains(expected) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "{css} did not show {expected:?} in {PATIENCE:?}; it shows {text:?}; the message: {:?}",
                self.text("#message").await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Signs in through dev's local sign-in page as `account`.
    async fn sign_in(&self, account: &str) {
        self.click("#sign-in").await;
        self.click(&format!("button[value='{account}']")).await;
        self.ready().await;
    }

    /// Searches by subject from the keyboard: the name typed, then Enter.
    async fn search(&self, target: &str) {
        let field = self.c().find(Locator::Id("f-target")).await.unwrap();
        field.clear().await.unwrap();
        field
            .send_keys(&format!("{target}{}", Key::Enter))
            .await
            .unwrap();
    }

    /// The file the page had the browser download as `name`, once complete.
    async fn downloaded(&self, name: &str) -> String {
        let path = self.profile.join("downloads").join(name);
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(text) = std::fs::read_to_string(&path) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "no download {name} in {PATIENCE:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Saves a screenshot as `<SCIMGW_CONSOLE_SCREENSHOTS>/<name>.png`, when asked to.
    async fn screenshot(&self, name: &str) {
        let Ok(dir) = std::env::var("SCIMGW_CONSOLE_SCREENSHOTS") else {
            return;
        };
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir);
        std::fs::create_dir_all(&dir).unwrap();
        let png = self.c().screenshot().await.unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }
}

/// The user `console<n>@example.com`'s Identity Center id, after a PATCH of its
/// display name, so that its timeline has a change with a before and an after.
async fn user_with_a_change(dev: &Dev, n: u32) -> String {
    let id = dev.create_user("console", n).await;
    let response = reqwest::Client::new()
        .patch(format!("{}/Users/{id}", dev.s("scim_url")))
        .bearer_auth(dev.s("scim_token"))
        .header("content-type", "application/scim+json")
        .json(&json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "displayName", "value": format!("Renamed User{n}")}]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    id
}

/// `scimgw audit export` of console1's records from the table to `out`, and what it
/// wrote.
fn cli_export(dev: &Dev, table: &str, out: &Path) -> String {
    let cli = Command::new(env!("CARGO_BIN_EXE_scimgw"))
        .args([
            "audit",
            "export",
            "--target",
            "console1@example.com",
            "--out",
        ])
        .arg(out)
        .args([
            "--table",
            table,
            "--aws-endpoint",
            &test_services::moto_url(),
        ])
        .args([
            "--region",
            "us-east-1",
            "--reads-queue",
            &dev.s("audit_reads_queue_url"),
        ])
        .envs(aws_env())
        .env("RUST_LOG", "error")
        .env_remove("SCIMGW_AUDIT_TABLE")
        .output()
        .unwrap();
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    std::fs::read_to_string(out).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_auditor_signs_in_searches_follows_a_timeline_sees_tampering_exports_and_signs_out() {
    // Arrange: dev with its trail in moto, two users, one of them renamed.
    let prefix = test_services::unique_name("console");
    let dir = std::env::temp_dir().join(&prefix);
    std::fs::create_dir_all(&dir).unwrap();
    let dev = Dev::start(
        &dir,
        &[
            "--aws-endpoint",
            &test_services::moto_url(),
            "--aws-prefix",
            &prefix,
        ],
        &aws_env(),
    );
    user_with_a_change(&dev, 1).await;
    user_with_a_change(&dev, 2).await;
    let browser = Browser::start().await;

    // Act and assert, step by step as an auditor goes.
    browser.open(&dev.s("console_url")).await;
    assert_eq!(browser.text("#who").await, "Not signed in.");
    browser.click("#sign-in").await;
    browser.wait_text("h1", "local sign-in").await;
    browser.screenshot("sign-in").await;
    browser.click("button[value='dev-auditor']").await;
    browser.ready().await;
    browser.wait_text("#who", "Signed in as dev-auditor").await;
    let url = browser.c().current_url().await.unwrap();
    assert_eq!(url.query(), None, "the code is taken out of the address");

    // Search by a user's name: its create and its patch, and the trail intact.
    browser.search("console1@example.com").await;
    browser.wait_text("#verdict", "Intact.").await;
    let table = browser.text("#records tbody").await;
    assert!(
        table.contains("create") && table.contains("patch"),
        "{table}"
    );
    assert!(!table.contains("console2@example.com"), "{table}");
    browser.screenshot("search").await;

    // At 200% zoom (a 1280 px window holds 640 CSS px): the page reflows, no sideways
    // scrolling but inside the table's own box.
    browser.c().set_window_size(640, 900).await.unwrap();
    let overflow = browser
        .c()
        .execute(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        overflow.as_i64(),
        Some(0),
        "the page scrolls sideways at 640 px"
    );
    browser.screenshot("zoom-200").await;
    browser.c().set_window_size(1280, 1200).await.unwrap();

    // The timeline, opened from the keyboard: every change in order, with before and
    // after.
    browser
        .c()
        .find(Locator::Css("#records tbody tr:first-child button"))
        .await
        .unwrap()
        .send_keys(&Key::Enter.to_string())
        .await
        .unwrap();
    let heading = browser
        .wait_text("#timeline-heading", "console1@example.com")
        .await;
    assert!(heading.starts_with("Timeline of User"), "{heading}");
    let timeline = browser.text("#timeline-list").await;
    let create = timeline.find(" create: success").expect(&timeline);
    let patch = timeline.find(" patch: success").expect(&timeline);
    assert!(create < patch, "oldest first: {timeline}");
    assert!(timeline.contains("SCIM PATCH /Users/{id}"), "{timeline}");
    assert!(
        timeline.contains("\"T User1\"") && timeline.contains("\"Renamed User1\""),
        "{timeline}"
    );
    assert!(timeline.contains("Rule set\nidentity"), "{timeline}");
    // The patch, with its before and after, in view for the screenshot.
    browser
        .c()
        .execute(
            "document.querySelector('#timeline-list > li:last-child').scrollIntoView()",
            vec![],
        )
        .await
        .unwrap();
    browser.screenshot("timeline").await;

    // Someone with write access to the table edits the user's create record.
    let ddb = aws_sdk_dynamodb::Client::new(&test_services::moto_sdk_config().await);
    let table_name = dev.s("audit_table");
    let mut victim = scan(&ddb, &table_name)
        .await
        .into_iter()
        .find(|item| {
            let record = s(item, "record");
            s(item, "sk").starts_with("REC#")
                && record.contains("console1@example.com")
                && record.contains("\"operation\":\"create\"")
                && record.contains("\"success\"")
        })
        .expect("the create record of console1 (not its intent)");
    let seq: u64 = match &victim["seq"] {
        AttributeValue::N(n) => n.parse().unwrap(),
        other => panic!("seq is {other:?}"),
    };
    let victim_id = chain::record_id(&s(&victim, "chain"), seq);
    let edited = s(&victim, "record").replace("\"success\"", "\"refused\"");
    victim.insert("record".into(), AttributeValue::S(edited));
    put(&ddb, &table_name, victim).await;

    browser.click("#back").await;
    browser.click("#search-button").await;
    let verdict = browser.wait_text("#verdict", "Not intact.").await;
    assert!(
        verdict.contains(&format!("altered record {victim_id}")),
        "{verdict}"
    );
    let flagged = browser
        .c()
        .find(Locator::Css(&format!("tr[data-record-id='{victim_id}']")))
        .await
        .unwrap();
    assert_eq!(
        flagged.attr("class").await.unwrap().as_deref(),
        Some("flagged")
    );
    assert!(flagged.text().await.unwrap().contains("altered"));
    browser.screenshot("tampered").await;

    // Export CSV: the same bytes as `scimgw audit export` of the same query.
    browser.click("#export-csv").await;
    browser.wait_text("#message", "Exported").await;
    let exported = browser.downloaded("audit-records.csv").await;
    let expected = cli_export(&dev, &table_name, &dir.join("console1.csv"));
    assert_eq!(exported, expected);
    assert_eq!(
        expected.lines().count(),
        5,
        "a header, the create and the patch, each after its intent record: {expected}"
    );
    // And JSON Lines: the same records as the CLI's.
    browser.click("#export-json").await;
    let exported = browser.downloaded("audit-records.jsonl").await;
    let expected = cli_export(&dev, &table_name, &dir.join("console1.jsonl"));
    let records = |text: &str| -> Vec<Value> {
        text.lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    };
    assert_eq!(records(&exported), records(&expected));
    assert_eq!(records(&expected).len(), 4);

    // Sign out: the token is gone, and the audit API refuses the page's next call.
    browser.click("#sign-out").await;
    browser.ready().await;
    browser.wait_text("#message", "Signed out").await;
    assert_eq!(browser.text("#who").await, "Not signed in.");
    browser.search("console1@example.com").await;
    browser
        .wait_text("#message", "Not signed in: the audit API answered 401")
        .await;

    browser.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_shows_why_the_audit_api_refuses_no_token_a_wrong_scope_and_an_expired_token() {
    let dir = std::env::temp_dir().join(test_services::unique_name("console-refusals"));
    std::fs::create_dir_all(&dir).unwrap();
    let dev = Dev::start(&dir, &[], &[]);
    let console = dev.s("console_url");
    let browser = Browser::start().await;
    let http = reqwest::Client::new();

    // The page and its assets need no token, and say what may run and connect.
    let page = http.get(&console).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self';") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    // The records do need one.
    let records = format!("{}/records", dev.s("audit_url"));
    assert_eq!(http.get(&records).send().await.unwrap().status(), 401);

    // No token.
    browser.open(&console).await;
    browser.search("anyone").await;
    let message = browser.wait_text("#message", "Not signed in").await;
    assert!(
        message.contains("401 unauthorized: a bearer access token is required"),
        "{message}"
    );
    assert!(browser.text("#records tbody").await.is_empty());

    // Signed in without the audit scope, or outside the auditors' group.
    for account in ["dev-auditor-unscoped", "dev-outsider"] {
        browser.open(&console).await;
        browser.sign_in(account).await;
        browser
            .wait_text("#who", &format!("Signed in as {account}"))
            .await;
        browser.search("anyone").await;
        let message = browser.wait_text("#message", "not allowed").await;
        assert!(
            message.contains("403 insufficient_scope"),
            "{account}: {message}"
        );
        if account == "dev-auditor-unscoped" {
            browser.screenshot("refused").await;
        }
    }

    // An expired token.
    browser.open(&console).await;
    browser.sign_in("dev-auditor-expired").await;
    browser.search("anyone").await;
    let message = browser
        .wait_text("#message", "refused the sign-in token")
        .await;
    // The API's own words: the status, the error and why.
    assert!(
        message.contains("401 invalid_token: invalid token: expired"),
        "{message}"
    );

    browser.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// SSO Admin that does what it is asked at once: the console's test needs the records
/// an entitlements run writes, not moto's Organizations.
struct Obliging;

#[async_trait::async_trait]
impl entitlements::AssignmentApi for Obliging {
    async fn start(
        &self,
        _kind: entitlements::OpKind,
        _assignment: &entitlements::Assignment,
    ) -> Result<(String, entitlements::OpStatus), entitlements::ApiError> {
        Ok(("request-1".into(), entitlements::OpStatus::Succeeded))
    }

    async fn status(
        &self,
        _kind: entitlements::OpKind,
        _request_id: &str,
    ) -> Result<entitlements::OpStatus, entitlements::ApiError> {
        Ok(entitlements::OpStatus::Succeeded)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_shows_who_has_access_and_the_leavers_as_the_cli_reports_them() {
    // Arrange: dev with its trail in moto; ada and bob in Engineering, which an
    // entitlements run gives read-only on one account; then bob leaves.
    let prefix = test_services::unique_name("console-access");
    let dir = std::env::temp_dir().join(&prefix);
    std::fs::create_dir_all(&dir).unwrap();
    let moto = test_services::moto_url();
    let dev = Dev::start(
        &dir,
        &["--aws-endpoint", &moto, "--aws-prefix", &prefix],
        &aws_env(),
    );
    let ada = dev.create_user("access", 1).await;
    let bob = dev.create_user("access", 2).await;
    let http = reqwest::Client::new();
    let group: Value = http
        .post(format!("{}/Groups", dev.s("scim_url")))
        .bearer_auth(dev.s("scim_token"))
        .json(
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                      "displayName": "Engineering", "members": [{"value": ada}, {"value": bob}]}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let config = test_services::moto_sdk_config().await;
    let audit = aws_adapters::DynamoDbAuditLog::new(
        aws_sdk_dynamodb::Client::new(&config),
        dev.s("audit_table"),
        aws_adapters::kms_audit_keys::writer_powers(
            &aws_sdk_kms::Client::new(&config),
            &dev.s("audit_mac_key"),
        ),
        std::sync::Arc::new(gateway::SystemClock),
        time::Duration::days(400),
    );
    let observed = entitlements::Observed {
        organization: entitlements::Organization {
            root_id: "r-ab12".into(),
            ous: Vec::new(),
            accounts: vec![entitlements::Account {
                id: "222222222222".into(),
                name: "production".into(),
                parent_id: "r-ab12".into(),
                tags: Default::default(),
            }],
        },
        identity_center: entitlements::IdentityCenter {
            groups: vec![entitlements::DirectoryGroup {
                id: group["id"].as_str().unwrap().to_owned(),
                display_name: "Engineering".into(),
                external_id: None,
            }],
            permission_sets: vec![entitlements::PermissionSet {
                arn: "arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-1111111111111111"
                    .into(),
                name: "ReadOnly".into(),
            }],
            assignments: Vec::new(),
            permission_set_details: Default::default(),
        },
        managed: Default::default(),
        managed_permission_sets: Default::default(),
        problems: Vec::new(),
    };
    let document = entitlements::Document::load(
        "grants:\n  - group: { name: Engineering }\n    permission_sets: [ReadOnly]\n    scope: { root: true }\n",
    )
    .unwrap();
    let plan = entitlements::plan(&document, "v1", &observed, &Default::default());
    let applied = entitlements::apply(
        &plan,
        std::sync::Arc::new(Obliging),
        &entitlements::InMemoryLedger::default(),
        &audit,
        &gateway::SystemClock,
        &entitlements::Applier {
            credential: "admin".into(),
        },
        entitlements::Limits::default(),
    )
    .await
    .unwrap();
    assert!(applied.succeeded(), "{applied:?}");
    let response = http
        .patch(format!("{}/Users/{bob}", dev.s("scim_url")))
        .bearer_auth(dev.s("scim_token"))
        .json(
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                      "Operations": [{"op": "replace", "value": {"active": false}}]}),
        )
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let browser = Browser::start().await;

    // Act: who has access now; then the leavers, exported.
    browser.open(&dev.s("console_url")).await;
    browser.sign_in("dev-auditor").await;
    browser.click("#access-button").await;
    let caption = browser.wait_text("#access-caption", "line").await;
    let table = browser.text("#access-table").await;
    let evidence = browser.text("#access-evidence").await;
    browser.screenshot("access").await;
    browser
        .c()
        .find(Locator::Id("a-kind"))
        .await
        .unwrap()
        .select_by_value("leavers")
        .await
        .unwrap();
    browser.click("#access-button").await;
    browser.wait_text("#access-heading", "Leavers").await;
    let leavers = browser
        .wait_text("#access-table", "access2@example.com")
        .await;
    browser.click("#access-csv").await;
    let exported = browser.downloaded("access-leavers.csv").await;
    let info = dir.join("dev-info.json").display().to_string();
    let cli = Command::new(env!("CARGO_BIN_EXE_scimgw"))
        .args([
            "access",
            "--dev",
            &info,
            "leavers",
            "--since",
            "1970-01-01T00:00:00Z",
            "--format",
            "csv",
        ])
        .env("RUST_LOG", "error")
        .output()
        .unwrap();

    // Assert: ada alone reads the account, through Engineering; bob left, his access
    // gone with his deactivation; the export is the CLI's report, line for line.
    assert!(caption.starts_with("1 line"), "{caption}");
    assert!(
        table.contains("access1@example.com") && table.contains("222222222222"),
        "{table}"
    );
    assert!(
        table.contains("ReadOnly") && table.contains("Engineering"),
        "{table}"
    );
    assert!(!table.contains("access2@example.com"), "{table}");
    assert!(
        evidence.starts_with("Rebuilt from") && evidence.contains("digest"),
        "{evidence}"
    );
    assert!(
        leavers.contains("222222222222 ReadOnly: after 0 s"),
        "{leavers}"
    );
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    assert_eq!(exported, String::from_utf8(cli.stdout).unwrap());

    browser.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
