//! A small builder for OpenAPI operation objects: parameters, bodies and responses, with the
//! status codes that every route of this server can answer added once.

use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{Value, json};

/// One operation: a method on a path.
pub struct Operation {
    /// Lower-case HTTP method, as OpenAPI names it.
    pub method: &'static str,
    /// Path template (`/v1/sandbox/{id}`).
    pub path: &'static str,
    /// The OpenAPI operation object.
    pub object: Value,
}

/// One operation object being built.
pub struct Op {
    method: &'static str,
    path: &'static str,
    object: serde_json::Map<String, Value>,
    pub parameters: Vec<Value>,
    responses: serde_json::Map<String, Value>,
}

/// A new operation; `{id}` in the path adds the `id` parameter and 404, `{exec_id}` its own.
pub fn op(method: &'static str, path: &'static str, id: &str, tag: &str, summary: &str) -> Op {
    let mut object = serde_json::Map::new();
    object.insert("operationId".into(), json!(id));
    object.insert("tags".into(), json!([tag]));
    object.insert("summary".into(), json!(summary));
    let mut op =
        Op { method, path, object, parameters: Vec::new(), responses: serde_json::Map::new() };
    if path.contains("{id}") {
        op.parameters.push(json!({
            "name": "id", "in": "path", "required": true,
            "description": "Id of the resource (never `lookup` or `counts`).",
            "schema": {"type": "string"},
        }));
        op = op.errors(&[404]);
    }
    if path.contains("{exec_id}") {
        op.parameters.push(json!({
            "name": "exec_id", "in": "path", "required": true,
            "description": "Id of the process (`exec_id`), as the start answered it.",
            "schema": {"type": "string"},
        }));
    }
    // The request guard answers these on every route, before authentication.
    op.errors(&[403, 421, 500])
}

impl Op {
    /// Adds a longer description.
    pub fn describe(mut self, text: &str) -> Self {
        self.object.insert("description".into(), json!(text));
        self
    }

    /// An operation this server adds to the cluster API.
    pub fn extension(mut self) -> Self {
        self.object.insert("x-porter-extension".into(), json!(true));
        self
    }

    /// An operation anyone may call: no API key.
    pub fn open(mut self) -> Self {
        self.object.insert("security".into(), json!([]));
        self
    }

    /// Adds a query parameter.
    pub fn query(mut self, name: &str, required: bool, schema: Value, text: &str) -> Self {
        self.parameters.push(json!({
            "name": name, "in": "query", "required": required, "schema": schema,
            "description": text,
        }));
        self
    }

    /// Adds an optional request header.
    pub fn header(mut self, name: &str, text: &str) -> Self {
        self.parameters.push(json!({
            "name": name, "in": "header", "required": false, "schema": {"type": "string"},
            "description": text,
        }));
        self
    }

    /// A JSON request body (answers 400, 413 and 415 when it is wrong).
    pub fn json_body(mut self, schema: Value) -> Self {
        self.object.insert(
            "requestBody".into(),
            json!({"required": true, "content": {"application/json": {"schema": schema}}}),
        );
        self.errors(&[400, 413, 415])
    }

    /// A raw-bytes request body.
    pub fn bytes_body(mut self, text: &str) -> Self {
        self.object.insert(
            "requestBody".into(),
            // An empty body is an empty file.
            json!({
                "required": false, "description": text,
                "content": {"application/octet-stream": {
                    "schema": {"type": "string", "format": "binary"}}},
            }),
        );
        self
    }

    /// A JSON success response.
    pub fn ok(mut self, status: u16, text: &str, schema: Value) -> Self {
        self.responses.insert(
            status.to_string(),
            json!({"description": text, "content": {"application/json": {"schema": schema}}}),
        );
        self
    }

    /// Any response object.
    pub fn response(mut self, status: u16, response: Value) -> Self {
        self.responses.insert(status.to_string(), response);
        self
    }

    /// Links from the `status` response to operations that take its `id` (for clients and
    /// stateful fuzzing: create, then use what was created).
    pub fn links(mut self, status: u16, targets: &[&str]) -> Self {
        if let Some(Value::Object(response)) = self.responses.get_mut(&status.to_string()) {
            let links: serde_json::Map<String, Value> = targets
                .iter()
                .map(|target| {
                    let link =
                        json!({"operationId": target, "parameters": {"id": "$response.body#/id"}});
                    ((*target).to_owned(), link)
                })
                .collect();
            response.insert("links".into(), Value::Object(links));
        }
        self
    }

    /// A 204 without a body.
    pub fn no_content(self, text: &str) -> Self {
        self.response(204, json!({"description": text}))
    }

    /// Error responses (`{"error": "..."}`) for these statuses.
    pub fn errors(mut self, statuses: &[u16]) -> Self {
        for status in statuses {
            self.responses.insert(
                status.to_string(),
                json!({
                    "description": error_meaning(*status),
                    "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Error"}}},
                }),
            );
        }
        self
    }

    /// The finished operation; 401 is added unless it is open.
    pub fn build(mut self) -> Operation {
        if self.object.get("security").is_none() {
            self = self.errors(&[401]);
        }
        if !self.parameters.is_empty() {
            self.object.insert("parameters".into(), Value::Array(self.parameters));
        }
        self.object.insert("responses".into(), Value::Object(self.responses));
        Operation { method: self.method, path: self.path, object: Value::Object(self.object) }
    }
}

/// What an error status means on this server (the body is always `{"error": "..."}`).
fn error_meaning(status: u16) -> &'static str {
    match status {
        400 => "The request is invalid; the message names the parameter or field and why.",
        401 => "The API key is missing or wrong (send `Authorization: Bearer <key>`).",
        403 => "A cross-site request: its `Origin` is not this server.",
        404 => "No such resource.",
        409 => "The resource is in a state that does not allow this, or the name is taken.",
        413 => "The JSON body is larger than 1 MiB.",
        415 => "A request body that is not `application/json`.",
        416 => "The range starts past the end of the file; `Content-Range: bytes */<size>`.",
        421 => "The `Host` header does not name this server (DNS-rebinding protection).",
        422 => "The `Idempotency-Key` was used before with a different request body.",
        500 => "The server failed; the message says where.",
        503 => "The runtime cannot start sandboxes; the message says why.",
        507 => "The storage the request needs is full.",
        _ => "An error.",
    }
}

/// A reference to `T`'s schema, which the generator keeps for `components/schemas`.
pub fn schema<T: JsonSchema>(generator: &mut SchemaGenerator) -> Value {
    generator.subschema_for::<T>().to_value()
}

/// A required query value: the server reads an empty one as absent.
pub fn nonempty() -> Value {
    json!({"type": "string", "minLength": 1})
}

/// A time query value: RFC 3339 (years 0 to 9999) or a duration back from now.
pub fn time() -> Value {
    json!({
        "type": "string",
        "anyOf": [{"format": "date-time"}, {"pattern": "^([0-9]{1,5}(us|ms|s|m|h|d))+$"}],
    })
}

/// A plain string schema.
pub fn string() -> Value {
    json!({"type": "string"})
}

/// An octet-stream response with the file headers.
pub fn bytes_response(text: &str) -> Value {
    json!({
        "description": text,
        "headers": {
            "Last-Modified": {"schema": {"type": "string"}, "description": "An HTTP-date."},
            "Content-Range": {"schema": {"type": "string"},
                "description": "`bytes START-END/SIZE` on a 206."},
        },
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    })
}
