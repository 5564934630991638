//! Collection+JSON, as MIG's API writes it (github.com/jvehent/cljs): every answer is
//! `{"collection": {"version": "1.0", "href": …, "items": […], "template": {}, "error": {…}}}`.
//! MIG's Go encoder never leaves out `template` and `error` (empty structs are not "empty"
//! to Go's `omitempty`), and MIG's client reads `error.message` on failures.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

/// Set on the responses in MIG's form, so that the error layer leaves them as they are.
#[derive(Debug, Clone, Copy)]
pub struct Marker;

/// One resource: a collection of items, or an error.
#[derive(Debug, Serialize)]
pub struct Resource {
    collection: Collection,
    #[serde(skip)]
    status: StatusCode,
}

#[derive(Debug, Serialize)]
struct Collection {
    version: &'static str,
    href: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    items: Vec<Item>,
    template: Template,
    error: Error,
}

/// Always `{}`: MIG's API sends no templates.
#[derive(Debug, Serialize, Default)]
struct Template {}

/// `{"code": <operation ID>, "message": …}`, or `{}` when all went well.
#[derive(Debug, Serialize, Default)]
struct Error {
    #[serde(skip_serializing_if = "String::is_empty")]
    code: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    message: String,
}

/// An item: where it lives, and named values.
#[derive(Debug, Serialize)]
pub struct Item {
    href: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    data: Vec<Data>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    links: Vec<Link>,
}

#[derive(Debug, Serialize)]
struct Data {
    name: String,
    value: Value,
}

/// A link from an item to a related resource.
#[derive(Debug, Serialize)]
struct Link {
    rel: String,
    href: String,
}

impl Resource {
    /// An empty collection at `href` (MIG: the request's own address), status 200.
    pub fn new(href: impl Into<String>) -> Resource {
        Resource {
            collection: Collection {
                version: "1.0",
                href: href.into(),
                items: Vec::new(),
                template: Template {},
                error: Error::default(),
            },
            status: StatusCode::OK,
        }
    }

    /// The same resource answered with `status`.
    pub fn with_status(mut self, status: StatusCode) -> Resource {
        self.status = status;
        self
    }

    /// Appends an item.
    pub fn push(&mut self, item: Item) {
        self.collection.items.push(item);
    }

    /// Sets the error MIG's client prints, with an operation ID as its code (as MIG does,
    /// so that a user can quote it and an operator find it in the server's log).
    pub fn fail(mut self, status: StatusCode, message: impl Into<String>) -> Resource {
        let code = mig_core::id::generate().to_string();
        let message = message.into();
        tracing::info!("mig api: {status} (operation {code}): {message}");
        self.collection.error = Error { code, message };
        self.status = status;
        self
    }
}

impl Item {
    /// An item at `href` holding one value named `name` (MIG: "action", "agent", …).
    pub fn new(href: impl Into<String>, name: impl Into<String>, value: impl Serialize) -> Item {
        Item {
            href: href.into(),
            data: vec![Data {
                name: name.into(),
                value: serde_json::to_value(value).unwrap_or(Value::Null),
            }],
            links: Vec::new(),
        }
    }

    /// An item holding several named values (the dashboard's summary).
    pub fn with_values(href: impl Into<String>, values: Vec<(&str, Value)>) -> Item {
        Item {
            href: href.into(),
            data: values
                .into_iter()
                .map(|(name, value)| Data {
                    name: name.to_string(),
                    value,
                })
                .collect(),
            links: Vec::new(),
        }
    }

    /// Adds a link to a related resource.
    pub fn link(mut self, rel: impl Into<String>, href: impl Into<String>) -> Item {
        self.links.push(Link {
            rel: rel.into(),
            href: href.into(),
        });
        self
    }
}

/// A bare text answer, as MIG's `/ip` and `/publickey` give (MIG labels them JSON too).
pub fn bare_text(status: StatusCode, body: String) -> Response {
    let mut response = (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response();
    response.extensions_mut().insert(Marker);
    response
}

impl IntoResponse for Resource {
    fn into_response(self) -> Response {
        let body = serde_json::to_string(&self).unwrap_or_default();
        bare_text(self.status, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_mig_writes() {
        let mut r = Resource::new("http://h/api/v1/heartbeat");
        r.push(Item::new("/api/v1/heartbeat", "heartbeat", "gatorz say hi"));
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::json!({"collection": {"version": "1.0", "href": "http://h/api/v1/heartbeat",
                "items": [{"href": "/api/v1/heartbeat", "data": [{"name": "heartbeat", "value": "gatorz say hi"}]}],
                "template": {}, "error": {}}})
        );
        let e = Resource::new("x").fail(StatusCode::NOT_FOUND, "no results found");
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["collection"]["error"]["message"], "no results found");
        assert!(v["collection"]["error"]["code"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .is_ok());
        assert!(v["collection"].get("items").is_none());
    }
}
