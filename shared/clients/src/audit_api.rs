//! [`HttpAuditStore`]: the audit API (`GET /audit/records`, `GET /audit/verify`) read over
//! HTTP with a bearer token, as an [`AuditStore`], so that a tool runs the same code
//! against the API as against the audit table.
//!
//! The API verifies a bounded span per call and says where the next call starts
//! ([`VerifyPage`]); [`AuditStore::verify`] here follows the pages and merges their
//! reports with [`merge_reports`], which `scimgw audit verify` also uses for the pages
//! it verifies against the table itself.

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use gateway::audit_store::{AuditPage, AuditQuery, AuditStore, AuditStoreError, VerifyReport};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// One answer of `GET /audit/verify`: the report of the period it covers, and where the
/// next call starts while the requested period goes on. The period fields are absent
/// from an API that verified the whole period in one answer (before pages).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct VerifyPage {
    /// The report of `[since, until)`.
    #[serde(flatten)]
    pub report: VerifyReport,
    /// The start of the period covered.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub since: Option<OffsetDateTime>,
    /// The end of the period covered (exclusive).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub until: Option<OffsetDateTime>,
    /// The end of the period asked for (the API's "now" when none was given).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub requested_until: Option<OffsetDateTime>,
    /// Where the next call starts; `None` once the requested period is covered.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub next_since: Option<OffsetDateTime>,
}

/// The reports of consecutive periods as one report of their union: intact when every
/// page is; problems and notes once each, in the order first reported (a chain whose
/// records straddle a page boundary is judged by both pages, and reports its problems
/// twice); `checked` and `chains` summed. Those sums count what the pages read, so a
/// chain of a boundary hour, and its records, count once per page that read it: they
/// can exceed a single verification's counts, never fall short of them.
pub fn merge_reports(reports: impl IntoIterator<Item = VerifyReport>) -> VerifyReport {
    let mut merged = VerifyReport {
        intact: true,
        checked: 0,
        chains: 0,
        problems: Vec::new(),
        notes: Vec::new(),
    };
    let mut problems = HashSet::new();
    let mut notes = HashSet::new();
    for report in reports {
        merged.intact &= report.intact;
        merged.checked += report.checked;
        merged.chains += report.chains;
        for problem in report.problems {
            if problems.insert(key(&problem)) {
                merged.problems.push(problem);
            }
        }
        for note in report.notes {
            if notes.insert(key(&note)) {
                merged.notes.push(note);
            }
        }
    }
    merged.intact &= merged.problems.is_empty();
    merged
}

/// A finding's identity for de-duplication: its JSON, so that two findings are the same
/// when every field is (the types are not `Hash`).
fn key(finding: &impl serde::Serialize) -> String {
    serde_json::to_string(finding).unwrap_or_default()
}

