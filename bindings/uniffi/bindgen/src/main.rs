//! `uniffi-bindgen`, pinned to the workspace's uniffi version so the generated Kotlin always
//! matches the scaffolding compiled into `libporter_sandbox_uniffi.so`.
//!
//! `uniffi-bindgen generate --library target/release/libporter_sandbox_uniffi.so -l kotlin -o DIR`

fn main() {
    uniffi::uniffi_bindgen_main();
}
