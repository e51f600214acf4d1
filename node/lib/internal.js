'use strict';
// Helpers shared by the modules of the package (not exported from it).

const native = require('./native');
const { call, translate } = require('./errors');
const { version } = require('../package.json');

/** The key under which classes keep their native object. */
const kNative = Symbol('porter-sandbox.native');

/** A guard that only the package itself can pass to the internal constructors. */
const kInternal = Symbol('porter-sandbox.internal');

/** A native client for `options` (`{ apiKey, baseUrl, timeoutMs, maxRetries }`). */
function createNative(options) {
  if (options !== undefined && options !== null && typeof options !== 'object') {
    throw new TypeError('options must be an object');
  }
  return new native.NativeClient(options ?? null, version);
}

/** Calls `fn` (which returns a native promise) and translates any error, thrown or rejected. */
function run(fn) {
  try {
    return call(fn());
  } catch (error) {
    return Promise.reject(translate(error));
  }
}

/** Throws a `TypeError` unless `guard` is the internal key. */
function internalOnly(guard, what) {
  if (guard !== kInternal) {
    throw new TypeError(`${what} is created by the client (e.g. porter.sandboxes.create), not with new`);
  }
}

/**
 * Pulls a native iterator (`next()` → item or `null`) as an async generator. Leaving a
 * `for await` early (break, return, throw) runs `finally`, which closes the native iterator
 * before the loop goes on: its stream and connection are dropped then, not when the garbage
 * collector finds it, and nothing is left pending.
 */
async function* drain(iterator, wrap) {
  try {
    for (;;) {
      const item = await call(iterator.next());
      if (item === null) return;
      yield wrap(item);
    }
  } finally {
    await iterator.close().catch(() => {});
  }
}

module.exports = { native, version, kNative, kInternal, createNative, run, internalOnly, drain };
