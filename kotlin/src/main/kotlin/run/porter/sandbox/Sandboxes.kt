package run.porter.sandbox

import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.withContext
import run.porter.sandbox.ffi.ListSandboxesParams
import run.porter.sandbox.ffi.NativeSandbox
import run.porter.sandbox.ffi.NativeSandboxes
import kotlin.time.Duration
import kotlin.time.DurationUnit

/** The sandbox namespace of a [Porter]. */
class Sandboxes internal constructor(private val inner: NativeSandboxes) {
    /**
     * Creates a sandbox. The handle holds only the id: [Sandbox.phase] and [Sandbox.tags] are
     * `null` until [Sandbox.refresh]. Scope it with [Sandbox.use] to have it terminated when the
     * block ends: `porter.sandboxes.create(spec).use { sandbox -> … }`.
     *
     * The request carries an `Idempotency-Key`, reused by its retries, so a retry after a lost
     * response does not create a second sandbox. With `leaseSeconds` set (an extension of the
     * local server), this client renews the sandbox's lease in the background for as long as it
     * is open; once nobody renews it, the server terminates the sandbox (`LEASE_EXPIRED`).
     */
    suspend fun create(spec: SandboxSpec): Sandbox = Sandbox(ffi { inner.create(spec) })

    /**
     * The live sandbox named [name], or a new one created from [spec] with that name.
     * Concurrent callers, in this process or another, get the same sandbox.
     */
    suspend fun getOrCreate(name: String, spec: SandboxSpec): Sandbox =
        Sandbox(ffi { inner.getOrCreate(name, spec) })

    /** The sandbox named [name], with its status. */
    suspend fun get(name: String): Sandbox = Sandbox(ffi { inner.get(name) })

    /** The sandbox with id [id], with its status. */
    suspend fun getById(id: String): Sandbox = Sandbox(ffi { inner.getById(id) })

    /**
     * One page of sandboxes, each with its status. Every filter is optional and they combine.
     *
     * @param tags only sandboxes carrying every one of these tags.
     * @param phase only sandboxes in one of these phases.
     * @param search only sandboxes whose name starts with this prefix.
     * @param image only sandboxes running this image.
     * @param startTime only sandboxes created at or after this time (RFC 3339).
     * @param endTime only sandboxes created at or before this time (RFC 3339).
     * @param page the 1-based page (the first one when `null`).
     */
    suspend fun list(
        tags: Map<String, String>? = null,
        phase: List<SandboxesPhase>? = null,
        search: String? = null,
        image: String? = null,
        startTime: String? = null,
        endTime: String? = null,
        page: Long? = null,
    ): List<Sandbox> {
        val params = ListSandboxesParams(
            tags = tags, phase = phase, search = search, image = image,
            startTime = startTime, endTime = endTime, page = page,
        )
        return ffi { inner.list(params) }.map(::Sandbox)
    }

    /** Every sandbox matching the filters of [list], following the pages to the last. */
    suspend fun listAll(
        tags: Map<String, String>? = null,
        phase: List<SandboxesPhase>? = null,
        search: String? = null,
        image: String? = null,
        startTime: String? = null,
        endTime: String? = null,
    ): List<Sandbox> {
        val params = ListSandboxesParams(
            tags = tags, phase = phase, search = search, image = image,
            startTime = startTime, endTime = endTime,
        )
        return ffi { inner.listAll(params) }.map(::Sandbox)
    }

    /** A handle for the sandbox [id], without any request (no cached status). */
    fun handle(id: String): Sandbox = Sandbox(inner.handle(id))
}

/**
 * A sandbox: its id, the last status read, and what can be done with it.
 *
 * Two handles are equal when they name the same sandbox.
 */
class Sandbox internal constructor(private val inner: NativeSandbox) {
    /** The sandbox id. */
    val id: String = inner.id()

    /** The phase of the cached status; `null` until a status was read. */
    val phase: StatusResponsePhase? get() = inner.phase()

    /** The tags of the cached status; `null` until a status was read or when none are set. */
    val tags: Map<String, String>? get() = inner.tags()

    /** The cached status, if one was read. */
    val status: StatusResponse? get() = inner.status()

    /** Reads the status, caches it and returns it. */
    suspend fun refresh(): StatusResponse = ffi { inner.refresh() }

    /**
     * Runs [command] (an argv; no shell) and waits for it, however long it takes; never retried.
     * A non-zero `exitCode` is a normal result, not an exception. Cancelling the coroutine (or
     * `withTimeout`) closes the request, and the server then kills the command.
     */
    suspend fun exec(command: List<String>): ExecResponse = ffi { inner.exec(command) }

    /**
     * Runs [command] with the exec options of the local server (extensions of the Porter API).
     * At [timeout] the server kills the command's whole process tree and answers with the output
     * so far, `timedOut = true` and exit code 124 (a server without the extension makes the call
     * fail with [SandboxTimeoutException] 10 s after the deadline). [workdir] is an absolute directory,
     * [env] is merged over the sandbox's environment, [stdin] is fed to standard input, which is
     * then closed.
     */
    suspend fun exec(
        command: List<String>,
        timeout: Duration?,
        workdir: String? = null,
        env: Map<String, String>? = null,
        stdin: String? = null,
    ): ExecResponse = ffi {
        inner.execWith(command, timeout?.toDouble(DurationUnit.SECONDS), workdir, env, stdin)
    }

