'use strict';
// Processes (an extension of the local server): the `Process` handle that `sandbox.start`,
// `sandbox.process` and `sandbox.processes` return.

const { kNative, internalOnly, run, drain } = require('./internal');
const { sync } = require('./errors');

/** `data` of `writeStdin` as a Buffer: strings as UTF-8, any `Uint8Array` without a copy. */
function stdinBytes(data) {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError('writeStdin takes a Buffer, a Uint8Array or a string');
}

/**
 * A process in a sandbox: output readable from any offset by any client, standard input, a
 * terminal, a deadline enforced by the server.
 */
class Process {
  constructor(guard, nativeProcess) {
    internalOnly(guard, 'Process');
    Object.defineProperty(this, kNative, { value: nativeProcess });
    Object.defineProperty(this, 'id', { value: nativeProcess.id, enumerable: true });
    Object.defineProperty(this, 'sandboxId', { value: nativeProcess.sandboxId, enumerable: true });
  }

  /** The last status read (by `status`, `wait`, `poll` or the end of `output`), or `null`. */
  get lastStatus() {
    return this[kNative].lastStatus ?? null;
  }

  /** Reads its status now (`ProcessStatus`, wire names). */
  status() {
    return run(() => this[kNative].status());
  }

  /** Its exit code once it has ended (128 + signal when killed, 124 at its deadline), else `null`. */
  async poll() {
    return (await run(() => this[kNative].poll())) ?? null;
  }

  /**
   * Waits until it has ended and returns its final status. `{ timeoutMs }` passing first rejects
   * with a `SandboxTimeoutError`, and the process keeps running.
   */
  wait(options) {
    return run(() => this[kNative].wait(options?.timeoutMs ?? null));
  }

  /**
   * Its output from byte `{ offset }` (0: from the start) as `{ stream, data, offset }` chunks:
   * what was written so far, then live output until it ends (a broken connection is resumed
   * without losing or repeating a byte). Leaving the loop early closes the stream.
   */
  async *output(options) {
    yield* drain(sync(() => this[kNative].output(options?.offset ?? null)), (chunk) => chunk);
  }

  /** Writes bytes (a string as UTF-8) to its standard input (started with `stdin: true`). */
  writeStdin(data) {
    return run(() => this[kNative].writeStdin(stdinBytes(data)));
  }

  /** Closes its standard input: it reads end-of-file. */
  closeStdin() {
    return run(() => this[kNative].closeStdin());
  }

  /** Sends `signal` (`'SIGKILL'`, `'TERM'`, `'15'`…) to its whole process tree. */
  kill(signal = 'SIGKILL') {
    return run(() => this[kNative].kill(String(signal)));
  }

  /** Resizes its terminal (a process started with `pty`). */
  resize(cols, rows) {
    return run(() => this[kNative].resize(cols, rows));
  }

  toString() {
    const state = this.lastStatus?.state;
    return `Process(${this.id}${state ? `, ${state}` : ''})`;
  }
}

module.exports = { Process };
