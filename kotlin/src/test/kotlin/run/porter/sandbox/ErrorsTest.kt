package run.porter.sandbox

import java.io.Closeable
import java.net.InetAddress
import java.net.ServerSocket
import java.net.Socket
import kotlin.test.assertContains
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Test

/**
 * Every kind of failure becomes its own [SandboxException] subclass, with the status, message
 * and body. The real server provides the API errors; a loopback socket that answers with a
 * canned response (or not at all) provides what a healthy local server never does (5xx, 429,
 * malformed JSON, silence).
 */
class ErrorsTest {
    /** The kind name of an exception; the `when` is exhaustive because the hierarchy is sealed. */
    private fun kind(e: SandboxException): String = when (e) {
        is AuthenticationException -> "authentication"
        is NotFoundException -> "not_found"
        is RateLimitException -> "rate_limit"
        is ServerException -> "server"
        is ApiException -> "api"
        is SandboxTimeoutException -> "timeout"
        is NetworkException -> "network"
        is ConfigException -> "config"
        is DecodeException -> "decode"
        is InvalidArgumentException -> "invalid_argument"
        is SandboxTerminalException -> "sandbox_terminal"
        is UnsupportedException -> "unsupported"
    }

    @Test
    fun `API errors carry status, message and body`(): Unit = runBlocking {
        TestServer.client().use { porter ->
            val missing = assertFailsWith<NotFoundException> { porter.sandboxes.getById("sb-doesnotexist") }
            assertEquals("not_found", kind(missing))
            assertEquals(404, missing.status)
            assertContains(missing.message, "sb-doesnotexist")
            assertEquals("{\"error\":\"${missing.message}\"}", missing.body)
            assertEquals("NotFoundException(HTTP 404: ${missing.message})", missing.toString())

            val name = unique("dup")
            val first = porter.sandboxes.create(SandboxSpec(image = "host", name = name, command = listOf("sleep", "60")))
            val conflict = assertFailsWith<ApiException> {
                porter.sandboxes.create(SandboxSpec(image = "host", name = name, command = listOf("sleep", "60")))
            }
            assertEquals(409, conflict.status)
            assertContains(conflict.message, name)
            assertContains(conflict.body!!, "\"error\"")
            first.terminate()

            assertFailsWith<NotFoundException> { porter.snapshots.get("snap-missing") }
            assertFailsWith<NotFoundException> { porter.volumes.delete(unique("no-volume")) }
        }
    }

    @Test
    fun `a wrong API key is an AuthenticationException`(): Unit = runBlocking {
        Porter(baseUrl = TestServer.baseUrl, apiKey = "wrong-key").use { porter ->
            val denied = assertFailsWith<AuthenticationException> { porter.sandboxes.list() }
            assertEquals(401, denied.status)
            assertTrue(denied.message.isNotEmpty())
        }
        Porter(baseUrl = TestServer.baseUrl).use { porter ->
            assertEquals(401, assertFailsWith<AuthenticationException> { porter.volumes.list() }.status)
        }
    }

    @Test
    fun `configuration problems say what to set, in Kotlin's names`() {
        // The pom blanks PORTER_SANDBOX_BASE_URL and friends for the tests: nothing to resolve.
        val none = assertFailsWith<ConfigException> { Porter() }
        assertEquals("config", kind(none))
        assertContains(none.message, "PORTER_SANDBOX_BASE_URL")
        assertContains(none.message, "`baseUrl`")
        assertContains(none.message, "porter-sandbox serve")
        assertNull(none.status)
        val negative = assertFailsWith<InvalidArgumentException> { Porter(baseUrl = "http://127.0.0.1:1", timeoutMs = -5) }
        assertContains(negative.message, "timeoutMs")
        assertFailsWith<InvalidArgumentException> { Porter(baseUrl = "http://127.0.0.1:1", maxRetries = -1) }
        Porter(baseUrl = "http://127.0.0.1:9/", timeoutMs = 1500).use {
            assertEquals("http://127.0.0.1:9", it.baseUrl, "trailing slashes are removed")
            assertEquals(1500L, it.timeoutMs)
        }
        Porter(baseUrl = "http://127.0.0.1:9").use { assertEquals(30_000L, it.timeoutMs) }
    }

