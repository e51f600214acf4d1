package run.porter.sandbox

import java.io.Closeable
import java.net.InetAddress
import java.net.ServerSocket
import java.net.Socket
import kotlin.test.assertContains
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNotEquals
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds
import kotlin.time.TimeSource
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance

/**
 * Sandboxes that cannot leak, against a real `porter-sandbox serve`: the scoped `use`, waiting
 * until running or until the end, get-or-create, leases, and the idempotency key of creates.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LifecycleTest {
    private val porter = TestServer.client()
    private val idle = SandboxSpec(image = "host", command = listOf("sleep", "300"))

    @AfterAll
    fun stop() {
        porter.close()
    }

    private suspend fun phaseOf(id: String): StatusResponsePhase = porter.sandboxes.getById(id).phase!!

    @Test
    fun `use terminates the sandbox when the block ends, throws or is cancelled`(): Unit = runBlocking {
        var id = ""
        val value = porter.sandboxes.create(idle).use { sandbox ->
            id = sandbox.id
            assertEquals(StatusResponsePhase.RUNNING, sandbox.waitUntilRunning(60.seconds).phase)
            "the block's value"
        }
        assertEquals("the block's value", value)
        assertEquals(StatusResponsePhase.TERMINATED, phaseOf(id))

        var failingId = ""
        val thrown = assertFailsWith<IllegalStateException> {
            porter.sandboxes.create(idle).use { sandbox ->
                failingId = sandbox.id
                sandbox.waitUntilRunning(60.seconds)
                error("the caller failed")
            }
        }
        assertEquals("the caller failed", thrown.message, "the block's own exception is rethrown")
        assertEquals(0, thrown.suppressed.size, "the terminate succeeded")
        assertEquals(StatusResponsePhase.TERMINATED, phaseOf(failingId))

        val inside = CompletableDeferred<String>()
        val job = launch {
            porter.sandboxes.create(idle).use { sandbox ->
                sandbox.waitUntilRunning(60.seconds)
                inside.complete(sandbox.id)
                awaitCancellation()
            }
        }
        val cancelledId = inside.await()
        assertEquals(StatusResponsePhase.RUNNING, phaseOf(cancelledId))
        job.cancelAndJoin()
        assertEquals(StatusResponsePhase.TERMINATED, phaseOf(cancelledId), "terminated although cancelled")
    }

    @Test
    fun `a failed terminate is suppressed under the block's exception and thrown otherwise`(): Unit = runBlocking {
        val closed = TestServer.client()
        val sandbox = closed.sandboxes.create(idle)
        closed.close() // every call of this client, the terminate included, now fails
        val thrown = assertFailsWith<IllegalArgumentException> {
            sandbox.use { throw IllegalArgumentException("first") }
        }
        assertEquals("first", thrown.message)
        assertTrue(thrown.suppressed.single() is InvalidArgumentException, thrown.suppressed.toList().toString())
        assertFailsWith<InvalidArgumentException> { sandbox.use { } }
        porter.sandboxes.handle(sandbox.id).terminate()
    }

    @Test
    fun `waitUntilRunning returns the running status and caches it`(): Unit = runBlocking {
        porter.sandboxes.create(idle).use { sandbox ->
            assertNull(sandbox.phase)
            val status = sandbox.waitUntilRunning(60.seconds)
            assertEquals(StatusResponsePhase.RUNNING, status.phase)
            assertEquals(sandbox.id, status.id)
            assertEquals(StatusResponsePhase.RUNNING, sandbox.phase)
            // Without a limit too, and at once for a sandbox that already runs.
            assertEquals(StatusResponsePhase.RUNNING, sandbox.waitUntilRunning().phase)
            assertFailsWith<InvalidArgumentException> { sandbox.waitUntilRunning((-1).seconds) }
        }
    }

    @Test
    fun `waitUntilRunning on a sandbox that cannot start is a SandboxTerminalException`(): Unit = runBlocking {
        porter.sandboxes.create(SandboxSpec(image = "oci-layout:/no/such/layout")).use { broken ->
            val e = assertFailsWith<SandboxTerminalException> { broken.waitUntilRunning(60.seconds) }
            assertEquals(StatusResponsePhase.FAILED, e.phase)
            assertEquals(StatusResponseTerminationReason.LAUNCH_FAILED, e.sandboxStatus?.terminationReason)
            assertContains(e.message, "ended failed")
            assertContains(e.message, "launch_failed")
            assertContains(e.message, "launch failed:", message = "the last log lines are in the message")
            assertContains(e.body!!, "\"phase\":\"failed\"")
        }
    }

    @Test
    fun `waitUntilRunning on a sandbox that exited carries its exit code and last log lines`(): Unit = runBlocking {
        val spec = SandboxSpec(image = "host", command = listOf("sh", "-c", "echo bye-from-kotlin; exit 3"))
        porter.sandboxes.create(spec).use { exited ->
            assertEquals(3, exited.wait(60.seconds))
            val e = assertFailsWith<SandboxTerminalException> { exited.waitUntilRunning(60.seconds) }
            assertEquals(StatusResponsePhase.FAILED, e.phase)
            assertEquals(3L, e.sandboxStatus?.exitCode)
            assertEquals(StatusResponseTerminationReason.WORKLOAD_EXITED, e.sandboxStatus?.terminationReason)
            assertContains(e.message, "exit code 3")
            assertContains(e.message, "workload_exited")
            assertContains(e.message, "bye-from-kotlin")
        }
    }

    @Test
    fun `wait returns the exit code, poll is null while the sandbox lives`(): Unit = runBlocking {
        porter.sandboxes.create(SandboxSpec(image = "host", command = listOf("sh", "-c", "exit 7"))).use {
            assertEquals(7, it.wait(60.seconds))
            assertEquals(7, it.poll())
        }
        porter.sandboxes.create(SandboxSpec(image = "host", command = listOf("true"))).use {
            assertEquals(0, it.wait())
        }

        // The workload ends when the test says so: poll sees it alive first, then its code.
        val flag = "/tmp/${unique("porter-kt-go")}"
        val gated = listOf("sh", "-c", "until [ -e $flag ]; do sleep 0.05; done; rm -f $flag; exit 5")
        porter.sandboxes.create(SandboxSpec(image = "host", command = gated)).use { sandbox ->
            sandbox.waitUntilRunning(60.seconds)
            assertNull(sandbox.poll())
            val timeout = assertFailsWith<SandboxTimeoutException> { sandbox.wait(200.milliseconds) }
            assertContains(timeout.message, "still running")
            assertEquals(0L, sandbox.exec("touch", flag).exitCode)
            assertEquals(5, sandbox.wait(60.seconds))
            assertEquals(5, sandbox.poll())
        }

        porter.sandboxes.create(idle).use { sandbox ->
            sandbox.waitUntilRunning(60.seconds)
            assertNull(sandbox.poll())
            sandbox.terminate()
            assertEquals(137, sandbox.wait(60.seconds), "terminated without an exit code of its own")
        }
    }

    @Test
    fun `getOrCreate from concurrent coroutines gives one sandbox`(): Unit = runBlocking(Dispatchers.Default) {
        val name = unique("kt-goc")
        val found = (0 until 4).map { async { porter.sandboxes.getOrCreate(name, idle) } }.awaitAll()
        val ids = found.map { it.id }.toSet()
        assertEquals(1, ids.size, "ids $ids")
        val again = porter.sandboxes.getOrCreate(name, idle)
        assertEquals(ids.single(), again.id)
        assertNotNull(again.phase, "an existing sandbox comes with its status")
        assertEquals(name, porter.sandboxes.getById(again.id).status?.name)
        again.terminate()
    }

    @Test
    fun `a leased sandbox lives while its client does and expires after it closes`(): Unit = runBlocking {
        val lease = 2
        val owner = TestServer.client()
        val sandbox = owner.sandboxes.create(idle.copy(leaseSeconds = lease.toLong()))
        try {
            val clock = TimeSource.Monotonic
            val renewed = clock.markNow()
            while (renewed.elapsedNow() < (3 * lease).seconds) {
                assertFalse(phaseOf(sandbox.id).isTerminal(), "the sandbox ended while its lease was renewed")
                delay(250)
            }
            owner.close() // stops the renewals
            val closed = clock.markNow()
            var status = porter.sandboxes.getById(sandbox.id).status!!
            while (!status.phase.isTerminal()) {
                // Generous: the lease runs out `lease` s after the last renewal, then the reaper acts.
                assertTrue(closed.elapsedNow() < (lease + 30).seconds, "the lease was not enforced")
                delay(100)
                status = porter.sandboxes.getById(sandbox.id).status!!
            }
            assertEquals(StatusResponsePhase.TERMINATED, status.phase)
            assertEquals(StatusResponseTerminationReason.LEASE_EXPIRED, status.terminationReason)
        } finally {
            owner.close()
            porter.sandboxes.handle(sandbox.id).terminate()
        }
    }

    @Test
    fun `a create and its retries share one Idempotency-Key, a new create gets a new one`(): Unit = runBlocking {
        RecordingServer().use { server ->
            Porter(baseUrl = server.url, maxRetries = 2).use { client ->
                assertFailsWith<ServerException> { client.sandboxes.create(idle) }
                assertFailsWith<ServerException> { client.sandboxes.create(idle) }
            }
            val keys = server.idempotencyKeys()
            assertEquals(6, keys.size, "two creates of three attempts each: $keys")
            assertTrue(keys.all { !it.isNullOrEmpty() }, "every attempt carries a key: $keys")
            assertEquals(1, keys.take(3).toSet().size, "the retries of one create reuse its key: $keys")
            assertEquals(1, keys.drop(3).toSet().size, "the retries of one create reuse its key: $keys")
            assertNotEquals(keys[0], keys[3], "each create has its own key")
        }
    }
}

/**
 * A loopback HTTP responder that answers every request with a retryable 503 and records the
 * `Idempotency-Key` header of each one.
 */
