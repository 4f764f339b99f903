//! The list use case: filter (part at the target, the rest here), order, page, fill in
//! memberships on request, project.

use scim_core::{ListQuery, ListResponse, ResourceId, ScimError, filter::matches, project};
use serde_json::Value;

use super::known::Reading;
use super::request::{Request, from_target};
use super::users::names;
use super::{GatewayError, ResourceKind, ScimReply, ScimService};
use crate::TargetError;
use crate::audit::ListSummary;
use crate::rules::ActiveRuleSet;
use crate::translate::filter::{Lookup, plan_filter, user_name_lookup};
use crate::translate::list::{MAX_RESULTS, order, page};
use crate::translate::response::{group_to_client, members_json, user_to_client};

impl ScimService {
    pub(super) async fn list_inner(
        &self,
        request: &mut Request<'_>,
        query: ListQuery,
    ) -> Result<ScimReply, GatewayError> {
        let kind = request.kind;
        request.query = Some(ListSummary {
            filter: query.filter.as_ref().map(ToString::to_string),
            total_results: None,
        });
        if query.cursor.is_some() {
            // Without a `nextCursor` in the answer a cursor client would stop after one
            // page and see a truncated listing; say so instead.
            return Err(GatewayError::Invalid(ScimError::invalid_value(
                "`cursor` paging is not supported; page with `startIndex` and `count`",
            )));
        }
        let mut plan = plan_filter(kind, query.filter.as_ref()).map_err(GatewayError::Invalid)?;
        // Identity Center holds the read-back attribute as the rules made it: the lookup
        // it answers is asked in its values; everything else is evaluated here, on the
        // resources as Okta sees them.
        if let (Lookup::Filter(filter), Ok(rules)) = (&mut plan.lookup, request.rules()) {
            to_target_values(filter, &rules, kind);
        }
        let named = match &plan.lookup {
            Lookup::Filter(filter) => user_name_lookup(filter).map(str::to_owned),
            _ => None,
        };
        let named = named.as_deref();
        let reading = match (kind, named) {
            (ResourceKind::User, Some(name)) => Reading::Named(name),
            _ => Reading::Any,
        };
        self.settle(request, kind, reading).await?;
        let mut page = match (&plan.lookup, &plan.local, &query.sort_by) {
            // What Identity Center can answer page by page: one request per page.
            (Lookup::All | Lookup::Filter(_), None, None) => {
                let filter = match &plan.lookup {
                    Lookup::Filter(filter) => Some(filter),
                    _ => None,
                };
                let count = query.count.unwrap_or(MAX_RESULTS).min(MAX_RESULTS);
                self.fetch_page(request, filter, query.start_index.max(1), count)
                    .await?
            }
            // Everything else is evaluated here, over the complete listing.
            _ => {
                let mut resources = self.fetch(request, &plan.lookup).await?;
                if let (true, Some(name)) = (resources.is_empty(), named) {
                    // userName is caseExact false (RFC 7643 §4.1.1), but an Identity
                    // Center that compares it exactly misses a lookup in another case:
                    // a user the mirror knows under this name in any case is read by id.
                    resources = self.known_by_name(request, name).await?;
                }
                for resource in &mut resources {
                    request.okta_resource(kind, resource);
                }
                if let Some(local) = &plan.local {
                    resources.retain(|resource| matches(local, resource));
                }
                order(
                    &mut resources,
                    kind,
                    query.sort_by.as_ref(),
                    query.sort_order,
                );
                page(resources, query.start_index, query.count)
            }
        };
        match kind {
            ResourceKind::Group
                if names(&query.attributes, "members")
                    && !names(&query.excluded_attributes, "members") =>
            {
                for resource in &mut page.resources {
                    let Some(id) = resource
                        .get("id")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                    else {
                        continue;
                    };
                    let deadline = request.deadline;
                    let ids = self
                        .call(
                            request,
                            200,
                            self.target.list_group_member_ids(&id, deadline),
                        )
                        .await
                        .map_err(|e| from_target(e, kind, Some(&id)))?;
                    if let Some(object) = resource.as_object_mut() {
                        object.insert(
                            "members".to_owned(),
                            members_json(&ids, &request.ctx.base_url),
                        );
                    }
                }
            }
            ResourceKind::User
                if names(&query.attributes, "groups")
                    && !names(&query.excluded_attributes, "groups") =>
            {
                for resource in &mut page.resources {
                    let Some(id) = resource
                        .get("id")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                    else {
                        continue;
                    };
                    self.fill_groups(request, resource, &id).await?;
                    request.okta_group_names(resource);
                }
            }
            _ => {}
        }
        for resource in &mut page.resources {
            *resource = project(resource, &query.attributes, &query.excluded_attributes);
        }
        if let Some(audit) = &mut request.query {
            audit.total_results = Some(page.total_results);
        }
        let body = serde_json::to_value(&page)
            .map_err(|e| anyhow::Error::new(e).context("list response"))?;
        Ok(ScimReply::Ok(body))
    }

