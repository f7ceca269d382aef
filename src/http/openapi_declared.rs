//! What every operation of the API answers besides its own results, added to the generated
//! document by rule rather than repeated on each handler, so the document states all the
//! server does (api.md: "The OpenAPI document is the truth") and a tool that tests the
//! server from the document (schemathesis, .ci/run) finds nothing undeclared:
//!
//! - a token is checked on every operation with `security`: 401 without a valid one, 403
//!   when its scopes don't allow the operation;
//! - every operation that reads a parameter or a body answers 400 to a malformed one;
//! - a run or job named in the path or the query that this token can't see is 404;
//! - `Idempotency-Key` is 1 to 200 visible characters, and 422 when it was used for a
//!   different request within 24 h;
//! - names (a job's, a metadata key) hold no control character, and `env` names are
//!   portable and not jobctl's own (`core::text`, `engine::submit`);
//! - a created run links to the operations on it, for a client (or a stateful tester)
//!   to follow.

use serde_json::{Map, Value, json};

use crate::core::run::RunStatus;

/// No control character (Rust's `char::is_control`, Unicode's Cc): `core::text::name_problem`.
const NAME: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$";
/// No control character but tab, newline and carriage return: `core::text::free_text_problem`.
const FREE_TEXT: &str = "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]*$";
/// What an HTTP header value of 1 to 200 characters can be once its surrounding blanks are
/// trimmed: visible ASCII, spaces only inside.
const IDEMPOTENCY_KEY: &str = "^[!-~]([ -~]{0,198}[!-~])?$";

/// The operations on a run that a created run links to, with their operation ids.
const ON_A_RUN: &[&str] = &[
    "get_run",
    "run_events",
    "run_log",
    "pause_run",
    "resume_run",
    "cancel_run",
];

/// Adds the answers and constraints above to every operation of `doc`.
pub(super) fn answers_every_operation_gives(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            if let Some(op) = op.as_object_mut() {
                declare(path, method, op);
            }
        }
    }
    if let Some(submit) = doc.pointer_mut("/components/schemas/SubmitBody/properties") {
        constrain_submit(submit);
    }
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        let (metadata, value) = metadata_schemas();
        schemas.insert("Metadata".into(), metadata);
        schemas.insert("MetadataValue".into(), value);
        // `enable` takes only a scope: a reason goes with `disable` (422 otherwise).
        schemas.insert(
            "AgentEnable".into(),
            json!({"type": "object", "additionalProperties": false, "properties": {
                "scope": {"type": ["string", "null"], "description": "One scope (default: every scope)."}
            }}),
        );
    }
}

fn error_answer(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorDoc"}}}
    })
}

fn declare(path: &str, method: &str, op: &mut Map<String, Value>) {
    let secured = op.contains_key("security");
    let has_input = op
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|p| !p.is_empty())
        || op.contains_key("requestBody");
    let names_something = path.contains("{id}")
        || path.contains("{name}")
        || params(op).any(|p| {
            p["in"] == "query" && matches!(p["name"].as_str(), Some("run" | "parent" | "job"))
        });
    let idempotent = params(op).any(|p| p["name"] == "Idempotency-Key");
    let op_id = op
        .get("operationId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();

    if let Some(ps) = op.get_mut("parameters").and_then(Value::as_array_mut) {
        for p in ps.iter_mut() {
            constrain_parameter(p);
        }
    }
    if op_id == "run_log" {
        tail_or_offset(op);
    }
    if op_id == "enable_agent"
        && let Some(body) = op.get_mut("requestBody")
    {
        *body = json!({"content": {"application/json": {"schema": {"$ref": "#/components/schemas/AgentEnable"}}}});
    }
    if method == "post"
        && op_id != "submit_run"
        && let Some(body) = op.get_mut("requestBody").and_then(Value::as_object_mut)
    {
        // An empty body is read as `{}` (`extract::json_body`); a submission's names its
        // job.
        body.insert("required".into(), Value::Bool(false));
    }

    let Some(answers) = op.get_mut("responses").and_then(Value::as_object_mut) else {
        return;
    };
    let mut add = |status: &str, description: &str| {
        answers
            .entry(status)
            .or_insert_with(|| error_answer(description));
        // A declared answer without words gets them.
        if let Some(a) = answers.get_mut(status).and_then(Value::as_object_mut) {
            a.entry("description")
                .or_insert_with(|| Value::String(description.into()));
        }
    };
    if has_input {
        add("400", "a malformed parameter, header or body");
    }
    if secured {
        add(
            "401",
            "no token, or one that is not valid: send Authorization: Bearer TOKEN (jobctl token create)",
        );
        add("403", "the token's scopes don't allow this operation");
    }
    if names_something {
        add("404", "no such run or job (for this token)");
    }
    if idempotent {
        add(
            "422",
            "this Idempotency-Key was used for a different request within 24 h",
        );
    }
    if op_id == "enable_agent" {
        add("422", "a reason goes with disable, not enable");
    }
    if matches!(op_id.as_str(), "run_job" | "submit_run")
        && let Some(created) = answers.get_mut("202").and_then(Value::as_object_mut)
    {
        created.insert("links".into(), run_links());
    }
}

