// Type definitions of porter-sandbox: the Porter Sandbox SDK for Node, on a native Rust core.
// Hand-written to match the runtime (index.js) exactly.

/// <reference types="node" />

// ---------------------------------------------------------------------------------------------
// Enums: a const object (PascalCase keys, wire-string values) plus a same-named union type each.
// ---------------------------------------------------------------------------------------------

export declare const FilterValuesResponsePhases: {
  readonly Queued: 'queued';
  readonly Creating: 'creating';
  readonly Running: 'running';
  readonly Succeeded: 'succeeded';
  readonly Failed: 'failed';
  readonly Terminated: 'terminated';
};
export type FilterValuesResponsePhases = (typeof FilterValuesResponsePhases)[keyof typeof FilterValuesResponsePhases];

export declare const LogLineLevel: {
  readonly Error: 'error';
  readonly Warning: 'warning';
  readonly Info: 'info';
};
export type LogLineLevel = (typeof LogLineLevel)[keyof typeof LogLineLevel];

export declare const SandboxDomainSpecVisibility: {
  readonly Public: 'public';
  readonly Private: 'private';
};
export type SandboxDomainSpecVisibility = (typeof SandboxDomainSpecVisibility)[keyof typeof SandboxDomainSpecVisibility];

export declare const SandboxesPhase: {
  readonly Queued: 'queued';
  readonly Creating: 'creating';
  readonly Running: 'running';
  readonly Succeeded: 'succeeded';
  readonly Failed: 'failed';
  readonly Terminated: 'terminated';
};
export type SandboxesPhase = (typeof SandboxesPhase)[keyof typeof SandboxesPhase];

export declare const SandboxesSource: {
  readonly Dashboard: 'dashboard';
  readonly Cli: 'cli';
};
export type SandboxesSource = (typeof SandboxesSource)[keyof typeof SandboxesSource];

export declare const SandboxMetric: {
  readonly CpuUsage: 'cpu_usage';
  readonly CpuReserved: 'cpu_reserved';
  readonly MemoryUsage: 'memory_usage';
  readonly MemoryReserved: 'memory_reserved';
  readonly NetworkRx: 'network_rx';
  readonly NetworkTx: 'network_tx';
};
export type SandboxMetric = (typeof SandboxMetric)[keyof typeof SandboxMetric];

export declare const SnapshotMode: {
  readonly Filesystem: 'filesystem';
  readonly Full: 'full';
};
export type SnapshotMode = (typeof SnapshotMode)[keyof typeof SnapshotMode];

export declare const SnapshotStatus: {
  readonly Pending: 'pending';
  readonly Ready: 'ready';
  readonly Failed: 'failed';
};
export type SnapshotStatus = (typeof SnapshotStatus)[keyof typeof SnapshotStatus];

export declare const StatusResponsePhase: {
  readonly Queued: 'queued';
  readonly Creating: 'creating';
  readonly Running: 'running';
  readonly Succeeded: 'succeeded';
  readonly Failed: 'failed';
  readonly Terminated: 'terminated';
};
export type StatusResponsePhase = (typeof StatusResponsePhase)[keyof typeof StatusResponsePhase];

export declare const StatusResponseTerminationReason: {
  readonly Dashboard: 'dashboard';
  readonly Cli: 'cli';
  readonly Sdk: 'sdk';
  readonly TtlExpired: 'ttl_expired';
  readonly WorkloadExited: 'workload_exited';
  readonly BackendLost: 'backend_lost';
  readonly LaunchFailed: 'launch_failed';
  readonly UserTerminated: 'user_terminated';
  /** The sandbox's lease (`lease_seconds`) was not renewed in time (local server extension). */
  readonly LeaseExpired: 'lease_expired';
};
export type StatusResponseTerminationReason = (typeof StatusResponseTerminationReason)[keyof typeof StatusResponseTerminationReason];

export declare const VolumeFileEntryType: {
  readonly File: 'file';
  readonly Directory: 'directory';
};
export type VolumeFileEntryType = (typeof VolumeFileEntryType)[keyof typeof VolumeFileEntryType];

export declare const VolumeObjectSpecAccess: {
  readonly ReadWrite: 'read_write';
  readonly ReadOnly: 'read_only';
  readonly WriteOnlyNewFiles: 'write_only_new_files';
};
export type VolumeObjectSpecAccess = (typeof VolumeObjectSpecAccess)[keyof typeof VolumeObjectSpecAccess];

