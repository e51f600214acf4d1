'use strict';
// Sandboxes: the `Sandboxes` namespace and the `Sandbox` handle.

const { kNative, kInternal, run, internalOnly } = require('./internal');

const kRaw = Symbol('porter-sandbox.raw');

/** A sandbox: its id, the last status read, and what can be done with it. */
class Sandbox {
  constructor(guard, nativeSandbox) {
    internalOnly(guard, 'Sandbox');
    Object.defineProperty(this, kNative, { value: nativeSandbox });
    Object.defineProperty(this, 'id', { value: nativeSandbox.id, enumerable: true });
  }

  /** The phase of the last status read; `null` until one was read. */
  get phase() {
    return this[kNative].phase;
  }

  /** The tags of the last status read; `null` until one was read or when none are set. */
  get tags() {
    return this[kNative].tags;
  }

  /** The last status read (`StatusResponse`), or `null`. */
  get status() {
    return this[kNative].status;
  }

  /** Reads the status (`GET /v1/sandbox/{id}`), caches it and returns it. */
  refresh() {
    return run(() => this[kNative].refresh());
  }

  /**
   * Runs `command` (an argv; no shell) and waits for it. Never retried. `{ timeoutMs, workdir,
   * env, stdin }` are extensions of the local server: at `timeoutMs` the server kills the
   * command's process tree and answers `timed_out: true`, exit code 124 and the output so far.
   */
  exec(command, options) {
    return run(() => this[kNative].exec(command, options ?? null));
  }

  /** The sandbox's log lines (`{ since, limit }`). */
  logs(options) {
    return run(() => this[kNative].logs(options ?? null));
  }

  /** Terminates the sandbox; `{ source }` tells the server who asked (`dashboard`, `cli`). */
  terminate(options) {
    return run(() => this[kNative].terminate(options?.source ?? null));
  }

  toString() {
    return `Sandbox(${this.id}${this.phase ? `, ${this.phase}` : ''})`;
  }
}

/** The sandbox namespace of a `Porter`. */
class Sandboxes {
  constructor(guard, nativeClient, raw) {
    internalOnly(guard, 'Sandboxes');
    Object.defineProperty(this, kNative, { value: nativeClient });
    Object.defineProperty(this, kRaw, { value: raw });
  }

  /** Creates a sandbox from a `SandboxSpec` (wire names: `{ image, name, tags, volume_mounts }`). */
  async create(spec) {
    return new Sandbox(kInternal, await run(() => this[kNative].createSandboxHandle(spec)));
  }

  /** The sandbox named `name` (a lookup, then a status read). */
  async get(name) {
    return new Sandbox(kInternal, await run(() => this[kNative].getSandboxHandle(name)));
  }

  /**
   * One page of sandboxes, each with its status: `{ tags, page, phase, search, image, startTime,
   * endTime, includeFilterValues }`.
   */
  async list(options) {
    const handles = await run(() => this[kNative].listSandboxHandles(options ?? null));
    return handles.map((handle) => new Sandbox(kInternal, handle));
  }

  /** The low-level sandbox endpoints. */
  get raw() {
    return this[kRaw];
  }
}

module.exports = { Sandbox, Sandboxes };
