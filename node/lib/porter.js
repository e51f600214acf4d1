'use strict';
// `Porter`, the entry point, and the small namespaces (snapshots, healthz, readyz).

const { kNative, kInternal, createNative, run, internalOnly } = require('./internal');
const { PorterSandboxApiClient } = require('./resources');
const { Sandboxes } = require('./sandbox');
const { Volumes } = require('./volume');

const kRaw = Symbol('porter-sandbox.raw');

/** Snapshots: create, list, get, delete (no handle objects). */
class Snapshots {
  constructor(guard, raw) {
    internalOnly(guard, 'Snapshots');
    Object.defineProperty(this, kRaw, { value: raw });
  }

  /** Captures the running sandbox `id` (`body`: `{ mode }`, `{}` for the defaults). */
  create(id, body) {
    return this[kRaw].create(id, body ?? {});
  }

  /** Snapshots, newest first (`SnapshotListResponse`), optionally `{ sandboxId }`. */
  list(options) {
    return this[kRaw].list(options);
  }

  /** One snapshot and its capture status. */
  get(id) {
    return this[kRaw].get(id);
  }

  /** Deletes a snapshot. */
  delete(id) {
    return this[kRaw].delete(id);
  }

  /** The low-level snapshot endpoints. */
  get raw() {
    return this[kRaw];
  }
}

/** `healthCheck()`: `GET /healthz`. */
class Healthz {
  constructor(guard, raw) {
    internalOnly(guard, 'Healthz');
    Object.defineProperty(this, kRaw, { value: raw });
  }

  /** The service's health (`HealthResponse`). */
  healthCheck() {
    return this[kRaw].healthCheck();
  }

  /** The low-level endpoint. */
  get raw() {
    return this[kRaw];
  }
}

/** `readinessCheck()`: `GET /readyz`. */
class Readyz {
  constructor(guard, raw) {
    internalOnly(guard, 'Readyz');
    Object.defineProperty(this, kRaw, { value: raw });
  }

  /** Readiness and the number of active sandboxes (`ReadinessResponse`). */
  readinessCheck() {
    return this[kRaw].readinessCheck();
  }

  /** The low-level endpoint. */
  get raw() {
    return this[kRaw];
  }
}

/**
 * The Porter Sandbox client: `new Porter({ apiKey, baseUrl, timeoutMs, maxRetries })`. Unset
 * options come from `PORTER_SANDBOX_API_KEY`, `PORTER_SANDBOX_BASE_URL`, `PORTER_CLUSTER_ID` or
 * the in-cluster address; a configuration problem throws a plain `Error` at once.
 */
class Porter {
  constructor(options) {
    const nativeClient = createNative(options);
    const raw = new PorterSandboxApiClient(undefined, nativeClient, kInternal);
    Object.defineProperty(this, kNative, { value: nativeClient });
    Object.defineProperty(this, kRaw, { value: raw });
    const namespaces = {
      healthz: new Healthz(kInternal, raw.healthz),
      readyz: new Readyz(kInternal, raw.readyz),
      sandboxes: new Sandboxes(kInternal, nativeClient, raw.sandboxes),
      snapshots: new Snapshots(kInternal, raw.snapshots),
      volumes: new Volumes(kInternal, nativeClient, raw.volumes),
    };
    for (const [name, value] of Object.entries(namespaces)) {
      Object.defineProperty(this, name, { value, enumerable: true });
    }
  }

  /** The low-level client (`PorterSandboxApiClient`), sharing this client's connections. */
  get raw() {
    return this[kRaw];
  }

  /** The base URL in use. */
  get baseUrl() {
    return this[kNative].baseUrl;
  }

  /** The default per-call timeout in milliseconds. */
  get timeoutMs() {
    return this[kNative].timeoutMs;
  }

  /** Releases the connection pool; later calls fail with a `SandboxError`. */
  close() {
    this[kNative].close();
  }
}

module.exports = { Porter, Snapshots, Healthz, Readyz };
