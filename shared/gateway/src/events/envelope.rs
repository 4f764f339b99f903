//! An Okta Event Hook delivery, read and checked before anything is recorded: the
//! envelope (`eventType` `com.okta.event_hook`, `eventTypeVersion` `1.0`,
//! `data.events[]`; <https://developer.okta.com/docs/concepts/event-hooks/>), and each
//! event (a System Log `LogEvent`) classified into what the worker acts on.
//!
//! A delivery is taken whole or refused whole, so that nothing partial is queued: one
//! malformed event refuses the delivery. An event of a type the gateway does not act
//! on, or one without the target it needs (Okta's Preview tab sends `target: null`), is
//! acknowledged and counted, never queued.

use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::ports::events::QueuedEvent;

/// The envelope version this gateway reads.
pub const ENVELOPE_VERSION: &str = "1.0";

/// The envelope's `eventType`.
pub const ENVELOPE_TYPE: &str = "com.okta.event_hook";

/// The most events one delivery may carry. Okta documents no maximum; it batches events
/// that happen close together. A delivery over this is refused whole with 413 (and
/// alarmed on through the refusal metric): acknowledging more than the hook can record
/// within Okta's 3-second budget would lose some.
pub const MAX_EVENTS_PER_DELIVERY: usize = 1000;

/// The longest `uuid` and event type accepted (Okta's are 36 and under 64 characters).
const MAX_KEY_CHARS: usize = 128;

/// The longest free text (names, alternate ids) kept from an event.
const MAX_TEXT_CHARS: usize = 256;

/// What the worker does with an event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A user's lifecycle or profile changed: converge the user.
    User,
    /// A group was created, renamed or deleted: converge the group.
    Group,
    /// A user joined or left a group: converge the membership.
    Membership,
    /// A user was assigned to or unassigned from an app: converge the user.
    AppAssignment,
}

/// The event types the gateway acts on (Okta's event types catalog,
/// <https://developer.okta.com/docs/reference/api/event-types/>), and what each is.
pub const SUPPORTED_EVENT_TYPES: &[(&str, EventKind)] = &[
    ("user.lifecycle.create", EventKind::User),
    ("user.lifecycle.activate", EventKind::User),
    ("user.lifecycle.reactivate", EventKind::User),
    ("user.lifecycle.deactivate", EventKind::User),
    ("user.lifecycle.suspend", EventKind::User),
    ("user.lifecycle.unsuspend", EventKind::User),
    ("user.lifecycle.delete.initiated", EventKind::User),
    ("user.lifecycle.delete.completed", EventKind::User),
    ("user.account.update_profile", EventKind::User),
    ("group.lifecycle.create", EventKind::Group),
    ("group.lifecycle.delete", EventKind::Group),
    ("group.profile.update", EventKind::Group),
    ("group.user_membership.add", EventKind::Membership),
    ("group.user_membership.remove", EventKind::Membership),
    ("application.user_membership.add", EventKind::AppAssignment),
    (
        "application.user_membership.remove",
        EventKind::AppAssignment,
    ),
];

/// What an event type is, when the gateway acts on it.
pub fn kind_of(event_type: &str) -> Option<EventKind> {
    SUPPORTED_EVENT_TYPES
        .iter()
        .find(|(t, _)| *t == event_type)
        .map(|(_, kind)| *kind)
}

/// Why a delivery was refused, with the HTTP status it gets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Not JSON, or not an Okta envelope: 400.
    #[error("{0}")]
    Malformed(String),
    /// An envelope version this gateway does not read: 400.
    #[error("unknown envelope version `{0}`; this gateway reads {ENVELOPE_VERSION}")]
    UnknownVersion(String),
    /// More events than [`MAX_EVENTS_PER_DELIVERY`]: 413.
    #[error("{0} events in one delivery; the limit is {MAX_EVENTS_PER_DELIVERY}")]
    TooManyEvents(usize),
}

impl DeliveryError {
    /// The HTTP status of the refusal.
    pub fn status(&self) -> u16 {
        match self {
            Self::Malformed(_) | Self::UnknownVersion(_) => 400,
            Self::TooManyEvents(_) => 413,
        }
    }
}

/// A delivery, read.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// The envelope's `eventId` (a new one for every delivery, retries included).
    pub envelope_id: String,
    /// The events the worker acts on, in the order Okta sent them.
    pub events: Vec<QueuedEvent>,
    /// The events acknowledged without being queued: `(event type, why)`.
    pub ignored: Vec<(String, &'static str)>,
}

/// The Okta ids an event concerns, as far as its targets name them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventSubject {
    /// The user (`target[].type` `User`).
    pub user_id: Option<String>,
    /// The group (`UserGroup`).
    pub group_id: Option<String>,
    /// The app (`AppInstance`).
    pub app_id: Option<String>,
    /// Who did it: the actor's `alternateId` (an admin's login) or `id`.
    pub actor: Option<String>,
}

