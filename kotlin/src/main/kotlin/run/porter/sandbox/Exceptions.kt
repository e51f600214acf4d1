package run.porter.sandbox

import run.porter.sandbox.ffi.NativeException

/**
 * An error from the Porter Sandbox API or from reaching it: one subclass per kind of failure
 * (a `when` over them is exhaustive).
 *
 * @property status the HTTP status, when the server answered (`404`, `409`, …).
 * @property body the response body when there was one: JSON text for JSON bodies (such as
 *   `{"error":"…"}`), the text otherwise.
 */
sealed class SandboxException(
    message: String,
    val status: Int?,
    val body: String?,
) : Exception(message) {
    override val message: String get() = super.message ?: ""

    override fun toString(): String =
        "${javaClass.simpleName}(${status?.let { "HTTP $it: " } ?: ""}$message)"
}

/** The server rejected the credentials (HTTP 401). */
class AuthenticationException(message: String, status: Int? = 401, body: String? = null) :
    SandboxException(message, status, body)

/** The sandbox, volume, snapshot or file does not exist (HTTP 404). */
class NotFoundException(message: String, status: Int? = 404, body: String? = null) :
    SandboxException(message, status, body)

/** Too many requests (HTTP 429), after the retries ran out. */
class RateLimitException(message: String, status: Int? = 429, body: String? = null) :
    SandboxException(message, status, body)

/** The server failed (HTTP 5xx), after the retries ran out. */
class ServerException(message: String, status: Int? = null, body: String? = null) :
    SandboxException(message, status, body)

/** Any other refusal by the server (400, 403, 409, 416, …): see [status] and [body]. */
class ApiException(message: String, status: Int? = null, body: String? = null) :
    SandboxException(message, status, body)

/**
 * The call did not finish within the client's timeout (`timeoutMs`); it is never retried.
 * Exec and file transfers have no such timeout: bound them with `withTimeout`, which cancels
 * the request.
 */
class SandboxTimeoutException(message: String, status: Int? = null, body: String? = null) :
    SandboxException(message, status, body)

/** The request could not be delivered or the answer not read (connection refused, reset…). */
class NetworkException(message: String, status: Int? = null, body: String? = null) :
    SandboxException(message, status, body)

/** The client could not be configured: the message says what to set. */
class ConfigException(message: String, status: Int? = null, body: String? = null) :
    SandboxException(message, status, body)

/** A successful answer did not have the expected shape. */
class DecodeException(message: String, status: Int? = null, body: String? = null) :
    SandboxException(message, status, body)

/** Something passed to the client is unusable (a negative offset, a closed client…). */
class InvalidArgumentException(message: String, status: Int? = null, body: String? = null) :
    SandboxException(message, status, body)

/**
 * The server does not offer this: processes are an extension of the local porter-sandbox server;
 * [Sandbox.exec] runs a command to its end on any server.
 */
class UnsupportedException(message: String, status: Int? = null, body: String? = null) :
    SandboxException(message, status, body)

/**
 * A sandbox awaited with [Sandbox.waitUntilRunning] reached a terminal phase instead. The
 * message says how it ended: the phase, the termination reason, the exit code and the last log
 * lines; [body] is its final status as JSON, and [sandboxStatus] the same status typed.
 */
class SandboxTerminalException(message: String, status: Int? = null, body: String? = null) :
    SandboxException(message, status, body) {
    /** The sandbox's final status (`null` when [body] is not one). */
    val sandboxStatus: StatusResponse? by lazy {
        body?.let { run.porter.sandbox.ffi.sandboxStatusFromJson(it) }
    }

    /** The terminal phase the sandbox reached (`FAILED`, `SUCCEEDED`, `TERMINATED`). */
    val phase: StatusResponsePhase? get() = sandboxStatus?.phase
}

/** The exception of this package for an error of the native layer. */
internal fun NativeException.toSandboxException(): SandboxException = when (this) {
    is NativeException.Authentication -> AuthenticationException(detail, status?.toInt(), body)
    is NativeException.NotFound -> NotFoundException(detail, status?.toInt(), body)
    is NativeException.RateLimit -> RateLimitException(detail, status?.toInt(), body)
    is NativeException.Server -> ServerException(detail, status?.toInt(), body)
    is NativeException.Api -> ApiException(detail, status?.toInt(), body)
    is NativeException.Timeout -> SandboxTimeoutException(detail, status?.toInt(), body)
    is NativeException.Network -> NetworkException(detail, status?.toInt(), body)
    is NativeException.Config -> ConfigException(detail, status?.toInt(), body)
    is NativeException.Decode -> DecodeException(detail, status?.toInt(), body)
    is NativeException.InvalidArgument -> InvalidArgumentException(detail, status?.toInt(), body)
    is NativeException.Unsupported -> UnsupportedException(detail, status?.toInt(), body)
    is NativeException.SandboxTerminal -> SandboxTerminalException(detail, status?.toInt(), body)
}

/** Runs a native call, rethrowing its error as this package's [SandboxException]. */
internal inline fun <T> ffi(call: () -> T): T =
    try {
        call()
    } catch (e: NativeException) {
        throw e.toSandboxException()
    }