    /**
     * Starts a process (an extension of the local server; [UnsupportedException] at once on a
     * server without it): it gets its id at once and outlives this call. [timeout] is a deadline
     * the server enforces (the whole tree is killed, state `TIMED_OUT`, exit code 124); [stdin]
     * keeps standard input open for [Process.writeStdin]; [pty] runs it in a terminal of
     * [cols] x [rows].
     */
    suspend fun start(
        command: List<String>,
        timeout: Duration? = null,
        workdir: String? = null,
        env: Map<String, String>? = null,
        stdin: Boolean = false,
        pty: Boolean = false,
        cols: Int = 80,
        rows: Int = 24,
    ): Process {
        require(!pty || (cols in 1..1000 && rows in 1..1000)) { "cols and rows are 1 to 1000" }
        val native = ffi {
            inner.start(
                command, timeout?.toDouble(DurationUnit.SECONDS), workdir, env, stdin,
                if (pty) cols.toUShort() else null, if (pty) rows.toUShort() else null,
            )
        }
        return Process(native)
    }

    /** The process [execId] of this sandbox, with its status. */
    suspend fun process(execId: String): Process = Process(ffi { inner.process(execId) })

    /** The sandbox's processes, newest first. */
    suspend fun processes(): List<Process> = ffi { inner.processes() }.map(::Process)

    /** Runs `command` with its arguments: `exec("sh", "-c", "echo hi")`. See [exec]. */
    suspend fun exec(vararg command: String): ExecResponse = exec(command.toList())

    /**
     * The log lines: the workload's output and every exec's, oldest first.
     *
     * @param since only lines after this time (RFC 3339, or a duration such as `10m` on the
     *   local server).
     * @param limit at most this many lines.
     */
    suspend fun logs(since: String? = null, limit: Long? = null): List<LogLine> =
        ffi { inner.logs(since, limit) }

    /**
     * Terminates the sandbox; its record and logs stay readable. Terminating a terminated
     * sandbox does nothing.
     *
     * @param source who asked (recorded as the termination reason); `null` means this SDK.
     */
    suspend fun terminate(source: SandboxesSource? = null): Unit = ffi { inner.terminate(source) }

    /**
     * Waits until the sandbox is running and returns that status (also cached). The status is
     * polled after 50 ms, then twice as long after each poll, at most once a second.
     *
     * @param timeout how long to wait; `null` or [Duration.INFINITE] waits without limit.
     * @throws SandboxTerminalException when the sandbox reaches a terminal phase first; its
     *   message carries the phase, the termination reason, the exit code and the last log lines.
     * @throws SandboxTimeoutException when [timeout] elapses first.
     */
    suspend fun waitUntilRunning(timeout: Duration? = null): StatusResponse =
        ffi { inner.waitUntilRunning(timeout.toMillis()) }

    /**
     * Waits until the sandbox has ended and returns the workload's exit code: its own, else 0
     * for `SUCCEEDED`, 137 for `TERMINATED` (as a process killed by SIGKILL) and 1 for `FAILED`.
     * Polls as [waitUntilRunning] does.
     *
     * @param timeout how long to wait; `null` or [Duration.INFINITE] waits without limit.
     * @throws SandboxTimeoutException when [timeout] elapses first.
     */
    suspend fun wait(timeout: Duration? = null): Int = ffi { inner.wait(timeout.toMillis()) }

    /** One status read: the exit code once the sandbox has ended (as [wait]), `null` while it lives. */
    suspend fun poll(): Int? = ffi { inner.poll() }

    /**
     * Runs [block] with this sandbox and terminates the sandbox when the block ends — normally,
     * by an exception or by cancellation (the terminate then runs in [NonCancellable]) — and
     * returns what the block returns:
     *
     * ```kotlin
     * porter.sandboxes.create(spec).use { sandbox ->
     *     sandbox.waitUntilRunning(60.seconds)
     *     sandbox.exec("echo", "hi")
     * }
     * ```
     *
     * The block's own exception is rethrown, with a failed terminate attached as suppressed; a
     * failed terminate after a successful block is thrown.
     */
    suspend inline fun <R> use(block: (Sandbox) -> R): R {
        var failure: Throwable? = null
        try {
            return block(this)
        } catch (e: Throwable) {
            failure = e
            throw e
        } finally {
            endScope(failure)
        }
    }

    /** The terminate at the end of [use]; `cause` is the block's exception, if it threw. */
    @PublishedApi
    internal suspend fun endScope(cause: Throwable?) {
        try {
            withContext(NonCancellable) { terminate() }
        } catch (e: Throwable) {
            if (cause == null) throw e
            cause.addSuppressed(e)
        }
    }

    override fun equals(other: Any?): Boolean = other is Sandbox && other.id == id

    override fun hashCode(): Int = id.hashCode()

    override fun toString(): String = "Sandbox($id, ${phase?.name?.lowercase() ?: "unknown"})"
}

/** A wait limit for the native layer: milliseconds, `null` for no limit. */
private fun Duration?.toMillis(): Long? =
    if (this == null || isInfinite()) null else inWholeMilliseconds
