'use strict';
// Sandboxes: the `Sandboxes` namespace and the `Sandbox` handle.

const { kNative, kInternal, run, internalOnly } = require('./internal');
const { Process } = require('./process');

const kRaw = Symbol('porter-sandbox.raw');
// Node ≥ 18.18 defines `Symbol.asyncDispose`; the registered symbol is the one it uses.
const asyncDispose = Symbol.asyncDispose ?? Symbol.for('nodejs.asyncDispose');

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
    if (!Array.isArray(command)) {
      const shown = typeof command === 'string' ? JSON.stringify(command) : typeof command;
      return Promise.reject(
        new TypeError(
          `exec takes the command as an array (an argv; no shell), not ${shown}: ` +
            `exec(['echo', 'hi']), or exec(['sh', '-c', 'echo hi | wc -c']) for a shell line`,
        ),
      );
    }
    return run(() => this[kNative].exec(command, options ?? null));
  }

  /**
   * Starts `command` (an argv; no shell) as a process and returns its handle at once, with
   * `{ timeoutMs, workdir, env, stdin, pty }`: a deadline the server enforces (state `timed_out`,
   * exit code 124), `stdin: true` to keep standard input open for `writeStdin`, and `pty: true`
   * (80×24) or `{ cols, rows }` for a terminal. A server without processes rejects at once with an
   * `UnsupportedError`.
   */
  async start(command, options) {
    return new Process(kInternal, await run(() => this[kNative].start(command, options ?? null)));
  }

  /** The process `id` of this sandbox (started by any client), with its status. */
  async process(id) {
    return new Process(kInternal, await run(() => this[kNative].process(id)));
  }

  /** The sandbox's processes, running and ended, newest first. */
  async processes() {
    const handles = await run(() => this[kNative].processes());
    return handles.map((handle) => new Process(kInternal, handle));
  }

  /** The sandbox's log lines (`{ since, limit }`). */
  logs(options) {
    return run(() => this[kNative].logs(options ?? null));
  }

  /** Terminates the sandbox; `{ source }` tells the server who asked (`dashboard`, `cli`). */
  terminate(options) {
    return run(() => this[kNative].terminate(options?.source ?? null));
  }

  /**
   * Polls the status (after 50 ms, doubling, at most 1 s apart) until the sandbox runs and
   * returns that status. A sandbox that ends first rejects with a `SandboxError` of kind
   * `sandbox_terminal` (phase, reason and last log lines in its message, the status as `body`);
   * `{ timeoutMs }` elapsing first rejects with a `SandboxTimeoutError`.
   */
  waitUntilRunning(options) {
    return run(() => this[kNative].waitUntilRunning(options?.timeoutMs ?? null));
  }

  /**
   * Polls the status (same schedule) until the sandbox is terminal and returns the workload's
   * exit code; `{ timeoutMs }` elapsing first rejects with a `SandboxTimeoutError`.
   */
  wait(options) {
    return run(() => this[kNative].wait(options?.timeoutMs ?? null));
  }

  /** One status read: the exit code once the sandbox is terminal, `null` while it lives. */
  async poll() {
    return (await run(() => this[kNative].poll())) ?? null;
  }

  /** Terminates the sandbox when an `await using` scope ends. */
  [asyncDispose]() {
    return this.terminate();
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
   * The live sandbox named `name`, or a new one created from `spec` with that name; concurrent
   * callers get the same sandbox.
   */
  async getOrCreate(name, spec) {
    return new Sandbox(kInternal, await run(() => this[kNative].getOrCreateSandboxHandle(name, spec)));
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