export declare const VolumeObjectSpecMode: {
  readonly Object: 'object';
  readonly Filesystem: 'filesystem';
};
export type VolumeObjectSpecMode = (typeof VolumeObjectSpecMode)[keyof typeof VolumeObjectSpecMode];

export declare const VolumePhase: {
  readonly Pending: 'pending';
  readonly Ready: 'ready';
  readonly Failed: 'failed';
};
export type VolumePhase = (typeof VolumePhase)[keyof typeof VolumePhase];

export declare const VolumeSpecType: {
  readonly Disk: 'disk';
  readonly Object: 'object';
};
export type VolumeSpecType = (typeof VolumeSpecType)[keyof typeof VolumeSpecType];

export declare const VolumeType: {
  readonly Disk: 'disk';
  readonly Object: 'object';
};
export type VolumeType = (typeof VolumeType)[keyof typeof VolumeType];

// ---------------------------------------------------------------------------------------------
// Models: plain objects with the wire's snake_case keys.
// ---------------------------------------------------------------------------------------------

/** Response of `POST /v1/sandbox/run`. */
export interface CreateResponse {
  id: string;
  name: string;
  volume_mounts?: Record<string, string>;
}

/** Where an interactive exec goes. */
export interface ExecTarget {
  namespace: string;
  pod_name: string;
  container_name: string;
}

/** Status record of a sandbox (`GET /v1/sandbox/{id}`). */
export interface StatusResponse {
  id: string;
  name: string;
  image: string;
  tags?: Record<string, string>;
  phase: StatusResponsePhase;
  exit_code?: number | null;
  created_at: string;
  started_at?: string | null;
  finished_at?: string | null;
  termination_reason?: StatusResponseTerminationReason;
  host: string;
  internal_address?: string;
  volume_mounts?: Record<string, string>;
  exec_target?: ExecTarget;
  /**
   * The image that actually runs when it is not `image` (local server extension): `host` when
   * the server, started with `--offline-images host`, could not reach the registry.
   */
  runs_image?: string;
}

/** Paging of a sandbox list. */
export interface Pagination {
  current_page: number;
  total_pages: number;
  has_next_page: boolean;
}

/** Cluster-wide filter options of a sandbox list. */
export interface FilterValuesResponse {
  tags: string[];
  images: string[];
  phases: FilterValuesResponsePhases[];
}

/** Response of `GET /v1/sandbox`. */
export interface ListResponse {
  sandboxes: StatusResponse[];
  pagination: Pagination;
  filter_values?: FilterValuesResponse;
}

/** One bucket of sandbox counts. */
export interface CountPoint {
  timestamp: string;
  count: number;
}

/** Response of `GET /v1/sandbox/counts`. */
export interface CountResponse {
  points: CountPoint[];
  granularity_ms: number;
}

/** Response of the lookups. */
export interface LookupResult {
  id: string;
}

/** Network exposure of a sandbox port. */
export interface SandboxDomainSpec {
  domain?: string;
  visibility?: SandboxDomainSpecVisibility;
}

/** An exposed port. */
export interface SandboxNetworkingSpec {
  port: number;
  domains?: SandboxDomainSpec[];
  internal?: boolean;
}

/** Outbound allow-list. */
export interface SandboxEgressSpec {
  allowed_destinations: string[];
}

/** CPU and memory, as Kubernetes quantities. */
export interface SandboxResourcesSpec {
  cpu?: string;
  memory?: string;
}

/** Request body of `POST /v1/sandbox/run`: what to run and how. */
export interface SandboxSpec {
  image: string;
  snapshot_id?: string;
  name?: string;
  tags?: Record<string, string>;
  command?: string[];
  args?: string[];
  env?: Record<string, string>;
  env_groups?: string[];
  volume_mounts?: Record<string, string>;
  networking?: SandboxNetworkingSpec[];
  egress?: SandboxEgressSpec;
  resources?: SandboxResourcesSpec;
  ttl_seconds?: number;
  /**
   * Lease in seconds (our local server's extension): the server terminates the sandbox when
   * nobody renews the lease for that long. The client that created it renews it in the
   * background until `close()` or the process ends.
   */
  lease_seconds?: number;
}

