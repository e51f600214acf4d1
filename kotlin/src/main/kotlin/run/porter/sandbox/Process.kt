package run.porter.sandbox

import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.flow
import kotlinx.coroutines.withContext
import run.porter.sandbox.ffi.NativeProcess
import kotlin.time.Duration
import kotlin.time.DurationUnit

/**
 * A process in a sandbox (an extension of the local server): started by [Sandbox.start], found
 * again by [Sandbox.process] from any client, even after a server restart. Its output is kept on
 * the server and can be read from any byte offset.
 */
class Process internal constructor(private val inner: NativeProcess) {
    /** Its id (`exec_id`). */
    val id: String = inner.id()

    /** The id of the sandbox it runs in. */
    val sandboxId: String = inner.sandboxId()

    /** The last status read (by [status], [wait], or the end of an [output] flow). */
    val lastStatus: ProcessStatus? get() = inner.lastStatus()

    /** Reads its status now. */
    suspend fun status(): ProcessStatus = ffi { inner.status() }

    /** Its exit code once it has ended, `null` while it runs. */
    suspend fun poll(): Long? = ffi { inner.poll() }

    /**
     * Waits until it has ended and returns its final status; with [timeout], throws
     * [SandboxTimeoutException] when it is still running then (it keeps running).
     */
    suspend fun wait(timeout: Duration? = null): ProcessStatus =
        ffi { inner.wait(timeout?.toDouble(DurationUnit.SECONDS)) }

    /**
     * Its output from byte [offset] as a cold [Flow]: what was written so far, then live output
     * until it ends. A broken connection is resumed from the next byte; cancelling the collector
     * closes the stream.
     */
    fun output(offset: Long = 0): Flow<OutputChunk> = flow {
        require(offset >= 0) { "offset must be >= 0, not $offset" }
        inner.output(offset.toULong(), true).use { stream ->
            try {
                while (true) {
                    emit(ffi { stream.next() } ?: break)
                }
            } finally {
                withContext(NonCancellable) { stream.cancel() }
            }
        }
    }

    /** Writes [data] to its standard input (the process was started with `stdin = true`). */
    suspend fun writeStdin(data: ByteArray): Unit = ffi { inner.writeStdin(data) }

    /** Writes [text], UTF-8 encoded, to its standard input. */
    suspend fun writeStdin(text: String): Unit = writeStdin(text.toByteArray(Charsets.UTF_8))

    /** Closes its standard input: it reads end-of-file. */
    suspend fun closeStdin(): Unit = ffi { inner.closeStdin() }

    /** Sends [signal] (`SIGKILL`, `TERM`, `15`…) to its whole process tree. */
    suspend fun kill(signal: String = "SIGKILL"): Unit = ffi { inner.kill(signal) }

    /** Resizes its terminal (a process started with a pty). */
    suspend fun resize(cols: Int, rows: Int): Unit = ffi {
        require(cols in 1..1000 && rows in 1..1000) { "cols and rows are 1 to 1000" }
        inner.resize(cols.toUShort(), rows.toUShort())
    }

    override fun equals(other: Any?): Boolean = other is Process && other.id == id

    override fun hashCode(): Int = id.hashCode()

    override fun toString(): String = "Process($id in $sandboxId)"
}
