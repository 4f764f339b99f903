//! One page of a listing per request, as Okta pages (`startIndex`, `count`, an exact
//! `totalResults`), over Identity Center's cursor paging (`docs/identity-center-dialect.md`
//! §4): without `cursor` Identity Center answers a classic first page with the total,
//! with `cursor` it answers a page and the next cursor but no total.
//!
//! So the first page is one classic request; a later page starts from the cursor that
//! the page before it left, kept here per listing (resource type and filter) for a few
//! minutes. Okta's import of N users then costs N/100 + 1 requests instead of a walk of
//! the whole directory per page. A position without a kept cursor (another process
//! served the page before, the cursor expired) is reached by walking from the start,
//! which is slower but as correct. A plain RFC 7644 server pages by `startIndex` itself.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use gateway::TargetError;
use reqwest::Method;
use scim_core::ListPage;
use serde_json::Value;

use super::resources::Kind;
use super::wire::{self, query_string};
use super::{HttpTargetScimClient, TargetDialect};

/// How long a listing's cursors and total are kept after their last use: long enough
/// for Okta's sequential import, short enough that a later one starts afresh.
const LISTING_TTL: Duration = Duration::from_secs(300);

/// How many listings are kept at once; the least recently used goes first.
const MAX_LISTINGS: usize = 32;

/// The largest page Identity Center serves.
const PAGE: u64 = wire::MAX_PER_REQUEST as u64;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ListingKey {
    path: &'static str,
    filter: Option<String>,
}

#[derive(Debug, Clone)]
struct Listing {
    /// The total the classic first page gave.
    total: Option<u64>,
    /// The cursor that continues at each 1-based position.
    cursors: BTreeMap<u64, String>,
    used: Instant,
}

/// The cursors and totals of recent listings.
#[derive(Debug, Default)]
pub(super) struct Listings {
    entries: Mutex<HashMap<ListingKey, Listing>>,
}

impl Listings {
    fn get(&self, key: &ListingKey) -> Option<Listing> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .filter(|l| l.used.elapsed() < LISTING_TTL)
            .cloned()
    }

    fn update(&self, key: ListingKey, change: impl FnOnce(&mut Listing)) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|_, l| l.used.elapsed() < LISTING_TTL);
        if !entries.contains_key(&key) && entries.len() >= MAX_LISTINGS {
            let oldest = entries
                .iter()
                .min_by_key(|(_, l)| l.used)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                entries.remove(&oldest);
            }
        }
        let listing = entries.entry(key).or_insert_with(|| Listing {
            total: None,
            cursors: BTreeMap::new(),
            used: Instant::now(),
        });
        listing.used = Instant::now();
        change(listing);
    }

    fn forget(&self, key: &ListingKey) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

impl HttpTargetScimClient {
    /// The resources at 1-based positions `start_index..start_index + count` of the
    /// listing of `kind` matching `filter`, and the listing's total.
    pub(super) async fn page_json(
        &self,
        kind: Kind,
        filter: Option<String>,
        start_index: u64,
        count: u64,
        deadline: Instant,
    ) -> Result<(Vec<Value>, u64), TargetError> {
        let start_index = start_index.max(1);
        if self.dialect == TargetDialect::Rfc7644 {
            return self
                .numbered_page(kind, filter, start_index, count, deadline)
                .await;
        }
        let key = ListingKey {
            path: kind.path(),
            filter,
        };
        let known = self.listings.get(&key);
        let total = match known.as_ref().and_then(|l| l.total) {
            Some(total) if start_index > 1 => total,
            _ => {
                // The classic first page: the total, and the first resources with it.
                let size = if start_index == 1 {
                    count.clamp(1, PAGE)
                } else {
                    1
                };
                let page = self.classic_page(&key, size, deadline).await?;
                let total = page.total_results.unwrap_or(page.resources.len() as u64);
                self.listings.update(key.clone(), |l| l.total = Some(total));
                if start_index == 1 {
                    let resources = page.resources.into_iter().take(to_usize(count)).collect();
                    return Ok((resources, total));
                }
                total
            }
        };
        if count == 0 || start_index > total {
            return Ok((Vec::new(), total));
        }
        let resumed = known.and_then(|l| l.cursors.get(&start_index).cloned());
        let resources = match resumed {
            Some(cursor) => {
                match self
                    .cursor_walk(&key, cursor, start_index, start_index, count, deadline)
                    .await
                {
                    Ok(resources) => resources,
                    // An expired or refused cursor: start over from the beginning.
                    Err(TargetError::Rejected { status: 400, .. }) => {
                        self.listings.forget(&key);
                        self.cursor_walk(&key, String::new(), 1, start_index, count, deadline)
                            .await?
                    }
                    Err(error) => return Err(error),
                }
            }
            None => {
                self.cursor_walk(&key, String::new(), 1, start_index, count, deadline)
                    .await?
            }
        };
        Ok((resources, total))
    }

    async fn classic_page(
        &self,
        key: &ListingKey,
        count: u64,
        deadline: Instant,
    ) -> Result<ListPage<Value>, TargetError> {
        let mut pairs = vec![("count", count.to_string())];
        pairs.extend(key.filter.clone().map(|f| ("filter", f)));
        self.send(Method::GET, key.path, &query_string(&pairs), None, deadline)
            .await?
            .json()
    }

    /// Follows cursors from `cursor` (at 1-based position `position`; empty: the start)
    /// and keeps the resources at `from..from + count`, noting the cursor at each page
    /// boundary for the pages that follow.
    async fn cursor_walk(
        &self,
        key: &ListingKey,
        mut cursor: String,
        mut position: u64,
        from: u64,
        count: u64,
        deadline: Instant,
    ) -> Result<Vec<Value>, TargetError> {
        let mut kept = Vec::new();
        loop {
            let mut pairs = vec![("cursor", cursor), ("count", PAGE.to_string())];
            pairs.extend(key.filter.clone().map(|f| ("filter", f)));
            let page: ListPage<Value> = self
                .send(Method::GET, key.path, &query_string(&pairs), None, deadline)
                .await?
                .json()?;
            for resource in page.resources {
                if position >= from && (kept.len() as u64) < count {
                    kept.push(resource);
                }
                position += 1;
            }
            let next = page.next_cursor.filter(|c| !c.is_empty());
            if let Some(next) = &next {
                let at = position;
                let next = next.clone();
                self.listings.update(key.clone(), move |l| {
                    l.cursors.insert(at, next);
                });
            }
            match next {
                Some(next) if (kept.len() as u64) < count => cursor = next,
                _ => return Ok(kept),
            }
        }
    }

    /// A page of a plain RFC 7644 server, which pages by `startIndex` itself.
    async fn numbered_page(
        &self,
        kind: Kind,
        filter: Option<String>,
        start_index: u64,
        count: u64,
        deadline: Instant,
    ) -> Result<(Vec<Value>, u64), TargetError> {
        let mut pairs = vec![
            ("startIndex", start_index.to_string()),
            ("count", count.to_string()),
        ];
        pairs.extend(filter.map(|f| ("filter", f)));
        let page: ListPage<Value> = self
            .send(
                Method::GET,
                kind.path(),
                &query_string(&pairs),
                None,
                deadline,
            )
            .await?
            .json()?;
        let total = page.total_results.unwrap_or(page.resources.len() as u64);
        let resources = page.resources.into_iter().take(to_usize(count)).collect();
        Ok((resources, total))
    }
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}