/** Request body of exec. The fields after `command` are extensions of the local server. */
export interface ExecRequest {
  command: string[];
  /** Deadline in seconds (> 0), enforced by the server. */
  timeout_seconds?: number;
  /** Absolute working directory in the sandbox. */
  workdir?: string;
  /** Variables merged over the sandbox's environment. */
  env?: Record<string, string>;
  /** UTF-8 text fed to standard input, which is then closed. */
  stdin?: string;
}

/** Result of exec. */
export interface ExecResponse {
  stdout: string;
  stderr: string;
  exit_code: number;
  exec_id?: string;
  /** `true` when the server cut the output at its per-stream limit. */
  truncated?: boolean;
  /**
   * `true` when the deadline killed the command (exit code 124); always a boolean from
   * `Sandbox.exec`, absent from servers without the extension.
   */
  timed_out?: boolean;
}

/** Options of `Sandbox.exec` (extensions of the local server). */
export interface ExecOptions {
  /**
   * Deadline in milliseconds (> 0): the server kills the command's whole process tree and
   * answers `timed_out: true`, exit code 124 and the output so far. A server without the
   * extension makes the call fail with a timeout error 10 s after the deadline.
   */
  timeoutMs?: number;
  /** Absolute working directory in the sandbox. */
  workdir?: string;
  /** Variables merged over the sandbox's environment. */
  env?: Record<string, string>;
  /** UTF-8 text fed to standard input, which is then closed. */
  stdin?: string;
}

/** State of a process (extension of the local server). */
export type ProcessState = 'running' | 'exited' | 'killed' | 'timed_out';

/** Which stream a chunk of process output came from (a terminal has only `stdout`). */
export type OutputStreamName = 'stdout' | 'stderr';

/** Status of a process (extension of the local server; wire names). */
export interface ProcessStatus {
  /** The process's id (`Process.id`). */
  exec_id: string;
  sandbox_id: string;
  /** Its argv. */
  command: string[];
  state: ProcessState;
  /** Exit status once ended (128 + signal when killed by one, 124 at its deadline). */
  exit_code?: number;
  /** The signal that ended it (`SIGKILL`…), when one did. */
  signal?: string;
  /** Whether its deadline killed it. */
  timed_out: boolean;
  /** Whether it runs in a terminal. */
  pty: boolean;
  /** Whether its standard input is still open for writing. */
  stdin_open: boolean;
  /** Start time (RFC 3339). */
  started_at: string;
  /** End time (RFC 3339), once ended. */
  ended_at?: string;
  /** Bytes written to standard output (or the terminal). */
  stdout_bytes: number;
  /** Bytes written to standard error. */
  stderr_bytes: number;
  /** Offset of the first byte still kept (older output was dropped at the retention limit). */
  output_start: number;
  /** Offset just past the last byte written. */
  output_end: number;
}

/** A terminal size in cells (1 to 1000 each). */
export interface TerminalSize {
  cols: number;
  rows: number;
}

/** Options of `Sandbox.start` (extensions of the local server). */
export interface StartOptions {
  /**
   * Deadline in milliseconds (> 0): the server kills the process's whole tree; its state
   * becomes `timed_out`, its exit code 124, and its output stays readable.
   */
  timeoutMs?: number;
  /** Absolute working directory in the sandbox. */
  workdir?: string;
  /** Variables merged over the sandbox's environment. */
  env?: Record<string, string>;
  /** Keep standard input open for `writeStdin` until `closeStdin` (default: an empty one). */
  stdin?: boolean;
  /** Run in a terminal: `true` for 80×24, or its size; the output is then one stream. */
  pty?: boolean | TerminalSize;
}

/** A piece of a process's output. */
export interface OutputChunk {
  /** `stdout` (also a terminal's output) or `stderr`. */
  stream: OutputStreamName;
  /** The bytes, exactly as the process wrote them. */
  data: Buffer;
  /** Offset of `data`'s first byte in the combined output; `offset + data.length` goes on after it. */
  offset: number;
}

/** One log line of a sandbox. */
export interface LogLine {
  timestamp: string;
  line: string;
  level: LogLineLevel;
  /** Id of the exec that produced the line; `""` for the workload's own output. */
  exec_id: string;
}

/** Response of `GET /v1/sandbox/{id}/logs`. */
export interface LogsResponse {
  sandbox_id: string;
  logs: LogLine[];
}

/** Response of `GET /healthz`. */
export interface HealthResponse {
  status: string;
}