    @Test
    fun `a closed client refuses calls with a clear message`(): Unit = runBlocking {
        val porter = TestServer.client()
        val sandboxes = porter.sandboxes
        assertEquals("ok", porter.healthz().status)
        porter.close()
        porter.close()
        assertTrue(porter.isClosed)
        val closed = assertFailsWith<InvalidArgumentException> { sandboxes.list() }
        assertContains(closed.message, "closed")
        assertFailsWith<InvalidArgumentException> { porter.healthz() }
    }

    @Test
    fun `sending an UNKNOWN enum value is refused before any request`(): Unit = runBlocking {
        TestServer.client().use { porter ->
            val refused = assertFailsWith<InvalidArgumentException> {
                porter.snapshots.create("sb-any", SnapshotMode.UNKNOWN)
            }
            assertContains(refused.message, "SnapshotMode.UNKNOWN")
        }
    }

    @Test
    fun `nothing listening is a NetworkException`(): Unit = runBlocking {
        val port = ServerSocket(0, 1, InetAddress.getLoopbackAddress()).use { it.localPort }
        Porter(baseUrl = "http://127.0.0.1:$port", maxRetries = 0).use { porter ->
            val e = assertFailsWith<NetworkException> { porter.healthz() }
            assertNull(e.status)
            assertTrue(e.message.isNotEmpty())
        }
    }

    @Test
    fun `a silent server is a SandboxTimeoutException after timeoutMs`(): Unit = runBlocking {
        CannedServer(null).use { server ->
            Porter(baseUrl = server.url, timeoutMs = 300, maxRetries = 0).use { porter ->
                val started = System.nanoTime()
                val e = assertFailsWith<SandboxTimeoutException> { porter.readyz() }
                val elapsedMs = (System.nanoTime() - started) / 1_000_000
                assertTrue(elapsedMs in 250..5_000, "timed out after $elapsedMs ms")
                assertEquals("timeout", kind(e))
            }
        }
    }

    @Test
    fun `5xx, 429 and malformed answers map to their classes`(): Unit = runBlocking {
        val json = "Content-Type: application/json"
        CannedServer("HTTP/1.1 503 Service Unavailable\r\n$json\r\n", "{\"error\":\"overloaded\"}").use { server ->
            Porter(baseUrl = server.url, maxRetries = 0).use { porter ->
                val e = assertFailsWith<ServerException> { porter.healthz() }
                assertEquals(503, e.status)
                assertEquals("overloaded", e.message)
                assertEquals("{\"error\":\"overloaded\"}", e.body)
            }
        }
        CannedServer("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0\r\n", "slow down").use { server ->
            Porter(baseUrl = server.url, maxRetries = 0).use { porter ->
                val e = assertFailsWith<RateLimitException> { porter.healthz() }
                assertEquals(429, e.status)
                assertEquals("HTTP 429", e.message)
                assertEquals("slow down", e.body)
            }
        }
        CannedServer("HTTP/1.1 200 OK\r\n$json\r\n", "{\"status\": 5}").use { server ->
            Porter(baseUrl = server.url).use { porter ->
                assertEquals("decode", kind(assertFailsWith<DecodeException> { porter.healthz() }))
            }
        }
    }
}

/**
 * A loopback HTTP responder: every connection gets [head] (status line and headers, each ending
 * in CRLF) and [body], or — when [head] is `null` — no answer at all until it is closed.
 */
private class CannedServer(private val head: String?, private val body: String = "") : Closeable {
    private val socket = ServerSocket(0, 50, InetAddress.getLoopbackAddress())
    private val open = mutableListOf<Socket>()
    val url = "http://127.0.0.1:${socket.localPort}"

    init {
        Thread {
            while (!socket.isClosed) {
                val client = runCatching { socket.accept() }.getOrNull() ?: break
                synchronized(open) { open += client }
                if (head != null) Thread { answer(client) }.apply { isDaemon = true }.start()
            }
        }.apply { isDaemon = true }.start()
    }

    private fun answer(client: Socket) = runCatching {
        client.use {
            val reader = it.getInputStream().bufferedReader()
            // The request head; these requests have no body.
            while (reader.readLine()?.isNotEmpty() == true) continue
            val bytes = body.toByteArray()
            val response = "${head}Content-Length: ${bytes.size}\r\nConnection: close\r\n\r\n"
            it.getOutputStream().apply { write(response.toByteArray() + bytes); flush() }
        }
    }

    override fun close() {
        socket.close()
        synchronized(open) { open.forEach { runCatching { it.close() } } }
    }
}
