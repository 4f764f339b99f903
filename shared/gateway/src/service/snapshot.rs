//! A complete read of Identity Center for the reconciler: every user, every group, and
//! the members of the groups the gateway may manage, counted in requests and refreshing
//! the mirror from the same answers.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures::stream::{self, StreamExt};
use scim_core::{Group, Resource};

use super::ScimService;
use super::known::Source;
use crate::Deadline;
use crate::ports::target::counting_requests;
use crate::reconcile::plan::{IcSide, LISTING_GROUPS, LISTING_USERS, is_okta_group_id};

/// How many groups' members are read at once.
const CONCURRENT_MEMBER_READS: usize = 4;

/// How many mirror entries are written at once.
const CONCURRENT_MIRROR_WRITES: usize = 16;

impl ScimService {
    /// Reads Identity Center whole within `budget`. A failed read is a problem in the
    /// answer, never a panic or a partial listing taken for a whole one; answers the
    /// requests it took.
    pub async fn snapshot(&self, budget: Duration, refresh_mirror: bool) -> (IcSide, u32) {
        let counter = Arc::new(AtomicU32::new(0));
        let deadline = Deadline::after(budget);
        let side = counting_requests(counter.clone(), async {
            let mut side = IcSide::default();
            match self.target.list_users(None, deadline).await {
                Ok(users) => side.users = users,
                Err(error) => side.problems.push(format!("{LISTING_USERS}: {error}")),
            }
            match self.target.list_groups(None, deadline).await {
                Ok(groups) => side.groups = groups,
                Err(error) => side.problems.push(format!("{LISTING_GROUPS}: {error}")),
            }
            let wanted: Vec<String> = side
                .groups
                .iter()
                .filter(|g| may_manage(g))
                .filter_map(|g| g.id().map(str::to_owned))
                .collect();
            let target = &self.target;
            let reads: Vec<_> = stream::iter(wanted)
                .map(|gid| async move {
                    let members = target.list_group_member_ids(&gid, deadline).await;
                    (gid, members)
                })
                .buffer_unordered(CONCURRENT_MEMBER_READS)
                .collect()
                .await;
            let mut members = HashMap::new();
            for (gid, read) in reads {
                match read {
                    Ok(ids) => {
                        members.insert(gid, ids);
                    }
                    Err(error) => side
                        .problems
                        .push(format!("listing the members of group {gid}: {error}")),
                }
            }
            side.members = members;
            side
        })
        .await;
        if refresh_mirror {
            // Concurrently: at 10 000 users one write at a time would take most of a
            // scheduled run.
            stream::iter(&side.users)
                .for_each_concurrent(CONCURRENT_MIRROR_WRITES, |user| {
                    self.remember_user(user, Source::Target)
                })
                .await;
            stream::iter(&side.groups)
                .for_each_concurrent(CONCURRENT_MIRROR_WRITES, |group| {
                    self.remember_group(group, Source::Target)
                })
                .await;
        }
        (side, counter.load(Ordering::Relaxed))
    }
}

/// Groups whose members the plan may change: Okta's (by `externalId`) and those it may
/// adopt (no `externalId`, not Identity Center's or Control Tower's own).
fn may_manage(group: &Group) -> bool {
    match group.external_id() {
        Some(ext) => is_okta_group_id(ext),
        None => !group.display_name.starts_with("AWS"),
    }
}
