//! The route table of the OpenAPI document, part 3: the processes extension.

use porter_sandbox::types::{
    PROCESS_OUTPUT_MEDIA_TYPE, ProcessList, ProcessRequest, ProcessStatus, ServerExtensions,
    SignalRequest, TerminalSize,
};
use schemars::SchemaGenerator;
use serde_json::json;

use super::builder::{Operation, op, schema};

/// `/v1/extensions` and `/v1/sandbox/{id}/processes…`.
pub fn processes(g: &mut SchemaGenerator) -> Vec<Operation> {
    let status = schema::<ProcessStatus>(g);
    vec![
        op("get", "/v1/extensions", "getServerExtensions", "health", "Extensions offered")
            .extension()
            .describe("What this server offers beyond the Porter API; a server without this route has none of it.")
            .ok(200, "The extensions.", schema::<ServerExtensions>(g))
            .build(),
        op("post", "/v1/sandbox/{id}/processes", "startProcess", "processes", "Start a process")
            .extension()
            .describe(
                "Answers at once with the new process's status; the process outlives the request, \
                 its output is kept on the server and readable from any offset.",
            )
            .json_body(schema::<ProcessRequest>(g))
            .ok(201, "Started.", status.clone())
            .errors(&[404, 409])
            .build(),
        op("get", "/v1/sandbox/{id}/processes", "listProcesses", "processes", "List processes")
            .extension()
            .ok(200, "The sandbox's processes, newest first.", schema::<ProcessList>(g))
            .errors(&[404])
            .build(),
        op("get", "/v1/sandbox/{id}/processes/{exec_id}", "getProcess", "processes", "Process status")
            .extension()
            .query(
                "wait_seconds",
                false,
                json!({"type": "number", "minimum": 0, "maximum": 60}),
                "Wait up to this long for the process to end before answering.",
            )
            .ok(200, "Its status.", status)
            .errors(&[400, 404])
            .build(),
        op(
            "get",
            "/v1/sandbox/{id}/processes/{exec_id}/output",
            "readProcessOutput",
            "processes",
            "Read or follow output",
        )
        .extension()
        .query("offset", false, json!({"type": "integer", "minimum": 0}), "First byte to send.")
        .query("follow", false, json!({"type": "boolean"}), "Keep sending until the process ends.")
        .response(
            200,
            json!({
                "description": "Frames: a 13-byte header (kind: 1 stdout, 2 stderr, 0 end; offset \
                                u64 BE; length u32 BE), then the payload; the end frame carries \
                                the final status as JSON.",
                "content": {PROCESS_OUTPUT_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
            }),
        )
        .errors(&[400, 404])
        .build(),
        op(
            "post",
            "/v1/sandbox/{id}/processes/{exec_id}/stdin",
            "writeProcessStdin",
            "processes",
            "Write to standard input",
        )
        .extension()
        .bytes_body("Bytes appended to the process's standard input (at most 1 MiB).")
        .no_content("Written.")
        .errors(&[404, 409, 413])
        .build(),
        op(
            "post",
            "/v1/sandbox/{id}/processes/{exec_id}/stdin/close",
            "closeProcessStdin",
            "processes",
            "Close standard input",
        )
        .extension()
        .no_content("Closed (idempotent).")
        .errors(&[404])
        .build(),
        op(
            "post",
            "/v1/sandbox/{id}/processes/{exec_id}/signal",
            "signalProcess",
            "processes",
            "Signal the process tree",
        )
        .extension()
        .json_body(schema::<SignalRequest>(g))
        .no_content("Sent.")
        .errors(&[404, 409])
        .build(),
        op(
            "post",
            "/v1/sandbox/{id}/processes/{exec_id}/resize",
            "resizeProcess",
            "processes",
            "Resize the terminal",
        )
        .extension()
        .json_body(schema::<TerminalSize>(g))
        .no_content("Resized.")
        .errors(&[404, 409])
        .build(),
    ]
}
