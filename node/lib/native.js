'use strict';
// Loads the native module (napi-rs): a `porter-sandbox.<platform>.node` next to the package, as
// `npm run build` leaves it when developing, else the prebuilt platform package
// `porter-sandbox-<platform>` that npm installs from `optionalDependencies` on a matching machine.

const { join } = require('node:path');
const { existsSync } = require('node:fs');

/** The platforms a release ships a prebuilt module for (the platform packages that exist). */
const PREBUILT = ['linux-x64-gnu'];

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
  const suffix = platformSuffix();
  const root = join(__dirname, '..');
  const local = [`porter-sandbox.${suffix}.node`, 'porter-sandbox.node'];
  for (const name of local) {
    const file = join(root, name);
    if (existsSync(file)) return require(file);
  }
  const pkg = `porter-sandbox-${suffix}`;
  try {
    return require(pkg);
  } catch (error) {
    // Only a missing package is the platform question; a module that exists but fails to load
    // (a wrong glibc, a broken file) keeps its own error.
    if (error?.code !== 'MODULE_NOT_FOUND' || !String(error.message).includes(pkg)) throw error;
  }
  const why = PREBUILT.includes(suffix)
    ? `the package ${pkg}, which npm installs as an optional dependency of porter-sandbox, is not ` +
      'installed (was it installed with --omit=optional or --no-optional, or from another machine\'s ' +
      `lockfile?): reinstall porter-sandbox, or \`npm install ${pkg}\``
    : `no prebuilt module is published for ${suffix} (prebuilt: ${PREBUILT.join(', ')}); build it ` +
      'from source: in a checkout of the repository, `cd node && npm ci && npm run build`';
  throw new Error(
    `porter-sandbox: no native module for this platform (${suffix}): ${why}. ` +
      `Looked for ${local.join(', ')} in ${root} and for the package ${pkg}.`,
  );
}

module.exports = load();
