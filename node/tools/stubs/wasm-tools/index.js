'use strict';
// Stand-in for @napi-rs/wasm-tools (see ../README.md): only cross/wasm builds use it, and this package
// builds for the host only.
function unavailable() {
  throw new Error('@napi-rs/wasm-tools is not installed: this package builds for the host only');
}
module.exports = new Proxy({}, { get: (_, key) => (key === '__esModule' ? false : unavailable) });