/// Reads a delivery's body (already parsed as JSON).
pub fn read_delivery(body: &Value) -> Result<Delivery, DeliveryError> {
    let envelope = body
        .as_object()
        .ok_or_else(|| malformed("the body is not a JSON object"))?;
    let version = envelope
        .get("eventTypeVersion")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("`eventTypeVersion` is missing"))?;
    if version != ENVELOPE_VERSION {
        return Err(DeliveryError::UnknownVersion(capped(version)));
    }
    if envelope.get("eventType").and_then(Value::as_str) != Some(ENVELOPE_TYPE) {
        return Err(malformed(&format!("`eventType` is not `{ENVELOPE_TYPE}`")));
    }
    let envelope_id = envelope
        .get("eventId")
        .and_then(Value::as_str)
        .map(capped)
        .unwrap_or_default();
    let events = envelope
        .get("data")
        .and_then(|d| d.get("events"))
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("`data.events` is not a list"))?;
    if events.len() > MAX_EVENTS_PER_DELIVERY {
        return Err(DeliveryError::TooManyEvents(events.len()));
    }
    let mut delivery = Delivery {
        envelope_id,
        events: Vec::new(),
        ignored: Vec::new(),
    };
    for (i, event) in events.iter().enumerate() {
        let checked = check_event(event).map_err(|why| malformed(&format!("event {i}: {why}")))?;
        match classify(&checked) {
            Ok(queued) => delivery.events.push(queued),
            Err(why) => delivery.ignored.push((checked.event_type, why)),
        }
    }
    Ok(delivery)
}

/// An event whose required fields are present and well formed.
struct CheckedEvent {
    uuid: String,
    published: String,
    event_type: String,
    narrowed: Value,
}

fn check_event(event: &Value) -> Result<CheckedEvent, String> {
    let object = event.as_object().ok_or("not an object")?;
    let uuid = key_field(object, "uuid")?;
    let event_type = key_field(object, "eventType")?;
    let published = object
        .get("published")
        .and_then(Value::as_str)
        .ok_or("`published` is missing")?;
    OffsetDateTime::parse(published, &Rfc3339)
        .map_err(|_| "`published` is not an RFC 3339 time")?;
    let narrowed = json!({
        "uuid": uuid,
        "published": published,
        "eventType": event_type,
        "actor": object.get("actor").map(narrow_party).unwrap_or(Value::Null),
        "target": match object.get("target") {
            Some(Value::Array(targets)) => Value::Array(targets.iter().map(narrow_party).collect()),
            _ => Value::Null,
        },
    });
    Ok(CheckedEvent {
        uuid,
        published: published.to_owned(),
        event_type,
        narrowed,
    })
}

/// A `uuid` or `eventType`: a non-empty string of letters, digits, `.`, `-` and `_`.
fn key_field(object: &Map<String, Value>, name: &str) -> Result<String, String> {
    let value = object
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("`{name}` is missing"))?;
    let valid = (1..=MAX_KEY_CHARS).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if valid {
        Ok(value.to_owned())
    } else {
        Err(format!("`{name}` is not a well-formed key"))
    }
}

/// An actor or target, narrowed to its identity (`detailEntry` and the rest dropped).
fn narrow_party(party: &Value) -> Value {
    let Some(object) = party.as_object() else {
        return Value::Null;
    };
    let mut narrowed = Map::new();
    for key in ["id", "type", "alternateId", "displayName"] {
        if let Some(text) = object.get(key).and_then(Value::as_str) {
            narrowed.insert(key.to_owned(), Value::String(capped(text)));
        }
    }
    Value::Object(narrowed)
}

fn classify(event: &CheckedEvent) -> Result<QueuedEvent, &'static str> {
    let kind = kind_of(&event.event_type).ok_or("an event type the gateway does not act on")?;
    let subject = subject_of(&event.narrowed);
    let group_key = match kind {
        EventKind::User | EventKind::AppAssignment => subject.user_id.clone(),
        EventKind::Group => subject.group_id.clone(),
        // Grouped by user: a user's creation and memberships are applied in order.
        EventKind::Membership => subject.group_id.as_ref().and(subject.user_id.clone()),
    }
    .ok_or("its target does not name the user or group it concerns")?;
    if kind == EventKind::AppAssignment && subject.app_id.is_none() {
        return Err("its target does not name the app");
    }
    Ok(QueuedEvent {
        uuid: event.uuid.clone(),
        published: event.published.clone(),
        event_type: event.event_type.clone(),
        group_key,
        event: event.narrowed.clone(),
    })
}

