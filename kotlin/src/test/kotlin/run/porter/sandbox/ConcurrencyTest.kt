package run.porter.sandbox

import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.TimeoutCancellationException
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance

/** Many coroutines at once on one client, and cancellation that reaches the server. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ConcurrencyTest {
    private val porter = TestServer.client()
    private lateinit var sandbox: Sandbox

    @BeforeAll
    fun start(): Unit = runBlocking {
        sandbox = porter.runningSandbox()
    }

    @AfterAll
    fun stop(): Unit = runBlocking {
        sandbox.terminate()
        porter.close()
    }

    private fun millisSince(start: Long) = (System.nanoTime() - start) / 1_000_000

    @Test
    fun `100 concurrent coroutines - execs, status reads and failures`(): Unit = runBlocking(Dispatchers.Default) {
        val oneByOne = System.nanoTime()
        repeat(10) { assertEquals("$it\n", sandbox.exec("echo", "$it").stdout) }
        val sequentialMs = millisSince(oneByOne) / 10.0

        val started = System.nanoTime()
        val outs = (0 until 100).map { i -> async { sandbox.exec("echo", "$i") } }.awaitAll()
        val execMs = millisSince(started)
        assertEquals((0 until 100).map { "$it\n" }, outs.map { it.stdout })
        assertTrue(outs.all { it.exitCode == 0L })

        val readStarted = System.nanoTime()
        val results = (0 until 100).map { i ->
            async {
                runCatching {
                    if (i % 2 == 0) porter.sandboxes.getById(sandbox.id).id else porter.sandboxes.getById("sb-missing-$i").id
                }
            }
        }.awaitAll()
        val readMs = millisSince(readStarted)
        assertEquals(50, results.count { it.getOrNull() == sandbox.id })
        assertTrue(results.filter { it.isFailure }.all { it.exceptionOrNull() is NotFoundException })
        println(
            "exec round trip: $sequentialMs ms; 100 concurrent execs: $execMs ms; " +
                "100 concurrent status reads (half 404): $readMs ms",
        )
    }

    @Test
    fun `100 concurrent coroutines writing and reading files`(): Unit = runBlocking(Dispatchers.Default) {
        val volume = porter.volumes.create()
        coroutineScope {
            (0 until 100).map { i -> launch { volume.writeText("/c/$i.txt", "$i") } }
        }
        val texts = (0 until 100).map { i -> async { volume.readText("/c/$i.txt") } }.awaitAll()
        assertEquals((0 until 100).map { "$it" }, texts)
        assertEquals(100, volume.listdir("/c").size)
        volume.delete()
    }

    /** Whether a process whose command line holds [marker] runs in the sandbox. */
    private suspend fun running(marker: String): Boolean = sandbox.exec("pgrep", "-f", marker).exitCode == 0L

    /** Polls [condition] until it holds; fails with [what] after 60 s (generous, for a loaded machine). */
    private suspend fun awaitCondition(what: String, condition: suspend () -> Boolean) {
        val deadline = System.nanoTime() + 60_000_000_000L
        while (!condition()) {
            assertTrue(System.nanoTime() < deadline, what)
            delay(50)
        }
    }

    @Test
    fun `cancelling the coroutine cancels the request and the command`(): Unit = runBlocking {
        val marker = "porter-kotlin-cancel-${unique("m")}"
        val job = launch { sandbox.exec("sh", "-c", "sleep 30; echo $marker") }
        // Cancelled once the command runs, however long it takes to start.
        awaitCondition("the command never started") { running(marker) }
        val cancelStarted = System.nanoTime()
        job.cancelAndJoin()
        val cancelMs = millisSince(cancelStarted)
        // Prompt, not after the command's 30 s (generous, for a loaded machine).
        assertTrue(cancelMs < 5_000, "cancellation took $cancelMs ms")
        assertTrue(job.isCancelled)
        // Had the request survived, the command would still run: it is killed.
        awaitCondition("the cancelled command was not killed") { !running(marker) }
        // The client is still usable.
        assertEquals("after\n", sandbox.exec("echo", "after").stdout)
        println("cancelling a running exec: $cancelMs ms")
    }

    @Test
    fun `withTimeout bounds an exec and kills it too`(): Unit = runBlocking {
        val marker = "porter-kotlin-timeout-${unique("m")}"
        val started = System.nanoTime()
        assertFailsWith<TimeoutCancellationException> {
            withTimeout(400) { sandbox.exec("sh", "-c", "sleep 30; echo $marker") }
        }
        // At the timeout, not after the command's 30 s (generous, for a loaded machine).
        assertTrue(millisSince(started) < 5_000, "withTimeout took ${millisSince(started)} ms")
        awaitCondition("the timed-out command was not killed") { !running(marker) }
        // And a quick one inside the same bound completes normally.
        assertEquals("ok\n", withTimeout(10_000) { sandbox.exec("echo", "ok") }.stdout)
    }
}
