//! The OpenAPI document served at `/api/openapi.json`: what poem-openapi generates, completed
//! with what every operation can answer outside its handler, so clients (and schemathesis) can
//! rely on it:
//!
//! - 400 when a parameter or body cannot be parsed, 403 from the security gate (Host, Origin,
//!   content type), and 413 for oversized bodies of state-changing operations, each with a
//!   plain-text sentence saying why;
//! - each configuration option's explanation, unit and allowed values (core's `options`);
//! - Server-Sent Events described one event at a time (an object whose `data` is the JSON of
//!   the documented item), as OpenAPI 3.0 reads a `text/event-stream` schema.

use serde_json::{json, Map, Value};

/// Methods that change nothing, whose bodies the gate does not read.
const SAFE_METHODS: [&str; 3] = ["get", "head", "options"];

/// `spec` (poem-openapi's JSON) completed as the module documentation says; unchanged if it
/// is not the expected JSON.
pub(crate) fn document(spec: &str) -> String {
    let Ok(mut document) = serde_json::from_str::<Value>(spec) else {
        return spec.to_string();
    };
    operations(&mut document).for_each(|(method, operation)| complete(&method, operation));
    describe_options(&mut document);
    serde_json::to_string_pretty(&document).unwrap_or_else(|_| spec.to_string())
}

/// Each property of the configuration's schema gets core's one-line explanation
/// (`description`), its unit (`x-unit`), what it allows (`x-allowed`) and, for a set of names,
/// `enum`: the dashboard's Configuration page shows them from here.
fn describe_options(document: &mut Value) {
    let Some(properties) = document
        .pointer_mut("/components/schemas/ConfigDocument/properties")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    netmon_core::options::describe()
        .into_iter()
        .for_each(|option| {
            if let Some(Value::Object(property)) = properties.get_mut(option.key) {
                property.insert("description".into(), json!(option.summary));
                property.insert("x-unit".into(), json!(option.unit));
                property.insert("x-allowed".into(), json!(option.allowed));
                if !option.choices.is_empty() {
                    property.insert("enum".into(), json!(option.choices));
                }
            }
        });
}

/// Every operation of the document with its method.
fn operations(document: &mut Value) -> impl Iterator<Item = (String, &mut Map<String, Value>)> {
    document
        .get_mut("paths")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.iter_mut())
        .filter_map(|(method, operation)| {
            operation
                .as_object_mut()
                .map(|operation| (method.clone(), operation))
        })
}

fn complete(method: &str, operation: &mut Map<String, Value>) {
    let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    responses
        .values_mut()
        .filter_map(|response| response.get_mut("content").and_then(Value::as_object_mut))
        .flat_map(|content| content.iter_mut())
        .filter(|(media_type, _)| media_type.starts_with("text/event-stream"))
        .filter_map(|(_, media)| media.get_mut("schema"))
        .for_each(describe_one_event);
    let mut refusals = vec![
        ("400", "A parameter or the body could not be parsed."),
        ("403", "Refused by the security gate: a foreign Host header, a foreign Origin, or a change not sent as application/json."),
    ];
    if !SAFE_METHODS.contains(&method) {
        refusals.push(("413", "The body is larger than 1 MiB."));
    }
    refusals.into_iter().for_each(|(status, description)| {
        responses
            .entry(status)
            .or_insert_with(|| plain_text(description));
    });
}

/// `{type: array, items: X}` of an event stream becomes the schema of one event carrying X.
fn describe_one_event(schema: &mut Value) {
    let Some(item) = schema.get("items").cloned() else {
        return;
    };
    *schema = json!({
        "type": "object",
        "required": ["data"],
        "properties": {
            "event": {"type": "string"},
            "id": {"type": "string"},
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": item,
            },
        },
    });
}

fn plain_text(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"text/plain; charset=utf-8": {"schema": {"type": "string"}}},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_and_events_are_documented() {
        let spec = json!({"paths": {
            "/live": {"get": {"responses": {"200": {"content": {"text/event-stream": {
                "schema": {"type": "array", "items": {"$ref": "#/components/schemas/LiveSample"}}}}}}}},
            "/pause": {"post": {"responses": {"200": {}}}},
        }});
        let document: Value = serde_json::from_str(&document(&spec.to_string())).unwrap();
        let live = &document["paths"]["/live"]["get"]["responses"];
        let event = &live["200"]["content"]["text/event-stream"]["schema"];
        assert_eq!(event["type"], "object");
        assert_eq!(
            event["properties"]["data"]["contentSchema"]["$ref"],
            "#/components/schemas/LiveSample"
        );
        assert!(live["403"].is_object() && live["400"].is_object());
        assert!(live.get("413").is_none(), "GET bodies are not read");
        let pause = &document["paths"]["/pause"]["post"]["responses"];
        assert!(pause["413"]["content"]["text/plain; charset=utf-8"].is_object());
    }
}
