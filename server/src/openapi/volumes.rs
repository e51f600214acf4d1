//! The route table of the OpenAPI document, part 2: volumes and volume files.

use porter_sandbox::types::{
    LookupResult, VolumeFileListResponse, VolumeFileMoveRequest, VolumeListResponse, VolumeRecord,
    VolumeSpec,
};
use schemars::SchemaGenerator;
use serde_json::{Value, json};

use super::builder::{Op, Operation, bytes_response, nonempty, op, schema, string};

/// List, create, lookup, get and delete volumes.
pub fn volumes(g: &mut SchemaGenerator) -> Vec<Operation> {
    let volume = schema::<VolumeRecord>(g);
    vec![
        op("get", "/v1/volume", "listVolumes", "volumes", "List volumes")
            .ok(200, "Every volume.", schema::<VolumeListResponse>(g))
            .build(),
        op("post", "/v1/volume", "createVolume", "volumes", "Create a volume")
            .json_body(schema::<VolumeSpec>(g))
            .ok(201, "The new volume.", volume.clone())
            .links(
                201,
                &[
                    "getVolume",
                    "deleteVolume",
                    "listVolumeFiles",
                    "readVolumeFile",
                    "uploadVolumeFile",
                    "moveVolumeFile",
                ],
            )
            .errors(&[409, 507])
            .build(),
        op("get", "/v1/volume/lookup", "lookupVolume", "volumes", "Resolve a volume name")
            .query("name", true, nonempty(), "The volume name.")
            .ok(200, "The volume id.", schema::<LookupResult>(g))
            .errors(&[400, 404])
            .build(),
        op("get", "/v1/volume/{id}", "getVolume", "volumes", "One volume")
            .ok(200, "The volume.", volume)
            .build(),
        op("delete", "/v1/volume/{id}", "deleteVolume", "volumes", "Delete a volume")
            .no_content("Deleted; the name can be used again.")
            .errors(&[409])
            .build(),
    ]
}

/// The `path` query parameter of the file routes.
fn path(op: Op, required: bool) -> Op {
    op.query(
        "path",
        required,
        if required { nonempty() } else { string() },
        "Path relative to the volume root; the leading `/` is optional.",
    )
}

/// List, read, write (redirect and upload) and move files of a disk volume.
pub fn files(g: &mut SchemaGenerator) -> Vec<Operation> {
    let redirect: Value = json!({
        "description": "Send the same request, with its body, to `Location`.",
        "headers": {"Location": {"schema": {"type": "string"},
            "description": "`/v1/volume/{id}/files/upload?path=...` on this server."}},
    });
    vec![
        path(op("get", "/v1/volume/{id}/files", "listVolumeFiles", "files", "List files"), false)
            .describe("A breadth-first walk from `path` (default `/`), bounded by an entry budget.")
            .query("search", false, string(), "Keep entries whose name contains this.")
            .ok(200, "The walked tree.", schema::<VolumeFileListResponse>(g))
            .errors(&[400, 409])
            .build(),
        path(op("get", "/v1/volume/{id}/files/content", "readVolumeFile", "files", "Read"), true)
            .header("Range", "One byte range: `bytes=START-END` or `bytes=START-`.")
            .response(200, bytes_response("The whole file."))
            .response(206, bytes_response("The requested range, with `Content-Range`."))
            .errors(&[400, 409, 416])
            .build(),
        path(op("put", "/v1/volume/{id}/files/content", "writeVolumeFile", "files", "Write"), true)
            .describe("Answered, as by the cluster API, with a 307 to the upload URL.")
            .bytes_body("The new content, any size.")
            .response(307, redirect)
            .errors(&[400])
            .build(),
        path(
            op("put", "/v1/volume/{id}/files/upload", "uploadVolumeFile", "files", "Replace"),
            true,
        )
        .extension()
        .describe("The atomic replace: the content appears once the whole body arrived.")
        .bytes_body("The new content, any size.")
        .no_content("Written; missing parent directories were created.")
        .errors(&[400, 409, 507])
        .build(),
        op("post", "/v1/volume/{id}/files/move", "moveVolumeFile", "files", "Move or rename")
            .describe("Never overwrites; the parent of `to` must exist.")
            .json_body(schema::<VolumeFileMoveRequest>(g))
            .no_content("Moved.")
            .errors(&[409])
            .build(),
    ]
}
