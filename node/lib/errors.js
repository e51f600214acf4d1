'use strict';
// The error classes, and the translation of native errors into them.

const native = require('./native');

/** An error from the Porter Sandbox API or from reaching it. */
class SandboxError extends Error {
  constructor(message, options = {}) {
    super(message);
    this.name = 'SandboxError';
    this.statusCode = options.statusCode ?? null;
    this.body = options.body ?? null;
    /** The core's error kind, the same in every language (see index.d.ts `SandboxErrorKind`). */
    this.kind = options.kind ?? new.target.defaultKind;
  }
}
SandboxError.defaultKind = 'api';

/** The server rejected the credentials (HTTP 401). */
class AuthenticationError extends SandboxError {
  constructor(message, options) {
    super(message, options);
    this.name = 'AuthenticationError';
  }
}
AuthenticationError.defaultKind = 'authentication';

/** The sandbox, volume, snapshot or file does not exist (HTTP 404). */
class NotFoundError extends SandboxError {
  constructor(message, options) {
    super(message, options);
    this.name = 'NotFoundError';
  }
}
NotFoundError.defaultKind = 'not_found';

/** Too many requests (HTTP 429), after the retries ran out. */
class RateLimitError extends SandboxError {
  constructor(message, options) {
    super(message, options);
    this.name = 'RateLimitError';
  }
}
RateLimitError.defaultKind = 'rate_limit';

/** The server failed (HTTP 5xx), after the retries ran out. */
class ServerError extends SandboxError {
  constructor(message, options) {
    super(message, options);
    this.name = 'ServerError';
  }
}
ServerError.defaultKind = 'server';

/** The call did not finish within its timeout; it is never retried. */
class SandboxTimeoutError extends SandboxError {
  constructor(message) {
    super(message);
    this.name = 'SandboxTimeoutError';
  }
}
SandboxTimeoutError.defaultKind = 'timeout';

/**
 * The server lacks an extension the call needs (processes on a server other than the local
 * one); it fails at once, before any request is sent for the call itself.
 */
class UnsupportedError extends SandboxError {
  constructor(message, options) {
    super(message, options);
    this.name = 'UnsupportedError';
  }
}
UnsupportedError.defaultKind = 'unsupported';

const CLASSES = {
  authentication: AuthenticationError,
  not_found: NotFoundError,
  rate_limit: RateLimitError,
  server: ServerError,
  unsupported: UnsupportedError,
};

const MARKER = native.ERROR_MARKER;

/** The error to throw for an error raised by the native module. */
function translate(error) {
  if (!(error instanceof Error) || typeof error.message !== 'string' || !error.message.startsWith(MARKER)) {
    return error;
  }
  let decoded;
  try {
    decoded = JSON.parse(error.message.slice(MARKER.length));
  } catch {
    return new SandboxError(error.message.slice(MARKER.length));
  }
  const { kind, message, status, body } = decoded;
  if (kind === 'timeout') return new SandboxTimeoutError(message);
  const Class = CLASSES[kind] ?? SandboxError;
  return new Class(message, { statusCode: status, body, kind });
}

/** Awaits a native promise, translating its rejection. */
function call(promise) {
  return promise.then(undefined, (error) => {
    throw translate(error);
  });
}

/** Runs a synchronous native call, translating what it throws. */
function sync(fn) {
  try {
    return fn();
  } catch (error) {
    throw translate(error);
  }
}

module.exports = {
  SandboxError,
  AuthenticationError,
  NotFoundError,
  RateLimitError,
  ServerError,
  SandboxTimeoutError,
  UnsupportedError,
  translate,
  call,
  sync,
};
