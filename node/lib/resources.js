'use strict';
// The low-level client: one method per endpoint, with the short camelCase names of the
// official TypeScript SDK (`porter.raw.sandboxes.list(...)`, `porter.sandboxes.raw.get(id)`).
// Options objects use camelCase names; bodies and results use the wire's snake_case names.

const { kNative, kInternal, createNative, run, internalOnly } = require('./internal');
const { withUpload } = require('./upload');
const { call } = require('./errors');

function requestTimeout(requestOptions) {
  return requestOptions?.timeoutMs ?? null;
}

/** Sandbox endpoints. */
class SandboxesResource {
  constructor(guard, nativeClient) {
    internalOnly(guard, 'SandboxesResource');
    this[kNative] = nativeClient;
  }

  /** `GET /v1/sandbox`: one page of sandboxes (`ListResponse`). */
  list(options) {
    return run(() => this[kNative].listSandboxes(options ?? null));
  }

  /** `GET /v1/sandbox/counts`: sandboxes created per time bucket. */
  counts(options) {
    return run(() => this[kNative].sandboxCounts(options ?? null));
  }

  /** `POST /v1/sandbox/run`: create a sandbox (`CreateResponse`). */
  create(body) {
    return run(() => this[kNative].createSandbox(body));
  }

  /** `GET /v1/sandbox/lookup?name=`: a sandbox id by name. */
  lookup(options) {
    return run(() => this[kNative].lookupSandbox(options));
  }

  /** `GET /v1/sandbox/{id}`: the sandbox's status. */
  get(id) {
    return run(() => this[kNative].getSandbox(id));
  }

  /** `DELETE /v1/sandbox/{id}`: terminate, optionally saying who asked (`{ source }`). */
  delete(id, options) {
    return run(() => this[kNative].deleteSandbox(id, options?.source ?? null));
  }

  /** `GET /v1/sandbox/{id}/logs`. */
  getLogs(id, options) {
    return run(() => this[kNative].getSandboxLogs(id, options ?? null));
  }

  /** `POST /v1/sandbox/{id}/exec`: no timeout unless `requestOptions.timeoutMs`; never retried. */
  exec(id, body, requestOptions) {
    return run(() => this[kNative].execSandbox(id, body, requestTimeout(requestOptions)));
  }

  /** `GET /v1/sandbox/{id}/metrics-summary`. */
  getMetricsSummary(id, options) {
    return run(() => this[kNative].getSandboxMetricsSummary(id, options ?? null));
  }

  /** `GET /v1/sandbox/{id}/metrics`. */
  getMetrics(id, options) {
    return run(() => this[kNative].getSandboxMetrics(id, options));
  }
}

/** Snapshot endpoints. */
class SnapshotsResource {
  constructor(guard, nativeClient) {
    internalOnly(guard, 'SnapshotsResource');
    this[kNative] = nativeClient;
  }

  /** `POST /v1/sandbox/{id}/snapshot` (`id` is the sandbox's). */
  create(id, body) {
    return run(() => this[kNative].createSnapshot(id, body ?? null));
  }

  /** `GET /v1/snapshot`, optionally `{ sandboxId }`. */
  list(options) {
    return run(() => this[kNative].listSnapshots(options ?? null));
  }

  /** `GET /v1/snapshot/{id}`. */
  get(id) {
    return run(() => this[kNative].getSnapshot(id));
  }

  /** `DELETE /v1/snapshot/{id}`. */
  delete(id) {
    return run(() => this[kNative].deleteSnapshot(id));
  }
}

/** Volume and volume-file endpoints. */
class VolumesResource {
  constructor(guard, nativeClient) {
    internalOnly(guard, 'VolumesResource');
    this[kNative] = nativeClient;
  }

  /** `GET /v1/volume`. */
  list() {
    return run(() => this[kNative].listVolumes());
  }

  /** `POST /v1/volume`. */
  create(body) {
    return run(() => this[kNative].createVolume(body ?? null));
  }

  /** `GET /v1/volume/lookup?name=`. */
  lookup(options) {
    return run(() => this[kNative].lookupVolume(options));
  }

  /** `GET /v1/volume/{id}`. */
  get(id) {
    return run(() => this[kNative].getVolume(id));
  }

  /** `DELETE /v1/volume/{id}`. */
  delete(id) {
    return run(() => this[kNative].deleteVolume(id));
  }

  /** `GET /v1/volume/{id}/files`, optionally `{ path, search }`. */
  listFiles(id, options) {
    return run(() => this[kNative].listVolumeFiles(id, options ?? null));
  }

  /**
   * `GET /v1/volume/{id}/files/content` (`{ path, range }`): `{ bytes, contentRange,
   * lastModified }`. No timeout unless `requestOptions.timeoutMs`.
   */
  async readFile(id, options, requestOptions) {
    const content = await run(() => this[kNative].readVolumeFile(id, options, requestTimeout(requestOptions)));
    return {
      bytes: content.bytes,
      contentRange: content.contentRange ?? null,
      lastModified: content.lastModifiedMs == null ? null : new Date(content.lastModifiedMs),
    };
  }

  /**
   * `PUT /v1/volume/{id}/files/content` (`{ path }`) with a `Buffer`/`Uint8Array`, `Blob`, file
   * path or readable stream. No timeout unless `requestOptions.timeoutMs`.
   */
  async writeFile(id, body, options, requestOptions) {
    await withUpload(body, (bytes, file) =>
      call(this[kNative].writeVolumeFile(id, bytes, file, options, requestTimeout(requestOptions))),
    );
  }

  /** `POST /v1/volume/{id}/files/move` (`{ from, to }`). */
  moveFile(id, body) {
    return run(() => this[kNative].moveVolumeFile(id, body));
  }
}

/** `GET /healthz`. */
class HealthzResource {
  constructor(guard, nativeClient) {
    internalOnly(guard, 'HealthzResource');
    this[kNative] = nativeClient;
  }

  /** `GET /healthz`: the service's health. */
  healthCheck() {
    return run(() => this[kNative].healthCheck());
  }
}

/** `GET /readyz`. */
class ReadyzResource {
  constructor(guard, nativeClient) {
    internalOnly(guard, 'ReadyzResource');
    this[kNative] = nativeClient;
  }

  /** `GET /readyz`: readiness and the number of active sandboxes. */
  readinessCheck() {
    return run(() => this[kNative].readinessCheck());
  }
}

/** The low-level client: every endpoint, grouped by resource. */
class PorterSandboxApiClient {
  constructor(options, nativeClient, guard) {
    const shared = guard === kInternal ? nativeClient : createNative(options);
    Object.defineProperty(this, kNative, { value: shared });
    for (const [name, Resource] of [
      ['healthz', HealthzResource],
      ['readyz', ReadyzResource],
      ['sandboxes', SandboxesResource],
      ['snapshots', SnapshotsResource],
      ['volumes', VolumesResource],
    ]) {
      Object.defineProperty(this, name, { value: new Resource(kInternal, shared), enumerable: true });
    }
  }

  /** Releases the connection pool; later calls fail with a `SandboxError`. */
  close() {
    this[kNative].close();
  }
}

module.exports = {
  PorterSandboxApiClient,
  SandboxesResource,
  SnapshotsResource,
  VolumesResource,
  HealthzResource,
  ReadyzResource,
};
