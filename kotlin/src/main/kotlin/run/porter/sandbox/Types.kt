package run.porter.sandbox

// The models and enums of the API. They are generated from the Rust core's interface into
// run.porter.sandbox.ffi (immutable data classes and enum classes, with the core's helpers such
// as `StatusResponsePhase.isTerminal()` and `VolumeFile.isDirectory()`); these aliases make them
// part of this package, so callers never import the generated one.

/** What to run and how; only `image` is required (`"host"` on the local server). */
typealias SandboxSpec = run.porter.sandbox.ffi.SandboxSpec

/** Exposure of one workload port. */
typealias SandboxNetworkingSpec = run.porter.sandbox.ffi.SandboxNetworkingSpec

/** A hostname at which a sandbox ingress serves the exposed port. */
typealias SandboxDomainSpec = run.porter.sandbox.ffi.SandboxDomainSpec

/** Outbound allow-list of a sandbox. */
typealias SandboxEgressSpec = run.porter.sandbox.ffi.SandboxEgressSpec

/** CPU and memory of a sandbox, as Kubernetes quantities. */
typealias SandboxResourcesSpec = run.porter.sandbox.ffi.SandboxResourcesSpec

/** The status record of a sandbox. */
typealias StatusResponse = run.porter.sandbox.ffi.StatusResponse

/** The pod and container an interactive exec addresses. */
typealias ExecTarget = run.porter.sandbox.ffi.ExecTarget

/** The result of an exec; a non-zero `exitCode` is a normal result. */
typealias ExecResponse = run.porter.sandbox.ffi.ExecResponse

/** One log line of a sandbox. */
typealias LogLine = run.porter.sandbox.ffi.LogLine

/** A volume record. */
typealias VolumeRecord = run.porter.sandbox.ffi.VolumeRecord

/** What volume to create; every field is optional (an unnamed disk volume). */
typealias VolumeSpec = run.porter.sandbox.ffi.VolumeSpec

/** The bucket an object volume exposes. */
typealias VolumeObjectSpec = run.porter.sandbox.ffi.VolumeObjectSpec

/** A file or directory of a volume listing, with its full path. */
typealias VolumeFile = run.porter.sandbox.ffi.VolumeFile

/** A snapshot record. */
typealias Snapshot = run.porter.sandbox.ffi.Snapshot

/** Response of `GET /healthz`. */
typealias HealthResponse = run.porter.sandbox.ffi.HealthResponse

/** Response of `GET /readyz`. */
typealias ReadinessResponse = run.porter.sandbox.ffi.ReadinessResponse

/** The phase of a sandbox (`UNKNOWN`: a value sent by a newer server). */
typealias StatusResponsePhase = run.porter.sandbox.ffi.StatusResponsePhase

/** A phase to filter the sandbox listing by. */
typealias SandboxesPhase = run.porter.sandbox.ffi.SandboxesPhase

/** Why a sandbox reached a terminal phase. */
typealias StatusResponseTerminationReason = run.porter.sandbox.ffi.StatusResponseTerminationReason

/** Who terminates a sandbox. */
typealias SandboxesSource = run.porter.sandbox.ffi.SandboxesSource

/** Severity of a log line. */
typealias LogLineLevel = run.porter.sandbox.ffi.LogLineLevel

/** Which ingress serves a sandbox domain. */
typealias SandboxDomainSpecVisibility = run.porter.sandbox.ffi.SandboxDomainSpecVisibility

/** What a snapshot captures. */
typealias SnapshotMode = run.porter.sandbox.ffi.SnapshotMode

/** Capture state of a snapshot. */
typealias SnapshotStatus = run.porter.sandbox.ffi.SnapshotStatus

/** Kind of an entry in a volume listing. */
typealias VolumeFileEntryType = run.porter.sandbox.ffi.VolumeFileEntryType

/** Access granted to an object volume. */
typealias VolumeObjectSpecAccess = run.porter.sandbox.ffi.VolumeObjectSpecAccess

/** How an object volume is mounted. */
typealias VolumeObjectSpecMode = run.porter.sandbox.ffi.VolumeObjectSpecMode

/** Lifecycle phase of a volume. */
typealias VolumePhase = run.porter.sandbox.ffi.VolumePhase

/** Kind of volume requested at create. */
typealias VolumeSpecType = run.porter.sandbox.ffi.VolumeSpecType

/** Kind of an existing volume. */
typealias VolumeType = run.porter.sandbox.ffi.VolumeType

/** The status of a process: state, exit code, signal, byte counts, times. */
typealias ProcessStatus = run.porter.sandbox.ffi.ProcessStatus

/** A piece of a process's output: its stream, its bytes and its offset in the output. */
typealias OutputChunk = run.porter.sandbox.ffi.OutputChunk

/** The state of a process: running, exited, killed or timed out. */
typealias ProcessState = run.porter.sandbox.ffi.ProcessState

/** Which stream a piece of output came from: standard output (or a terminal) or standard error. */
typealias OutputStreamName = run.porter.sandbox.ffi.OutputStreamName