/** Response of `GET /readyz`. */
export interface ReadinessResponse {
  status: string;
  active_sandboxes: number;
}

/** The body of an API error. */
export interface Error {
  error: string;
}

/** p50/p90 CPU and memory over a window. */
export interface MetricSummaryResponse {
  window_seconds: number;
  has_data: boolean;
  cpu_cores_p50: number;
  cpu_cores_p90: number;
  cpu_limit_cores: number;
  cpu_util_p50_pct: number;
  cpu_util_p90_pct: number;
  mem_bytes_p50: number;
  mem_bytes_p90: number;
  mem_limit_bytes: number;
  mem_util_p50_pct: number;
  mem_util_p90_pct: number;
}

/** One point of a metric series. */
export interface SandboxMetricsPoint {
  timestamp_utc: string;
  value: number;
}

/** One metric series. */
export interface SandboxMetricsSeries {
  labels?: Record<string, string>;
  unit?: string;
  time_series: SandboxMetricsPoint[];
}

/** One metric result. */
export interface SandboxMetricsResult {
  series: SandboxMetricsSeries[];
}

/** Response of `GET /v1/sandbox/{id}/metrics`. */
export interface SandboxMetricsResponse {
  results: SandboxMetricsResult[];
}

/** A snapshot and its capture status. */
export interface Snapshot {
  id: string;
  sandbox_id: string;
  mode: SnapshotMode;
  status: SnapshotStatus;
  t_created_unix_ms?: number;
  t_ready_unix_ms?: number;
  failure_reason?: string;
  size_bytes?: number;
}

/** Request body of `POST /v1/sandbox/{id}/snapshot`. */
export interface SnapshotSpec {
  mode?: SnapshotMode;
}

/** Response of `GET /v1/snapshot`. */
export interface SnapshotListResponse {
  snapshots: Snapshot[];
}

/** The bucket of an object volume. */
export interface VolumeObjectSpec {
  bucket: string;
  prefix?: string;
  access?: VolumeObjectSpecAccess;
  mode?: VolumeObjectSpecMode;
}

/** A volume record (the wire schema `Volume`). */
export interface VolumeRecord {
  id: string;
  name: string;
  type: VolumeType;
  object?: VolumeObjectSpec;
  path: string;
  phase: VolumePhase;
  attached_to: string[];
  created_at: string;
}

/** Request body of `POST /v1/volume`. */
export interface VolumeSpec {
  name?: string;
  type?: VolumeSpecType;
  object?: VolumeObjectSpec;
}

/** Response of `GET /v1/volume`. */
export interface VolumeListResponse {
  volumes: VolumeRecord[];
}

/** An entry of a volume listing (directories may carry their `entries`). */
export interface VolumeFileEntry {
  name: string;
  type: VolumeFileEntryType;
  size_bytes: number;
  modified_at?: string;
  truncated?: boolean;
  entries?: VolumeFileEntry[];
}

/** Response of `GET /v1/volume/{id}/files`. */
export interface VolumeFileListResponse {
  path: string;
  entries: VolumeFileEntry[];
  truncated: boolean;
}

/** Request body of `POST /v1/volume/{id}/files/move`. */
export interface VolumeFileMoveRequest {
  from: string;
  to: string;
}

// ---------------------------------------------------------------------------------------------
// Options and binary types.
// ---------------------------------------------------------------------------------------------

/** Options of `new Porter(...)` and `new PorterSandboxApiClient(...)`. */
export interface ClientOptions {
  /** API key; else `PORTER_SANDBOX_API_KEY`. */
  apiKey?: string;
  /** Base URL; else `PORTER_SANDBOX_BASE_URL`, the cluster gateway, or the in-cluster URL. */
  baseUrl?: string;
  /** Default per-call timeout in milliseconds (30000). Exec and file transfers have none. */
  timeoutMs?: number;
  /** Retries after a 429, a 5xx or a network error (3); exec is never retried. */
  maxRetries?: number;
}

/**
 * An upload body: bytes (`Buffer`, any `Uint8Array`, typed array, `DataView`, `ArrayBuffer`), a
 * `Blob`, the path of a local file (a string or a `file:` URL), or a readable stream / async
 * iterable of chunks (spooled to a temporary file so that it can be sent again).
 */
