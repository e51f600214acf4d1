package run.porter.sandbox

import com.sun.net.httpserver.HttpServer
import java.net.InetSocketAddress
import kotlin.random.Random
import kotlin.test.assertContains
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds
import kotlinx.coroutines.async
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.flow.collect
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.fold
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance

/** Processes against a real `porter-sandbox serve`: streaming, replay, stdin, terminal, deadline. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ProcessesTest {
    private val porter = TestServer.client()
    private lateinit var sandbox: Sandbox

    @BeforeAll
    fun start(): Unit = runBlocking { sandbox = porter.runningSandbox() }

    @AfterAll
    fun stop(): Unit = runBlocking {
        sandbox.terminate()
        porter.close()
    }

    private suspend fun Process.text(offset: Long = 0): String =
        output(offset).fold(StringBuilder()) { acc, c -> acc.append(String(c.data)) }.toString()

    @Test
    fun `output streams live, replays from any offset, and ends with the status`(): Unit = runBlocking {
        val proc = sandbox.start(listOf("sh", "-c", "echo first; sleep 0.5; seq 1 1000; echo oops >&2; exit 3"))
        val started = System.nanoTime()
        val first = proc.output().first()
        assertTrue((System.nanoTime() - started) / 1_000_000 < 450, "the first chunk comes before the sleep ends")
        assertEquals(OutputStreamName.STDOUT, first.stream)
        assertEquals(0L, first.offset.toLong())
        val stderr = StringBuilder()
        val stdout = StringBuilder()
        proc.output().collect { c ->
            (if (c.stream == OutputStreamName.STDERR) stderr else stdout).append(String(c.data))
        }
        assertEquals("oops\n", stderr.toString())
        assertEquals("first\n" + (1..1000).joinToString("") { "$it\n" }, stdout.toString())
        assertEquals(3L, proc.wait().exitCode)
        assertEquals(ProcessState.EXITED, proc.lastStatus?.state)
        assertEquals(3L, proc.poll())
        val again = TestServer.client().use { other -> other.sandboxes.handle(sandbox.id).process(proc.id).text(6) }
        assertEquals(stdout.substring(6) + "oops\n", again)
        assertTrue(sandbox.processes().any { it.id == proc.id })
        assertFailsWith<NotFoundException> { sandbox.process("ex-nosuchprocess") }
    }

    @Test
    fun `binary stdin round trips`(): Unit = runBlocking {
        val data = Random(7).nextBytes(2 * 1024 * 1024)
        val proc = sandbox.start(listOf("cat"), stdin = true)
        coroutineScope {
            val out = async {
                proc.output().fold(java.io.ByteArrayOutputStream()) { acc, c -> acc.apply { write(c.data) } }
            }
            proc.writeStdin(data)
            proc.closeStdin()
            assertContentEquals(data, out.await().toByteArray())
        }
        assertEquals(0L, proc.wait(30.seconds).exitCode)
    }

    @Test
    fun `a terminal is a tty and sees its resize`(): Unit = runBlocking {
        val proc = sandbox.start(listOf("sh"), stdin = true, pty = true, cols = 80, rows = 24)
        proc.writeStdin("tty; stty size; exit 5\n")
        val text = proc.text()
        assertContains(text, "/dev/pts/")
        assertContains(text, "24 80")
        assertEquals(5L, proc.wait().exitCode)
        val resized = sandbox.start(listOf("sh"), stdin = true, pty = true)
        resized.resize(120, 40)
        resized.writeStdin("stty size; exit\n")
        assertContains(resized.text(), "40 120")
    }

    @Test
    fun `a deadline kills the tree, wait times out, kill ends it`(): Unit = runBlocking {
        val proc = sandbox.start(listOf("sh", "-c", "echo up; sleep 1000 & sleep 1000"), timeout = 1.seconds)
        val status = proc.wait(20.seconds)
        assertEquals(ProcessState.TIMED_OUT, status.state)
        assertEquals(124L, status.exitCode)
        assertTrue(status.timedOut)
        assertEquals("up\n", proc.text())
        val sleeper = sandbox.start(listOf("sleep", "1000"))
        assertNull(sleeper.poll())
        assertFailsWith<SandboxTimeoutException> { sleeper.wait(200.milliseconds) }
        sleeper.kill("SIGTERM")
        val killed = sleeper.wait(20.seconds)
        assertEquals(ProcessState.KILLED, killed.state)
        assertEquals(143L, killed.exitCode)
    }

    @Test
    fun `a server without processes fails at once with UnsupportedException`(): Unit = runBlocking {
        val server = HttpServer.create(InetSocketAddress("127.0.0.1", 0), 0)
        server.createContext("/") { exchange ->
            val body = """{"detail":"Not Found"}""".toByteArray()
            exchange.responseHeaders.add("content-type", "application/json")
            exchange.sendResponseHeaders(404, body.size.toLong())
            exchange.responseBody.use { it.write(body) }
        }
        server.start()
        try {
            Porter(baseUrl = "http://127.0.0.1:${server.address.port}", apiKey = "k").use { plain ->
                val started = System.nanoTime()
                assertFailsWith<UnsupportedException> {
                    plain.sandboxes.handle("sb-1").start(listOf("true"))
                }
                assertTrue((System.nanoTime() - started) / 1_000_000 < 2000, "no retries")
            }
        } finally {
            server.stop(0)
        }
    }
}
