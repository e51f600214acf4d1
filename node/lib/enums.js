'use strict';
// The 16 wire enums: frozen objects with PascalCase keys whose values are the wire strings.

const FilterValuesResponsePhases = Object.freeze({
  Queued: 'queued',
  Creating: 'creating',
  Running: 'running',
  Succeeded: 'succeeded',
  Failed: 'failed',
  Terminated: 'terminated',
});

const LogLineLevel = Object.freeze({
  Error: 'error',
  Warning: 'warning',
  Info: 'info',
});

const SandboxDomainSpecVisibility = Object.freeze({
  Public: 'public',
  Private: 'private',
});

const SandboxesPhase = Object.freeze({
  Queued: 'queued',
  Creating: 'creating',
  Running: 'running',
  Succeeded: 'succeeded',
  Failed: 'failed',
  Terminated: 'terminated',
});

const SandboxesSource = Object.freeze({
  Dashboard: 'dashboard',
  Cli: 'cli',
});

const SandboxMetric = Object.freeze({
  CpuUsage: 'cpu_usage',
  CpuReserved: 'cpu_reserved',
  MemoryUsage: 'memory_usage',
  MemoryReserved: 'memory_reserved',
  NetworkRx: 'network_rx',
  NetworkTx: 'network_tx',
});

const SnapshotMode = Object.freeze({
  Filesystem: 'filesystem',
  Full: 'full',
});

const SnapshotStatus = Object.freeze({
  Pending: 'pending',
  Ready: 'ready',
  Failed: 'failed',
});

const StatusResponsePhase = Object.freeze({
  Queued: 'queued',
  Creating: 'creating',
  Running: 'running',
  Succeeded: 'succeeded',
  Failed: 'failed',
  Terminated: 'terminated',
});

const StatusResponseTerminationReason = Object.freeze({
  Dashboard: 'dashboard',
  Cli: 'cli',
  Sdk: 'sdk',
  TtlExpired: 'ttl_expired',
  WorkloadExited: 'workload_exited',
  BackendLost: 'backend_lost',
  LaunchFailed: 'launch_failed',
  UserTerminated: 'user_terminated',
  LeaseExpired: 'lease_expired',
});

const VolumeFileEntryType = Object.freeze({
  File: 'file',
  Directory: 'directory',
});

const VolumeObjectSpecAccess = Object.freeze({
  ReadWrite: 'read_write',
  ReadOnly: 'read_only',
  WriteOnlyNewFiles: 'write_only_new_files',
});

const VolumeObjectSpecMode = Object.freeze({
  Object: 'object',
  Filesystem: 'filesystem',
});

const VolumePhase = Object.freeze({
  Pending: 'pending',
  Ready: 'ready',
  Failed: 'failed',
});

const VolumeSpecType = Object.freeze({
  Disk: 'disk',
  Object: 'object',
});

const VolumeType = Object.freeze({
  Disk: 'disk',
  Object: 'object',
});

module.exports = {
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
};
