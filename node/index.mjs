// ESM entry point: the same classes as the CommonJS one (one module instance, so instanceof
// works across require and import).

import pkg from './index.js';

export const {
  Porter,
  PorterSandboxApiClient,
  Sandboxes,
  Volumes,
  Snapshots,
  Healthz,
  Readyz,
  Sandbox,
  Volume,
  ObjectVolume,
  VolumeFile,
  SandboxesResource,
  SnapshotsResource,
  VolumesResource,
  HealthzResource,
  ReadyzResource,
  SandboxError,
  AuthenticationError,
  NotFoundError,
  RateLimitError,
  ServerError,
  SandboxTimeoutError,
  FilterValuesResponsePhases,
  LogLineLevel,
  SandboxDomainSpecVisibility,
  SandboxesPhase,
  SandboxesSource,
  SandboxMetric,
  SnapshotMode,
  SnapshotStatus,
  StatusResponsePhase,
  StatusResponseTerminationReason,
  VolumeFileEntryType,
  VolumeObjectSpecAccess,
  VolumeObjectSpecMode,
  VolumePhase,
  VolumeSpecType,
  VolumeType,
  DEFAULT_CHUNK_BYTES,
  VERSION,
} = pkg;

export default pkg;