/// The audit API read through HTTP, as an [`AuditStore`].
pub struct HttpAuditStore {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for HttpAuditStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpAuditStore")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// A refusal or failure of the audit API, with its own message.
#[derive(Debug, thiserror::Error)]
#[error("the audit API answered HTTP {status}: {message}")]
pub struct AuditApiError {
    status: u16,
    message: String,
}

/// Why an [`HttpAuditStore`] could not be built. Each carries the base URL as the store
/// would have used it (without a trailing `/` or `/audit`).
#[derive(Debug, thiserror::Error)]
pub enum AuditApiBuildError {
    /// The base is not a URL.
    #[error("{base}: not a URL")]
    NotAUrl {
        /// The base URL.
        base: String,
        /// Why it does not parse.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The base is plain `http` to a host other than loopback: the token would travel in
    /// clear.
    #[error("{base}: must be https (plain http only to a loopback address)")]
    Insecure {
        /// The base URL.
        base: String,
    },
    /// The HTTP client (TLS set-up) could not be built.
    #[error("the HTTP client could not be built")]
    Http(#[source] reqwest::Error),
}

impl HttpAuditStore {
    /// A store reading the API under `base` (the stage URL; a trailing `/audit` is
    /// accepted too) with the bearer `token`. The base must be `https`, or plain `http`
    /// to a loopback address.
    pub fn new(base: &str, token: String) -> Result<Self, AuditApiBuildError> {
        let base = base
            .trim_end_matches('/')
            .trim_end_matches("/audit")
            .to_owned();
        let parsed = match reqwest::Url::parse(&base) {
            Ok(parsed) => parsed,
            Err(e) => {
                return Err(AuditApiBuildError::NotAUrl {
                    source: Box::new(e),
                    base,
                });
            }
        };
        let loopback = parsed
            .host_str()
            .is_some_and(|h| h == "localhost" || h == "127.0.0.1" || h == "[::1]");
        if parsed.scheme() != "https" && !(parsed.scheme() == "http" && loopback) {
            return Err(AuditApiBuildError::Insecure { base });
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(AuditApiBuildError::Http)?;
        Ok(Self { base, token, http })
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<T, AuditStoreError> {
        let unavailable =
            |e: Box<dyn std::error::Error + Send + Sync>| AuditStoreError::Unavailable(e);
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .query(params)
            .bearer_auth(&self.token)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| unavailable(Box::new(e)))?;
        let status = response.status();
        if status.is_success() {
            return response
                .json::<T>()
                .await
                .map_err(|e| unavailable(Box::new(e)));
        }
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        let message = body["message"].as_str().unwrap_or("no detail").to_owned();
        if status == reqwest::StatusCode::BAD_REQUEST {
            return Err(AuditStoreError::InvalidQuery(message));
        }
        Err(unavailable(Box::new(AuditApiError {
            status: status.as_u16(),
            message,
        })))
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

#[async_trait]
impl AuditStore for HttpAuditStore {
    async fn query(&self, query: &AuditQuery) -> Result<AuditPage, AuditStoreError> {
        let mut params: Vec<(&str, String)> = vec![("limit", query.limit.to_string())];
        let text = |v: &serde_json::Value| v.as_str().map(str::to_owned).unwrap_or_default();
        if let Some(v) = &query.target {
            params.push(("target", v.clone()));
        }
        if let Some(v) = &query.actor {
            params.push(("actor", v.clone()));
        }
        if let Some(v) = query.since {
            params.push(("since", rfc3339(v)));
        }
        if let Some(v) = query.until {
            params.push(("until", rfc3339(v)));
        }
        if let Some(v) = query.outcome {
            params.push((
                "outcome",
                text(&serde_json::to_value(v).unwrap_or_default()),
            ));
        }
        if let Some(v) = query.operation {
            params.push((
                "operation",
                text(&serde_json::to_value(v).unwrap_or_default()),
            ));
        }
        if let Some(v) = &query.cursor {
            params.push(("cursor", v.clone()));
        }
        self.get("/audit/records", &params).await
    }

    /// Follows the API's pages from `since` to `until` and merges their reports
    /// ([`merge_reports`]).
    async fn verify(
        &self,
        since: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<VerifyReport, AuditStoreError> {
        let mut reports = Vec::new();
        let mut from = since;
        loop {
            let page = self.verify_page(Some(from), Some(until)).await?;
            let next = page.next_since;
            reports.push(page.report);
            match next {
                Some(next) => from = next_start(from, next, until)?,
                None => return Ok(merge_reports(reports)),
            }
        }
    }
}

impl HttpAuditStore {
    /// One `GET /audit/verify` call: the report of the period it covers, from `since`
    /// (the epoch when absent) up to `until` (the API's "now" when absent), and where the
    /// next call starts.
    pub async fn verify_page(
        &self,
        since: Option<OffsetDateTime>,
        until: Option<OffsetDateTime>,
    ) -> Result<VerifyPage, AuditStoreError> {
        let mut params = Vec::new();
        if let Some(since) = since {
            params.push(("since", rfc3339(since)));
        }
        if let Some(until) = until {
            params.push(("until", rfc3339(until)));
        }
        self.get("/audit/verify", &params).await
    }
}

/// The start of the next page, which must move forward inside the period: an API that
/// does not would be asked the same page for ever.
pub fn next_start(
    from: OffsetDateTime,
    next: OffsetDateTime,
    until: OffsetDateTime,
) -> Result<OffsetDateTime, AuditStoreError> {
    if next <= from || next >= until {
        return Err(AuditStoreError::Unavailable(
            format!(
                "the audit API's next page starts at {}, outside {}..{}",
                rfc3339(next),
                rfc3339(from),
                rfc3339(until)
            )
            .into(),
        ));
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    use gateway::audit_store::{NoteKind, ProblemKind, ProblemSubject, VerifyNote, VerifyProblem};

    fn problem(record: &str) -> VerifyProblem {
        VerifyProblem {
            kind: ProblemKind::Deleted,
            subject: ProblemSubject::Record,
            record_id: Some(record.into()),
            chain: None,
            seq: None,
            seal: None,
            belongs_at: None,
            location: None,
            detail: "gone".into(),
        }
    }

    fn report(checked: u64, problems: Vec<VerifyProblem>, notes: Vec<&str>) -> VerifyReport {
        VerifyReport {
            intact: problems.is_empty(),
            checked,
            chains: 2,
            problems,
            notes: notes
                .into_iter()
                .map(|n| VerifyNote {
                    kind: NoteKind::Expired,
                    chain: None,
                    seqs: None,
                    detail: n.into(),
                })
                .collect(),
        }
    }

    #[test]
    fn merged_pages_report_each_finding_once_and_sum_what_they_read() {
        // Arrange: a chain straddling the boundary reports its deleted record twice.
        let pages = [
            report(10, vec![problem("c1:3")], vec!["expired 1-2"]),
            report(
                7,
                vec![problem("c1:3"), problem("c2:1")],
                vec!["expired 1-2"],
            ),
            report(5, vec![], vec![]),
        ];

        // Act
        let merged = merge_reports(pages);

        // Assert
        assert!(!merged.intact);
        assert_eq!((merged.checked, merged.chains), (22, 6));
        assert_eq!(merged.problems, [problem("c1:3"), problem("c2:1")]);
        assert_eq!(merged.notes.len(), 1);
        assert!(merge_reports([report(1, vec![], vec![])]).intact);
    }

    #[test]
    fn a_next_page_must_move_forward_inside_the_period() {
        let (a, b, c) = (
            time::macros::datetime!(2024-04-05 00:00 UTC),
            time::macros::datetime!(2024-04-05 06:00 UTC),
            time::macros::datetime!(2024-04-06 00:00 UTC),
        );
        assert_eq!(next_start(a, b, c).unwrap(), b);
        assert!(next_start(b, b, c).is_err());
        assert!(next_start(a, c, c).is_err());
    }

    #[test]
    fn an_answer_without_a_period_is_one_whole_page() {
        let page: VerifyPage = serde_json::from_value(serde_json::json!({
            "intact": true, "checked": 3, "chains": 1, "problems": [], "notes": []
        }))
        .unwrap();
        assert_eq!((page.next_since, page.since), (None, None));
        let paged: VerifyPage = serde_json::from_value(serde_json::json!({
            "intact": true, "checked": 3, "chains": 1, "problems": [], "notes": [],
            "since": "2024-04-05T00:00:00Z", "until": "2024-04-05T06:00:00Z",
            "requested_until": "2024-04-06T00:00:00Z", "next_since": "2024-04-05T06:00:00Z"
        }))
        .unwrap();
        assert_eq!(
            paged.next_since,
            Some(time::macros::datetime!(2024-04-05 06:00 UTC))
        );
    }

    #[test]
    fn the_api_must_be_https_except_on_loopback() {
        assert!(HttpAuditStore::new("http://example.com", "t".into()).is_err());
        assert!(
            HttpAuditStore::new("https://example.com/prod/audit/", "t".into())
                .is_ok_and(|s| s.base == "https://example.com/prod")
        );
        assert!(HttpAuditStore::new("http://127.0.0.1:9/", "t".into()).is_ok());
    }
}