    /// The user the mirror knows by `name` (ignoring case), as Identity Center holds it
    /// now, if it still bears that name: one read, and only when the mirror has one.
    async fn known_by_name(
        &self,
        request: &mut Request<'_>,
        name: &str,
    ) -> Result<Vec<Value>, GatewayError> {
        let id = match self.mirror.user_id_by_name(name).await {
            Ok(Some(id)) => id,
            Ok(None) => return Ok(Vec::new()),
            Err(error) => {
                tracing::warn!(error = %error, "the mirror could not be read");
                return Ok(Vec::new());
            }
        };
        match self.read_user(request, &id).await {
            Ok(user) if user.user_name.to_lowercase() == name.to_lowercase() => {
                Ok(vec![user_to_client(&user, &request.ctx.base_url)])
            }
            Ok(_) | Err(GatewayError::NotFound(_)) => Ok(Vec::new()),
            Err(error) => Err(error),
        }
    }

    /// One page, as the client would see it, paged by the target.
    async fn fetch_page(
        &self,
        request: &mut Request<'_>,
        filter: Option<&scim_core::Filter>,
        start_index: u64,
        count: u64,
    ) -> Result<ListResponse<Value>, GatewayError> {
        let kind = request.kind;
        let deadline = request.deadline;
        let base = request.ctx.base_url.clone();
        let (resources, total) = match kind {
            ResourceKind::User => {
                let page = self
                    .call(
                        request,
                        200,
                        self.target
                            .list_users_page(filter, start_index, count, deadline),
                    )
                    .await
                    .map_err(|e| from_target(e, kind, None))?;
                let resources = page
                    .resources
                    .iter()
                    .map(|u| {
                        let mut resource = user_to_client(u, &base);
                        request.okta_resource(kind, &mut resource);
                        resource
                    })
                    .collect();
                (resources, page.total_results)
            }
            ResourceKind::Group => {
                let page = self
                    .call(
                        request,
                        200,
                        self.target
                            .list_groups_page(filter, start_index, count, deadline),
                    )
                    .await
                    .map_err(|e| from_target(e, kind, None))?;
                let resources = page
                    .resources
                    .iter()
                    .map(|g| {
                        let mut resource = group_to_client(g, None, &base);
                        request.okta_resource(kind, &mut resource);
                        resource
                    })
                    .collect();
                (resources, page.total_results)
            }
        };
        Ok(ListResponse::page(resources, total, start_index))
    }

    /// The candidates, as the client would see them.
    async fn fetch(
        &self,
        request: &mut Request<'_>,
        lookup: &Lookup,
    ) -> Result<Vec<Value>, GatewayError> {
        let kind = request.kind;
        let deadline = request.deadline;
        let base = request.ctx.base_url.clone();
        let filter = match lookup {
            Lookup::All => None,
            Lookup::Filter(filter) => Some(filter),
            Lookup::ById(id) => {
                if !ResourceId::is_valid(id) {
                    return Ok(Vec::new());
                }
                let found = match kind {
                    ResourceKind::User => self
                        .call(request, 200, self.target.get_user(id, deadline))
                        .await
                        .map(|u| user_to_client(&u, &base)),
                    ResourceKind::Group => self
                        .call(request, 200, self.target.get_group(id, deadline))
                        .await
                        .map(|g| group_to_client(&g, None, &base)),
                };
                return match found {
                    Ok(resource) => Ok(vec![resource]),
                    Err(TargetError::NotFound | TargetError::Rejected { status: 404, .. }) => {
                        Ok(Vec::new())
                    }
                    Err(error) => Err(from_target(error, kind, None)),
                };
            }
        };
        match kind {
            ResourceKind::User => {
                let users = self
                    .call(request, 200, self.target.list_users(filter, deadline))
                    .await
                    .map_err(|e| from_target(e, kind, None))?;
                Ok(users.iter().map(|u| user_to_client(u, &base)).collect())
            }
            ResourceKind::Group => {
                let groups = self
                    .call(request, 200, self.target.list_groups(filter, deadline))
                    .await
                    .map_err(|e| from_target(e, kind, None))?;
                Ok(groups
                    .iter()
                    .map(|g| group_to_client(g, None, &base))
                    .collect())
            }
        }
    }
}

/// `filter` with the read-back attribute's `eq` values as Identity Center holds them
/// under `rules` (Okta's lookup `displayName eq "Engineers"` asks for `okta-Engineers`).
fn to_target_values(filter: &mut scim_core::Filter, rules: &ActiveRuleSet, kind: ResourceKind) {
    use scim_core::{CompValue, CompareOp, Filter};
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::String(value),
        } if path.sub_attr.is_none() => {
            if let Some(target) = rules.outbound(kind, &path.name, value) {
                *value = target;
            }
        }
        Filter::And(a, b) | Filter::Or(a, b) => {
            to_target_values(a, rules, kind);
            to_target_values(b, rules, kind);
        }
        _ => {}
    }
}