private class RecordingServer : Closeable {
    private val socket = ServerSocket(0, 50, InetAddress.getLoopbackAddress())
    private val keys = mutableListOf<String?>()
    val url = "http://127.0.0.1:${socket.localPort}"

    init {
        Thread {
            while (!socket.isClosed) {
                val client = runCatching { socket.accept() }.getOrNull() ?: break
                Thread { answer(client) }.apply { isDaemon = true }.start()
            }
        }.apply { isDaemon = true }.start()
    }

    fun idempotencyKeys(): List<String?> = synchronized(keys) { keys.toList() }

    private fun answer(client: Socket) = runCatching {
        client.use {
            val input = it.getInputStream()
            val head = generateSequence { readLine(input) }.takeWhile { line -> line.isNotEmpty() }.toList()
            val headers = head.drop(1).associate { line ->
                line.substringBefore(':').trim().lowercase() to line.substringAfter(':').trim()
            }
            // Read the body so that closing the socket does not reset the connection.
            input.readNBytes(headers["content-length"]?.toIntOrNull() ?: 0)
            synchronized(keys) { keys += headers["idempotency-key"] }
            val body = "{\"error\":\"try again\"}".toByteArray()
            val response = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n" +
                "Retry-After: 0\r\nContent-Length: ${body.size}\r\nConnection: close\r\n\r\n"
            it.getOutputStream().apply { write(response.toByteArray() + body); flush() }
        }
    }

    /** One CRLF-terminated line of the request head, without buffering past it. */
    private fun readLine(input: java.io.InputStream): String? {
        val line = StringBuilder()
        while (true) {
            val byte = input.read()
            if (byte == -1) return if (line.isEmpty()) null else line.toString()
            if (byte == '\n'.code) return line.toString().trimEnd('\r')
            line.append(byte.toChar())
        }
    }

    override fun close() {
        socket.close()
    }
}