export type BinaryBody =
  | Uint8Array
  | ArrayBufferView
  | ArrayBuffer
  | Blob
  | string
  | URL
  | NodeJS.ReadableStream
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array | string>;

/** The byte range a ranged read covers (`Content-Range: bytes <start>-<end>/<size>`). */
export interface ContentRange {
  start: number;
  end: number;
  size: number;
}

/** A file read by the low-level `readFile`. */
export interface BinaryContent {
  bytes: Uint8Array;
  contentRange: ContentRange | null;
  lastModified: Date | null;
}

/** Per-request options of the unbounded low-level calls (exec, file read and write). */
export interface RequestOptions {
  /** Timeout in milliseconds; `null` or absent: no timeout. */
  timeoutMs?: number | null;
}

/** Filters of `sandboxes.counts` (low level). */
export interface SandboxFilterOptions {
  startTime?: string;
  endTime?: string;
  /** Name prefix. */
  search?: string;
  /** `key=value` tags; all must match. */
  tag?: string | string[];
  /** Tags as a record (the ergonomic form); all must match. */
  tags?: Record<string, string>;
  /** Phases; any may match. */
  phase?: SandboxesPhase | SandboxesPhase[];
  image?: string;
}

/** Filters and paging of `sandboxes.list`. */
export interface SandboxListOptions extends SandboxFilterOptions {
  includeFilterValues?: boolean;
  /** 1-based page (50 sandboxes a page on the local server). */
  page?: number;
}

/** Options of `sandbox.logs` / `getLogs`. */
export interface LogsOptions {
  /** Only lines after this time (RFC 3339, or a duration such as `10m` on the local server). */
  since?: string;
  /** At most this many lines. */
  limit?: number;
}

/** Options of `sandbox.terminate` / low-level `delete`. */
export interface TerminateOptions {
  /** Who asked (recorded as the termination reason). */
  source?: SandboxesSource;
}

/** A byte window of a file read. */
export interface ReadOptions {
  offset?: number;
  length?: number;
}

// ---------------------------------------------------------------------------------------------
// Errors.
// ---------------------------------------------------------------------------------------------

/** An error from the Porter Sandbox API or from reaching it. */
/**
 * The core's error kinds, the same in every language: `authentication` (401), `not_found` (404),
 * `rate_limit` (429, after the retries), `server` (5xx, after the retries), `api` (any other error
 * answer), `timeout` (never retried), `network` (not delivered or the answer not read), `decode`
 * (an answer of the wrong shape), `invalid_argument` (an unusable argument), `sandbox_terminal`
 * (`waitUntilRunning` saw the sandbox end first; `body` is its status), `unsupported` (the
 * server lacks an extension the call needs). Configuration problems are plain `Error`s thrown
 * by the constructor.
 */
export type SandboxErrorKind =
  | 'authentication'
  | 'not_found'
  | 'rate_limit'
  | 'server'
  | 'api'
  | 'timeout'
  | 'network'
  | 'decode'
  | 'invalid_argument'
  | 'sandbox_terminal'
  | 'unsupported';

export declare class SandboxError extends globalThis.Error {
  constructor(
    message: string,
    options?: { statusCode?: number | null; body?: unknown; kind?: SandboxErrorKind },
  );
  /** The HTTP status, for errors the server answered; `null` otherwise. */
  readonly statusCode: number | null;
  /** The decoded response body (JSON or text); `null` when none. */
  readonly body: unknown;
  /** The core's error kind; each class has its default. */
  readonly kind: SandboxErrorKind;
  name: string;
}

/** The server rejected the credentials (HTTP 401). */
export declare class AuthenticationError extends SandboxError {}

/** The sandbox, volume, snapshot or file does not exist (HTTP 404). */
export declare class NotFoundError extends SandboxError {}

/** Too many requests (HTTP 429), after the retries ran out. */
export declare class RateLimitError extends SandboxError {}

/** The server failed (HTTP 5xx), after the retries ran out. */
export declare class ServerError extends SandboxError {}

/** The call did not finish within its timeout; it is never retried. */
export declare class SandboxTimeoutError extends SandboxError {
  constructor(message: string);
}

/**
 * The server lacks an extension the call needs (processes on a server other than the local
 * one): the call fails at once.
 */
export declare class UnsupportedError extends SandboxError {}

// ---------------------------------------------------------------------------------------------
// Low-level resources.
// ---------------------------------------------------------------------------------------------

