//! `scimgw dev` as a child process, as the docs and the tamper tests run it: started with
//! a free port and `--info-json`, waited for until it has written the file, killed when
//! dropped.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A running `scimgw dev`.
pub struct Dev {
    child: Child,
    /// What it wrote with `--info-json`.
    pub info: Value,
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Dev {
    /// Starts `scimgw dev` writing its info to `dir/dev-info.json`, with `args` added.
    pub fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Dev {
        let info_path = dir.join("dev-info.json");
        let child = Command::new(env!("CARGO_BIN_EXE_scimgw"))
            .args(["dev", "--listen", "127.0.0.1:0", "--info-json"])
            .arg(&info_path)
            .args(args)
            .envs(env.iter().copied())
            .env("RUST_LOG", "error")
            .env_remove("SCIMGW_DEV_SCIM_TOKEN")
            .env_remove("SCIMGW_DEV_TARGET_TOKEN")
            .stdout(Stdio::null())
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let mut dev = Dev {
            child,
            info: Value::Null,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(info) = std::fs::read_to_string(&info_path)
                .ok()
                .and_then(|s| serde_json::from_str::<Value>(&s).ok())
            {
                dev.info = info;
                return dev;
            }
            if let Some(status) = dev.child.try_wait().unwrap() {
                panic!("scimgw dev exited before it wrote its info JSON: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "scimgw dev did not start in 60 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A string of its info.
    pub fn s(&self, key: &str) -> String {
        self.info[key]
            .as_str()
            .unwrap_or_else(|| panic!("scimgw dev's info JSON has no {key}: {}", self.info))
            .to_owned()
    }

    /// Creates the user `<label><n>@example.com` through its SCIM API, as Okta would,
    /// and returns its id.
    pub async fn create_user(&self, label: &str, n: u32) -> String {
        let response = reqwest::Client::new()
            .post(format!("{}/Users", self.s("scim_url")))
            .bearer_auth(self.s("scim_token"))
            .header("content-type", "application/scim+json")
            .json(&serde_json::json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": format!("{label}{n}@example.com"),
                "externalId": format!("00u{label}{n}"),
                "name": {"givenName": "T", "familyName": format!("User{n}")},
                "displayName": format!("T User{n}"),
                "active": true
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        let created: Value = response.json().await.unwrap();
        created["id"].as_str().unwrap().to_owned()
    }
}
