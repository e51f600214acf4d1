package run.porter.sandbox

import run.porter.sandbox.ffi.NativePorter
import run.porter.sandbox.ffi.NativeSnapshots
import run.porter.sandbox.ffi.PorterOptions

/**
 * The Porter Sandbox client. Every call is a `suspend` function that runs in the Rust core
 * without blocking a thread; cancelling the calling coroutine cancels the request.
 *
 * Settings left `null` are resolved from the environment, as in every Porter SDK: the base URL
 * from `PORTER_SANDBOX_BASE_URL`, else the Porter API gateway of `PORTER_CLUSTER_ID` (with the
 * project read from the API key), else the in-cluster address; the API key from
 * `PORTER_SANDBOX_API_KEY`.
 *
 * ```kotlin
 * Porter(baseUrl = "http://127.0.0.1:8080").use { porter ->
 *     porter.sandboxes.create(SandboxSpec(image = "host", command = listOf("sleep", "300"))).use { sandbox ->
 *         sandbox.waitUntilRunning(60.seconds)
 *         println(sandbox.exec("echo", "hello").stdout)
 *     } // terminated here, also on an exception or a cancellation
 * }
 * ```
 *
 * @param baseUrl the API base URL.
 * @param apiKey the API key, sent as `Authorization: Bearer <key>`.
 * @param timeoutMs the default per-call timeout (30 000 ms unless set); exec and file transfers
 *   have none.
 * @param maxRetries retries after a 429, a 5xx or a network error (3 unless set; exec is never
 *   retried). A create's retries carry the same `Idempotency-Key` as its first attempt.
 * @throws ConfigException when no base URL can be determined or the API key is malformed.
 */
class Porter(
    baseUrl: String? = null,
    apiKey: String? = null,
    timeoutMs: Long? = null,
    maxRetries: Int? = null,
) : AutoCloseable {
    private val inner: NativePorter =
        ffi {
            NativePorter(
                PorterOptions(
                    baseUrl = baseUrl, apiKey = apiKey, timeoutMs = timeoutMs, maxRetries = maxRetries,
                ),
            )
        }

    /** Sandboxes: create, get by name or id, list. */
    val sandboxes: Sandboxes = Sandboxes(inner.sandboxes())

    /** Volumes: create, list, get and delete by name. */
    val volumes: Volumes = Volumes(inner.volumes())

    /** Snapshots: create, list, get, delete. */
    val snapshots: Snapshots = Snapshots(inner.snapshots())

    /** The base URL in use. */
    val baseUrl: String get() = inner.baseUrl()

    /** The default per-call timeout, in milliseconds. */
    val timeoutMs: Long get() = inner.timeoutMs()

    /** Whether [close] was called. */
    val isClosed: Boolean get() = inner.isClosed()

    /** `GET /healthz`: whether the service is up. */
    suspend fun healthz(): HealthResponse = ffi { inner.healthz() }

    /** `GET /readyz`: whether the service accepts work, and how many sandboxes are active. */
    suspend fun readyz(): ReadinessResponse = ffi { inner.readyz() }

    /**
     * Releases the connection pool and stops renewing the leases of the sandboxes this client
     * created with `leaseSeconds`. Calls made afterwards, through any namespace or handle of
     * this client, fail with [InvalidArgumentException]. Calling it again does nothing.
     */
    override fun close() {
        inner.closePool()
    }

    override fun toString(): String = "Porter($baseUrl)"

    companion object {
        /** The version of this package (and of the native library in it). */
        val VERSION: String = run.porter.sandbox.ffi.version()
    }
}

/** The snapshot namespace of a [Porter]. */
class Snapshots internal constructor(private val inner: NativeSnapshots) {
    /**
     * Captures the running sandbox [sandboxId], which keeps running. The capture completes
     * asynchronously: poll [get] until `status` is `READY` or `FAILED`.
     *
     * @param mode what to capture; `null` means the filesystem.
     */
    suspend fun create(sandboxId: String, mode: SnapshotMode? = null): Snapshot =
        ffi { inner.create(sandboxId, run.porter.sandbox.ffi.SnapshotSpec(mode = mode)) }

    /** Snapshots, newest first; only those of [sandboxId] when it is given. */
    suspend fun list(sandboxId: String? = null): List<Snapshot> = ffi { inner.list(sandboxId) }

    /** One snapshot and its capture status. */
    suspend fun get(id: String): Snapshot = ffi { inner.get(id) }

    /** Deletes a snapshot and what it captured. */
    suspend fun delete(id: String): Unit = ffi { inner.delete(id) }
}
