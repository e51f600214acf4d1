//! Prints the OpenAPI document of the server (the committed `spec/openapi.json`):
//! `cargo run -p porter-sandbox-server --example openapi > spec/openapi.json`.

use std::io::Write;

fn main() -> std::io::Result<()> {
    std::io::stdout().write_all(porter_sandbox_server::openapi::document_text().as_bytes())
}
