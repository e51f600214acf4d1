'use strict';
// Loads the native module built by `npm run build` (napi-rs): porter-sandbox.<platform>.node.

const { join } = require('node:path');
const { existsSync } = require('node:fs');

function platformSuffix() {
  const { platform, arch } = process;
  if (platform === 'linux') {
    const report = typeof process.report?.getReport === 'function' ? process.report.getReport() : null;
    const glibc = report?.header?.glibcVersionRuntime;
    return `linux-${arch}-${glibc ? 'gnu' : 'musl'}`;
  }
  if (platform === 'win32') return `win32-${arch}-msvc`;
  return `${platform}-${arch}`;
}

function load() {
  const root = join(__dirname, '..');
  const candidates = [`porter-sandbox.${platformSuffix()}.node`, 'porter-sandbox.node'];
  for (const name of candidates) {
    const file = join(root, name);
    if (existsSync(file)) return require(file);
  }
  throw new Error(
    `porter-sandbox: the native module for ${process.platform}-${process.arch} was not found ` +
      `(looked for ${candidates.join(', ')} in ${root}); build it with \`npm run build\`.`,
  );
}

module.exports = load();