/// The Okta ids a (narrowed) event names.
pub fn subject_of(event: &Value) -> EventSubject {
    let mut subject = EventSubject {
        actor: event.get("actor").and_then(|a| {
            a.get("alternateId")
                .or_else(|| a.get("id"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        }),
        ..EventSubject::default()
    };
    for target in event
        .get("target")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(id) = target
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| is_okta_id(id))
        else {
            continue;
        };
        let slot = match target.get("type").and_then(Value::as_str) {
            Some("User") => &mut subject.user_id,
            Some("UserGroup") => &mut subject.group_id,
            Some("AppInstance") => &mut subject.app_id,
            _ => continue,
        };
        slot.get_or_insert_with(|| id.to_owned());
    }
    subject
}

/// Okta's object ids are letters and digits (`00u…`, `00g…`, `0oa…`).
fn is_okta_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric())
}

fn malformed(why: &str) -> DeliveryError {
    DeliveryError::Malformed(format!("not an Okta event hook delivery: {why}"))
}

fn capped(text: &str) -> String {
    text.chars().take(MAX_TEXT_CHARS).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn envelope(events: Value) -> Value {
        json!({
            "eventType": "com.okta.event_hook",
            "eventTypeVersion": "1.0",
            "cloudEventsVersion": "0.1",
            "eventId": "env-1",
            "data": {"events": events},
        })
    }

    fn event(uuid: &str, event_type: &str, target: Value) -> Value {
        json!({
            "uuid": uuid,
            "published": "2026-11-30T10:00:00.000Z",
            "eventType": event_type,
            "actor": {"id": "00uadmin", "type": "User", "alternateId": "admin@example.com",
                      "detailEntry": {"secret": "dropped"}},
            "target": target,
        })
    }

    #[test]
    fn supported_events_are_queued_by_the_id_they_concern_and_others_are_ignored() {
        let body = envelope(json!([
            event(
                "u1",
                "user.lifecycle.create",
                json!([{"id": "00u1", "type": "User"}])
            ),
            event(
                "g1",
                "group.profile.update",
                json!([{"id": "00g1", "type": "UserGroup"}])
            ),
            event(
                "m1",
                "group.user_membership.add",
                json!([{"id": "00u1", "type": "User"}, {"id": "00g1", "type": "UserGroup"}])
            ),
            event("s1", "user.session.start", json!([])),
            event("n1", "group.user_membership.add", Value::Null),
        ]));
        let delivery = read_delivery(&body).unwrap();
        let keys: Vec<_> = delivery
            .events
            .iter()
            .map(|e| (e.uuid.as_str(), e.group_key.as_str()))
            .collect();
        assert_eq!(keys, [("u1", "00u1"), ("g1", "00g1"), ("m1", "00u1")]);
        assert_eq!(delivery.ignored.len(), 2);
        let narrowed = &delivery.events[0].event;
        assert!(narrowed["actor"].get("detailEntry").is_none());
        assert_eq!(
            subject_of(narrowed).actor.as_deref(),
            Some("admin@example.com")
        );
    }

    #[test]
    fn a_bad_envelope_or_event_refuses_the_whole_delivery() {
        let good = event(
            "u1",
            "user.lifecycle.create",
            json!([{"id": "00u1", "type": "User"}]),
        );
        let cases = [
            (json!([1, 2]), 400),
            (
                json!({"eventTypeVersion": "2.0", "eventType": ENVELOPE_TYPE}),
                400,
            ),
            (
                json!({"eventTypeVersion": "1.0", "eventType": "x", "data": {"events": []}}),
                400,
            ),
            (envelope(json!({"not": "a list"})), 400),
            (
                envelope(json!([good.clone(), {"uuid": "", "eventType": "x"}])),
                400,
            ),
            (
                envelope(
                    json!([good.clone(), {"uuid": "a b", "eventType": "x", "published": "2026-01-01T00:00:00Z"}]),
                ),
                400,
            ),
            (
                envelope(json!([{"uuid": "u2", "eventType": "x", "published": "yesterday"}])),
                400,
            ),
            (
                envelope(Value::Array(vec![good; MAX_EVENTS_PER_DELIVERY + 1])),
                413,
            ),
        ];
        for (body, status) in cases {
            let error = read_delivery(&body).unwrap_err();
            assert_eq!(error.status(), status, "{body}: {error}");
        }
    }

    #[test]
    fn an_app_assignment_needs_its_app_and_a_membership_its_group() {
        let body = envelope(json!([
            event(
                "a1",
                "application.user_membership.add",
                json!([{"id": "00u1", "type": "User"}])
            ),
            event(
                "m1",
                "group.user_membership.remove",
                json!([{"id": "00u1", "type": "User"}])
            ),
            event(
                "a2",
                "application.user_membership.add",
                json!([{"id": "0oa1", "type": "AppInstance"}, {"id": "00u1", "type": "User"}])
            ),
        ]));
        let delivery = read_delivery(&body).unwrap();
        assert_eq!(delivery.events.len(), 1);
        assert_eq!(delivery.events[0].uuid, "a2");
        assert_eq!(delivery.ignored.len(), 2);
    }
}
