//! `scripts/package-template`, which `scripts/release` runs to write a release's
//! `packaged.yaml`, against `template.yaml`, without the release's build (too slow for CI).
//!
//! The output, parsed, must be exactly `template.yaml` with, for every
//! `AWS::Serverless::Function`, `Properties.CodeUri` the zip of the binary its build
//! metadata names (`<binary>-<VERSION>-arm64.zip`, which `scripts/release` writes beside
//! it), that build metadata (`Metadata.BuildMethod`, `Metadata.BuildProperties`) gone and
//! the rest of its `Metadata` kept, and the Serverless Application Repository's
//! `SemanticVersion` the release's: nothing else changed. The script's listing of the
//! functions, from which `scripts/release` builds and names the zips, must match. A version
//! that is not semantic, and a function the rewrite does not understand, are refused
//! without writing anything.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_norway::{Mapping, Value};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// A scratch directory of this test's own, emptied first.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "scimgw-release-package-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// Runs `scripts/package-template VERSION OUTPUT --template TEMPLATE`.
fn package(version: &str, template: &Path, output: &Path) -> Output {
    Command::new("python3")
        .arg(root().join("scripts/package-template"))
        .args([version, &output.to_string_lossy()])
        .arg("--template")
        .arg(template)
        .args(["--commit", "0123456789abcdef"])
        .output()
        .expect("python3 runs scripts/package-template")
}

fn functions(template: &Value) -> Vec<(String, &Value)> {
    template["Resources"]
        .as_mapping()
        .expect("Resources is a mapping")
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(id, r)| (id.as_str().expect("a logical id").to_owned(), r))
        .collect()
}

/// What the packaged template must be: `template` rewritten as the module doc says.
fn expected(template: &Value, version: &str) -> (Value, Vec<String>) {
    let mut packaged = template.clone();
    let mut listing = Vec::new();
    for (id, function) in functions(template) {
        let binary = function["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| panic!("{id} names its Binary"));
        let zip = format!("{binary}-{version}-arm64.zip");
        let resource = &mut packaged["Resources"][id.as_str()];
        let metadata = resource["Metadata"].as_mapping_mut().expect("Metadata");
        metadata.remove("BuildMethod");
        metadata.remove("BuildProperties");
        if metadata.is_empty() {
            resource
                .as_mapping_mut()
                .expect("a resource")
                .remove("Metadata");
        }
        resource["Properties"]["CodeUri"] = Value::String(zip.clone());
        listing.push(format!("{id} {binary} {zip}"));
    }
    packaged["Metadata"]["AWS::ServerlessRepo::Application"]["SemanticVersion"] =
        Value::String(version.to_owned());
    (packaged, listing)
}

#[test]
fn the_packaged_template_is_template_yaml_with_each_functions_zip_and_the_version() {
    let template_path = root().join("template.yaml");
    let template: Value =
        serde_norway::from_str(&std::fs::read_to_string(&template_path).expect("template.yaml"))
            .expect("template.yaml is valid YAML");
    let declared = functions(&template).len();
    assert!(declared >= 7, "template.yaml declares {declared} functions");

    // A pre-release version, and not the template's own, so that the change shows.
    for version in ["0.1.0", "12.0.3-rc.1"] {
        let dir = scratch("ok");
        let output = dir.join("packaged.yaml");
        let run = package(version, &template_path, &output);
        assert!(
            run.status.success(),
            "package-template {version} failed: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        let text = std::fs::read_to_string(&output).expect("packaged.yaml written");
        let packaged: Value = serde_norway::from_str(&text).expect("packaged.yaml is valid YAML");

        // Each function's code is a zip, with no build metadata left, by name first (for a
        // readable failure), then the whole document.
        let rewritten = functions(&packaged);
        assert_eq!(rewritten.len(), declared);
        for (id, function) in &rewritten {
            let code = function["Properties"]["CodeUri"].as_str().unwrap_or("");
            assert!(
                code.ends_with(&format!("-{version}-arm64.zip")) && !code.contains('/'),
                "{id}: CodeUri {code:?} is not its zip"
            );
            let metadata = function.get("Metadata").and_then(Value::as_mapping);
            for key in ["BuildMethod", "BuildProperties"] {
                assert!(
                    metadata.is_none_or(|m: &Mapping| !m.contains_key(key)),
                    "{id}: Metadata.{key} is left"
                );
            }
        }
        assert_eq!(
            packaged["Metadata"]["AWS::ServerlessRepo::Application"]["SemanticVersion"].as_str(),
            Some(version)
        );
        assert!(
            text.starts_with(&format!(
                "# scimgw {version}, packaged from template.yaml at commit 0123456789abcdef"
            )),
            "the header comment names the version and commit"
        );

        let (want, listing) = expected(&template, version);
        assert!(
            packaged == want,
            "packaged.yaml differs from template.yaml beyond CodeUri, the build metadata and \
             SemanticVersion"
        );
        let printed: Vec<String> = String::from_utf8_lossy(&run.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        assert_eq!(printed, listing, "the listing scripts/release builds from");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn a_version_that_is_not_semantic_is_refused_before_anything_is_written() {
    let dir = scratch("version");
    for version in ["1.2", "v1.2.3", "01.2.3", "1.2.3+build.5", "1.2.3-", ""] {
        let output = dir.join("packaged.yaml");
        let run = package(version, &root().join("template.yaml"), &output);
        assert!(!run.status.success(), "{version:?} accepted");
        assert!(
            String::from_utf8_lossy(&run.stderr).contains("not a semantic version"),
            "{version:?}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        assert!(!output.exists(), "{version:?}: output written");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_function_the_rewrite_does_not_understand_fails_it() {
    let template = std::fs::read_to_string(root().join("template.yaml")).expect("template.yaml");
    let dir = scratch("broken");
    let cases = [
        // One function without its Binary: scripts/release would not know what to build.
        (
            "no Binary",
            template.replacen("        Binary: sealer\n", "", 1),
        ),
        // One function whose code is not a functions/<name> directory.
        (
            "CodeUri elsewhere",
            template.replacen("CodeUri: functions/token-age", "CodeUri: s3://b/k.zip", 1),
        ),
        // One function built another way.
        (
            "BuildMethod",
            template.replacen("BuildMethod: rust-cargolambda", "BuildMethod: makefile", 1),
        ),
    ];
    for (what, text) in cases {
        assert_ne!(text, template, "{what}: the test's edit applies");
        let input = dir.join("template.yaml");
        std::fs::write(&input, text).expect("write the edited template");
        let output = dir.join("packaged.yaml");
        let run = package("1.0.0", &input, &output);
        assert!(!run.status.success(), "{what}: accepted");
        assert!(!output.exists(), "{what}: output written");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
