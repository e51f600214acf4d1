'use strict';
// porter-sandbox: the Porter Sandbox SDK for Node, on a native Rust core.

const { version } = require('./lib/internal');
const errors = require('./lib/errors');
const enums = require('./lib/enums');
const resources = require('./lib/resources');
const { Porter, Snapshots, Healthz, Readyz } = require('./lib/porter');
const { Sandbox, Sandboxes } = require('./lib/sandbox');
const { Process } = require('./lib/process');
const { Volume, ObjectVolume, VolumeFile, Volumes } = require('./lib/volume');

module.exports = {
  Porter,
  PorterSandboxApiClient: resources.PorterSandboxApiClient,
  Sandboxes,
  Volumes,
  Snapshots,
  Healthz,
  Readyz,
  Sandbox,
  Process,
  Volume,
  ObjectVolume,
  VolumeFile,
  SandboxesResource: resources.SandboxesResource,
  SnapshotsResource: resources.SnapshotsResource,
  VolumesResource: resources.VolumesResource,
  HealthzResource: resources.HealthzResource,
  ReadyzResource: resources.ReadyzResource,
  SandboxError: errors.SandboxError,
  AuthenticationError: errors.AuthenticationError,
  NotFoundError: errors.NotFoundError,
  RateLimitError: errors.RateLimitError,
  ServerError: errors.ServerError,
  SandboxTimeoutError: errors.SandboxTimeoutError,
  UnsupportedError: errors.UnsupportedError,
  ...enums,
  DEFAULT_CHUNK_BYTES: 8 * 1024 * 1024,
  VERSION: version,
};