/** Sandbox endpoints (`porter.raw.sandboxes`, `porter.sandboxes.raw`). */
export declare class SandboxesResource {
  private constructor();
  list(options?: SandboxListOptions): Promise<ListResponse>;
  counts(options?: SandboxFilterOptions): Promise<CountResponse>;
  create(body: SandboxSpec): Promise<CreateResponse>;
  lookup(options: { name: string }): Promise<LookupResult>;
  get(id: string): Promise<StatusResponse>;
  delete(id: string, options?: TerminateOptions): Promise<void>;
  getLogs(id: string, options?: LogsOptions): Promise<LogsResponse>;
  exec(id: string, body: ExecRequest, requestOptions?: RequestOptions): Promise<ExecResponse>;
  getMetricsSummary(id: string, options?: { since?: string }): Promise<MetricSummaryResponse>;
  getMetrics(
    id: string,
    options: { metric: SandboxMetric; startTimeUtc: string; endTimeUtc: string },
  ): Promise<SandboxMetricsResponse>;
}

/** Snapshot endpoints. */
export declare class SnapshotsResource {
  private constructor();
  create(id: string, body: SnapshotSpec): Promise<Snapshot>;
  list(options?: { sandboxId?: string }): Promise<SnapshotListResponse>;
  get(id: string): Promise<Snapshot>;
  delete(id: string): Promise<void>;
}

/** Volume and volume-file endpoints. */
export declare class VolumesResource {
  private constructor();
  list(): Promise<VolumeListResponse>;
  create(body: VolumeSpec): Promise<VolumeRecord>;
  lookup(options: { name: string }): Promise<LookupResult>;
  get(id: string): Promise<VolumeRecord>;
  delete(id: string): Promise<void>;
  listFiles(id: string, options?: { path?: string; search?: string }): Promise<VolumeFileListResponse>;
  readFile(
    id: string,
    options: { path: string; range?: string },
    requestOptions?: RequestOptions,
  ): Promise<BinaryContent>;
  writeFile(
    id: string,
    body: BinaryBody,
    options: { path: string },
    requestOptions?: RequestOptions,
  ): Promise<void>;
  moveFile(id: string, body: VolumeFileMoveRequest): Promise<void>;
}

/** `GET /healthz`. */
export declare class HealthzResource {
  private constructor();
  healthCheck(): Promise<HealthResponse>;
}

/** `GET /readyz`. */
export declare class ReadyzResource {
  private constructor();
  readinessCheck(): Promise<ReadinessResponse>;
}

/** The low-level client: every endpoint, grouped by resource. */
export declare class PorterSandboxApiClient {
  constructor(options?: ClientOptions);
  readonly healthz: HealthzResource;
  readonly readyz: ReadyzResource;
  readonly sandboxes: SandboxesResource;
  readonly snapshots: SnapshotsResource;
  readonly volumes: VolumesResource;
  /** Releases the connection pool; later calls fail with a `SandboxError`. */
  close(): void;
}

// ---------------------------------------------------------------------------------------------
// Handles.
// ---------------------------------------------------------------------------------------------

/** Options of `Sandbox.waitUntilRunning` and `Sandbox.wait`. */
export interface WaitOptions {
  /** Give up after this many milliseconds with a `SandboxTimeoutError`; no limit when unset. */
  timeoutMs?: number;
}

/**
 * A sandbox: its id, the last status read, and what can be done with it. `await using sandbox =
 * await porter.sandboxes.create(...)` terminates it when the scope ends, also on an exception.
 */