/// The parameters of `op`.
fn params(op: &Map<String, Value>) -> impl Iterator<Item = &Value> {
    op.get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn constrain_parameter(p: &mut Value) {
    let (Some(name), Some(place)) = (
        p["name"].as_str().map(str::to_string),
        p["in"].as_str().map(str::to_string),
    ) else {
        return;
    };
    match (place.as_str(), name.as_str()) {
        ("header", "Idempotency-Key") => {
            p["schema"] = json!({"type": "string", "minLength": 1, "maxLength": 200, "pattern": IDEMPOTENCY_KEY});
            p["description"] = json!(
                "Makes the request safe to retry: the same key with the same request within 24 h returns the first answer and does nothing again"
            );
        }
        ("path", "name") | ("query", "job") => {
            p["schema"] = json!({"type": "string", "pattern": NAME});
        }
        ("query", "status") => {
            let all: Vec<&str> = RunStatus::ALL.iter().map(|s| s.as_str()).collect();
            p["schema"] = json!({"type": "string", "enum": all});
        }
        _ => {}
    }
}

/// `tail` and `offset` of a log read exclude each other (400 with both): one query
/// parameter object, exploded into its fields, that can't hold both.
fn tail_or_offset(op: &mut Map<String, Value>) {
    let Some(ps) = op.get_mut("parameters").and_then(Value::as_array_mut) else {
        return;
    };
    let mut fields = Map::new();
    ps.retain(|p| {
        if p["in"] == "query" {
            let mut schema = p["schema"].clone();
            if let Some(d) = p.get("description") {
                schema["description"] = d.clone();
            }
            fields.insert(p["name"].as_str().unwrap_or_default().into(), schema);
            false
        } else {
            true
        }
    });
    ps.push(json!({
        "name": "read",
        "in": "query",
        "style": "form",
        "explode": true,
        "required": false,
        "description": "How much of the log: `tail` or `offset`, not both, and `follow`",
        "schema": {
            "type": "object",
            "additionalProperties": false,
            "properties": fields,
            "not": {"required": ["tail", "offset"]}
        }
    }));
}

fn constrain_submit(props: &mut Value) {
    props["job"]["pattern"] = json!(NAME);
    props["prompt"] = json!({"type": ["string", "null"], "minLength": 1, "maxLength": 102_400, "pattern": "\\S", "allOf": [{"pattern": FREE_TEXT}], "description": "For an agent job: this prompt instead of its own."});
    props["env"] = json!({
        "type": "object",
        "description": "Variables added to the job's environment (no `JOBCTL_*`).",
        "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$", "not": {"pattern": "^JOBCTL_"}},
        "additionalProperties": {"type": "string", "pattern": FREE_TEXT}
    });
    props["metadata"] = json!({
        "description": "Any JSON object (at most 16 KiB), stored on the run and passed to it as `JOBCTL_RUN_METADATA`; no key at any depth holds a control character.",
        "anyOf": [{"type": "null"}, {"$ref": "#/components/schemas/Metadata"}]
    });
}

/// A metadata object and a value in it: keys, at any depth, hold no control character.
fn metadata_schemas() -> (Value, Value) {
    (
        json!({
            "type": "object",
            "propertyNames": {"pattern": NAME},
            "additionalProperties": {"$ref": "#/components/schemas/MetadataValue"}
        }),
        json!({"anyOf": [
            {"type": ["string", "number", "boolean", "null"]},
            {"type": "array", "items": {"$ref": "#/components/schemas/MetadataValue"}},
            {"$ref": "#/components/schemas/Metadata"}
        ]}),
    )
}

/// From a created run (its `run_id`) to the operations on it.
fn run_links() -> Value {
    let mut links = Map::new();
    for op in ON_A_RUN {
        links.insert(
            (*op).into(),
            json!({"operationId": op, "parameters": {"id": "$response.body#/run_id"}}),
        );
    }
    Value::Object(links)
}
