//! Emits the linker settings a Node native module needs.

fn main() {
    napi_build::setup();
}