export declare class Sandbox implements AsyncDisposable {
  private constructor();
  /** Sandbox identifier. */
  readonly id: string;
  /** Last-known lifecycle phase; `null` until a status was read. */
  get phase(): StatusResponsePhase | null;
  /** Last-known tags; `null` until a status was read or when none are set. */
  get tags(): Record<string, string> | null;
  /** The last status read, or `null`. */
  get status(): StatusResponse | null;
  /** Refetches the status and updates `phase` and `tags`. */
  refresh(): Promise<StatusResponse>;
  /** Runs a command (an argv; no shell), never retried; no timeout unless `timeoutMs`. */
  exec(command: string[], options?: ExecOptions): Promise<ExecResponse & { timed_out: boolean }>;
  /**
   * Starts a command (an argv; no shell) as a process and returns its handle at once. Rejects
   * at once with an `UnsupportedError` on a server without processes.
   */
  start(command: string[], options?: StartOptions): Promise<Process>;
  /** The process `id` of this sandbox, started by any client (also before a server restart). */
  process(id: string): Promise<Process>;
  /** The sandbox's processes, running and ended, newest first. */
  processes(): Promise<Process[]>;
  /** Fetches structured log lines. */
  logs(options?: LogsOptions): Promise<LogLine[]>;
  /** Terminates the sandbox. */
  terminate(options?: TerminateOptions): Promise<void>;
  /**
   * Polls the status (after 50 ms, then twice as long each time, at most 1 s apart) until the
   * sandbox runs, and returns that status. Rejects with a `SandboxError` of kind
   * `sandbox_terminal` (message: phase, termination reason, exit code, last log lines; `body`:
   * the status) when it ends first, and with a `SandboxTimeoutError` after `timeoutMs`.
   */
  waitUntilRunning(options?: WaitOptions): Promise<StatusResponse>;
  /**
   * Polls the status (same schedule) until the sandbox is terminal and returns the workload's
   * exit code (137 for a terminated sandbox without one, 1 for a failed one). Rejects with a
   * `SandboxTimeoutError` after `timeoutMs`.
   */
  wait(options?: WaitOptions): Promise<number>;
  /** One status read: the exit code once the sandbox is terminal, `null` while it lives. */
  poll(): Promise<number | null>;
  /** Terminates the sandbox (for `await using`). */
  [Symbol.asyncDispose](): Promise<void>;
  toString(): string;
}

/**
 * A process in a sandbox (`Sandbox.start`, `Sandbox.process`): its output is kept by the server
 * and readable from any offset by any client while and after it runs.
 */
export declare class Process {
  private constructor();
  /** The process id (`exec_id`): `sandbox.process(id)` reaches it again from any client. */
  readonly id: string;
  /** The id of the sandbox it runs in. */
  readonly sandboxId: string;
  /** The last status read (by `status`, `wait`, `poll` or the end of `output`), or `null`. */
  get lastStatus(): ProcessStatus | null;
  /** Reads its status now. */
  status(): Promise<ProcessStatus>;
  /** Its exit code once it has ended (128 + signal when killed, 124 at its deadline), else `null`. */
  poll(): Promise<number | null>;
  /**
   * Waits until it has ended and returns its final status; rejects with a `SandboxTimeoutError`
   * after `timeoutMs` (the process keeps running).
   */
  wait(options?: WaitOptions): Promise<ProcessStatus>;
  /**
   * Its output from byte `offset` (default 0): what was written so far, then live output until
   * it ends. Leaving the `for await` loop early closes the stream.
   */
  output(options?: { offset?: number }): AsyncGenerator<OutputChunk, void, undefined>;
  /** Writes to its standard input (a string as UTF-8); it was started with `stdin: true`. */
  writeStdin(data: Uint8Array | string): Promise<void>;
  /** Closes its standard input: it reads end-of-file. */
  closeStdin(): Promise<void>;
  /** Sends a signal (`'SIGKILL'` by default, `'TERM'`, `'15'`…) to its whole process tree. */
  kill(signal?: string): Promise<void>;
  /** Resizes its terminal (a process started with `pty`). */
  resize(cols: number, rows: number): Promise<void>;
  toString(): string;
}

/** A file or directory of a volume listing. */
export declare class VolumeFile {
  constructor(init: {
    name: string;
    path: string;
    type: VolumeFileEntryType;
    sizeBytes: number;
    modifiedAt?: string | null;
    truncated?: boolean;
  });
  readonly name: string;
  /** Full `/`-rooted path, e.g. `/models/config.json`. */
  readonly path: string;
  readonly type: VolumeFileEntryType;
  readonly sizeBytes: number;
  readonly modifiedAt: Date | null;
  /** A directory whose contents the listing did not fully read. */
  readonly truncated: boolean;
  get isDirectory(): boolean;
  get isFile(): boolean;
  toString(): string;
}

/** What both volume handles share. */
declare abstract class VolumeHandle {
  protected constructor();
  readonly id: string;
  /** The cached record. */
  get record(): VolumeRecord;
  get name(): string;
  get type(): VolumeType;
  get phase(): VolumePhase;
  get attachedTo(): string[];
  get createdAt(): Date;
  /** Reads the record again, caches and returns it. */
  refresh(): Promise<VolumeRecord>;
  /** Deletes the volume (refused while it is attached to a sandbox). */
  delete(): Promise<void>;
  toString(): string;
}

/** A disk volume, with file operations. Every path is normalized (`a/b/` → `/a/b`). */
export declare class Volume extends VolumeHandle {
  get type(): Exclude<VolumeType, 'object'>;
  /** The data subdirectory under the shared volumes mount. */
  get path(): string;
  listdir(path?: string): Promise<VolumeFile[]>;
  iterdir(path?: string): AsyncGenerator<VolumeFile, void, undefined>;
  search(query: string, options?: { path?: string }): Promise<VolumeFile[]>;
  readFile(path: string, options?: ReadOptions): Promise<Uint8Array>;
  readText(path: string, options?: ReadOptions): Promise<string>;
  writeFile(path: string, content: BinaryBody): Promise<void>;
  writeText(path: string, content: string): Promise<void>;
  moveFile(from: string, to: string): Promise<void>;
  stream(path: string, options?: { chunkSize?: number }): AsyncGenerator<Uint8Array, void, undefined>;
}

/** An object volume: a registered bucket (or a prefix of one); no file operations. */
export declare class ObjectVolume extends VolumeHandle {
  get type(): 'object';
  /** The bucket; throws a `SandboxError` when the record has none. */
  get object(): VolumeObjectSpec;
}

// ---------------------------------------------------------------------------------------------
// Ergonomic namespaces and the client.
// ---------------------------------------------------------------------------------------------

/** `porter.sandboxes`. */
export declare class Sandboxes {
  private constructor();
  /** Creates a sandbox; the handle has no status yet (`phase` and `tags` are `null`). */
  create(spec: SandboxSpec): Promise<Sandbox>;
  /** Looks up a sandbox by name and returns its handle (with its status). */
  get(name: string): Promise<Sandbox>;
  /**
   * The live sandbox named `name`, or a new one created from `spec` with that name; concurrent
   * callers get the same sandbox.
   */
  getOrCreate(name: string, spec: SandboxSpec): Promise<Sandbox>;
  /** One page of sandboxes, each with its status. */
  list(options?: SandboxListOptions): Promise<Sandbox[]>;
  get raw(): SandboxesResource;
}

/** `porter.volumes`. */
export declare class Volumes {
  private constructor();
  create(body?: VolumeSpec): Promise<Volume | ObjectVolume>;
  list(): Promise<Array<Volume | ObjectVolume>>;
  get(name: string): Promise<Volume | ObjectVolume>;
  delete(name: string): Promise<void>;
  get raw(): VolumesResource;
}

/** `porter.snapshots`. */
export declare class Snapshots {
  private constructor();
  /** Captures the running sandbox `id` (the sandbox's id). */
  create(id: string, body?: SnapshotSpec): Promise<Snapshot>;
  list(options?: { sandboxId?: string }): Promise<SnapshotListResponse>;
  get(id: string): Promise<Snapshot>;
  delete(id: string): Promise<void>;
  get raw(): SnapshotsResource;
}

/** `porter.healthz`. */
export declare class Healthz {
  private constructor();
  healthCheck(): Promise<HealthResponse>;
  get raw(): HealthzResource;
}

/** `porter.readyz`. */
export declare class Readyz {
  private constructor();
  readinessCheck(): Promise<ReadinessResponse>;
  get raw(): ReadyzResource;
}

/** The Porter Sandbox client. */
export declare class Porter {
  /** Resolves the configuration at once; a problem throws a plain `Error`. */
  constructor(options?: ClientOptions);
  readonly healthz: Healthz;
  readonly readyz: Readyz;
  readonly sandboxes: Sandboxes;
  readonly snapshots: Snapshots;
  readonly volumes: Volumes;
  /** The low-level client, sharing this client's connections. */
  get raw(): PorterSandboxApiClient;
  /** The base URL in use. */
  get baseUrl(): string;
  /** The default per-call timeout in milliseconds. */
  get timeoutMs(): number;
  /** Releases the connection pool; later calls fail with a `SandboxError`. */
  close(): void;
}

/** Chunk size of `Volume.stream` (8 MiB). */
export declare const DEFAULT_CHUNK_BYTES: number;

/** The package version (sent as `User-Agent: porter-sandbox-node/<version>`). */
export declare const VERSION: string;

export {};
