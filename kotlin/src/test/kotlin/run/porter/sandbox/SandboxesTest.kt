package run.porter.sandbox

import kotlin.test.assertContains
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance

/** Sandboxes against a real `porter-sandbox serve`: lifecycle, exec, logs, listing, lookup. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SandboxesTest {
    private val porter = TestServer.client()
    private val run = unique("kt")
    private lateinit var sandbox: Sandbox

    @BeforeAll
    fun start(): Unit = runBlocking {
        sandbox = porter.runningSandbox(
            SandboxSpec(
                image = "host",
                name = "erg-$run",
                tags = mapOf("suite" to "kotlin", "run" to run),
                env = mapOf("GREETING" to "hello"),
                command = listOf("sleep", "300"),
            ),
        )
    }

    @AfterAll
    fun stop(): Unit = runBlocking {
        sandbox.terminate()
        porter.close()
    }

    @Test
    fun `create returns a handle without a status, refresh fills it`(): Unit = runBlocking {
        val fresh = porter.sandboxes.create(SandboxSpec(image = "host", command = listOf("true")))
        assertTrue(fresh.id.startsWith("sb-"), fresh.id)
        assertNull(fresh.phase)
        assertNull(fresh.tags)
        assertNull(fresh.status)
        val status = fresh.refresh()
        assertEquals(fresh.id, status.id)
        assertEquals(status.phase, fresh.phase)
        assertEquals("host", status.image)

        assertEquals(StatusResponsePhase.RUNNING, sandbox.phase)
        assertEquals(listOf("suite", "run"), sandbox.tags?.keys?.toList(), "tag order is kept")
        assertEquals("erg-$run", sandbox.status?.name)
        assertEquals("Sandbox(${sandbox.id}, running)", sandbox.toString())
        assertEquals(sandbox, porter.sandboxes.handle(sandbox.id))
    }

    @Test
    fun `a workload that ends reaches a terminal phase with its exit code`(): Unit = runBlocking {
        val done = porter.sandboxes.create(
            SandboxSpec(image = "host", command = listOf("sh", "-c", "exit 7")),
        )
        var status = done.refresh()
        repeat(100) {
            if (status.phase.isTerminal()) return@repeat
            kotlinx.coroutines.delay(100)
            status = done.refresh()
        }
        assertTrue(status.phase.isTerminal(), "phase ${status.phase}")
        assertEquals(StatusResponsePhase.FAILED, status.phase)
        assertEquals(7L, status.exitCode)
        assertEquals(StatusResponseTerminationReason.WORKLOAD_EXITED, status.terminationReason)
    }

    @Test
    fun `get by name and by id carry the status`(): Unit = runBlocking {
        val byName = porter.sandboxes.get("erg-$run")
        assertEquals(sandbox.id, byName.id)
        assertEquals(StatusResponsePhase.RUNNING, byName.phase)
        assertEquals(mapOf("suite" to "kotlin", "run" to run), byName.tags)
        assertEquals(sandbox.id, porter.sandboxes.getById(sandbox.id).status?.id)
        val missing = assertFailsWith<NotFoundException> { porter.sandboxes.get("nope-$run") }
        assertEquals(404, missing.status)
    }

    @Test
    fun `list filters by tags, phase, search, image and page`(): Unit = runBlocking {
        val ids = { list: List<Sandbox> -> list.map { it.id } }
        assertEquals(listOf(sandbox.id), ids(porter.sandboxes.list(tags = mapOf("run" to run, "suite" to "kotlin"))))
        assertEquals(listOf(sandbox.id), ids(porter.sandboxes.list(tags = mapOf("run" to run), page = 1)))
        assertEquals(emptyList(), porter.sandboxes.list(tags = mapOf("run" to run), page = 2))
        assertEquals(emptyList(), porter.sandboxes.list(tags = mapOf("run" to run, "suite" to "other")))
        assertContains(ids(porter.sandboxes.list(phase = listOf(SandboxesPhase.RUNNING))), sandbox.id)
        assertTrue(sandbox.id !in ids(porter.sandboxes.list(tags = mapOf("run" to run), phase = listOf(SandboxesPhase.TERMINATED))))
        assertEquals(listOf(sandbox.id), ids(porter.sandboxes.list(search = "erg-$run", image = "host")))
        assertEquals(emptyList(), porter.sandboxes.list(search = "erg-$run", image = "other-image"))
        val windowed = porter.sandboxes.list(startTime = "2000-01-01T00:00:00Z", endTime = "2999-01-01T00:00:00Z")
        assertContains(ids(windowed), sandbox.id)
        val all = porter.sandboxes.listAll(tags = mapOf("run" to run))
        assertEquals(listOf(sandbox.id), ids(all))
        assertTrue(porter.sandboxes.list().all { it.phase != null }, "listed handles carry their status")
    }

    @Test
    fun `exec returns stdout, stderr and a non-zero exit code as a value`(): Unit = runBlocking {
        val out = sandbox.exec("sh", "-c", "echo \"\$GREETING\"; echo oops >&2; exit 3")
        assertEquals("hello\n", out.stdout)
        assertEquals("oops\n", out.stderr)
        assertEquals(3L, out.exitCode)
        assertTrue(out.execId!!.startsWith("ex-"), out.execId)
        assertEquals("hi\n", sandbox.exec(listOf("python3", "-c", "print('hi')")).stdout)
        assertEquals(127L, sandbox.exec("sh", "-c", "no-such-command-here").exitCode)
        val empty = assertFailsWith<ApiException> { sandbox.exec(emptyList()) }
        assertEquals(400, empty.status)
        assertContains(empty.message, "command is empty")
    }

    @Test
    fun `exec options - a deadline the server enforces, workdir, env and stdin`(): Unit = runBlocking {
        val started = System.nanoTime()
        val late = sandbox.exec(listOf("sh", "-c", "echo begun; sleep 1000 & sleep 1000"), 500.milliseconds)
        assertTrue(System.nanoTime() - started < 10_000_000_000L, "the deadline ended the call")
        assertEquals("begun\n", late.stdout)
        assertEquals(124L, late.exitCode)
        assertTrue(late.timedOut)
        val out = sandbox.exec(
            listOf("sh", "-c", "pwd; echo \"\$GREETING \$EXTRA\"; cat"),
            timeout = 30.seconds,
            workdir = "/tmp",
            env = mapOf("EXTRA" to "more"),
            stdin = "fed in\n",
        )
        assertEquals("/tmp\nhello more\nfed in\n", out.stdout)
        assertEquals(0L, out.exitCode)
        assertFalse(out.timedOut)
        assertFalse(sandbox.exec("true").timedOut)
    }

    @Test
    fun `logs with limit and since`(): Unit = runBlocking {
        val exec = sandbox.exec("sh", "-c", "for i in 1 2 3 4 5; do echo line\$i; done; echo bad >&2")
        val logs = sandbox.logs()
        val mine = logs.filter { it.execId == exec.execId }
        assertEquals(listOf("line1", "line2", "line3", "line4", "line5", "bad"), mine.map { it.line })
        assertEquals(LogLineLevel.INFO, mine.first().level)
        assertEquals(LogLineLevel.ERROR, mine.last().level)
        assertEquals(2, sandbox.logs(limit = 2).size)
        assertEquals(emptyList(), sandbox.logs(since = "2999-01-01T00:00:00Z"))
        assertTrue(sandbox.logs(since = "10m", limit = 100).isNotEmpty())
    }

    @Test
    fun `terminate, with and without a source, is idempotent and ends exec`(): Unit = runBlocking {
        val a = porter.runningSandbox()
        val b = porter.runningSandbox()
        a.terminate()
        b.terminate(SandboxesSource.CLI)
        val sa = a.refresh()
        assertEquals(StatusResponsePhase.TERMINATED, sa.phase)
        assertTrue(sa.phase.isTerminal())
        assertEquals(StatusResponseTerminationReason.SDK, sa.terminationReason)
        assertNotNull(sa.finishedAt)
        assertEquals(StatusResponseTerminationReason.CLI, b.refresh().terminationReason)
        a.terminate()
        val refused = assertFailsWith<ApiException> { a.exec("true") }
        assertEquals(409, refused.status)
        assertContains(refused.message, "terminated")
        assertContains(refused.body!!, "\"error\"")
    }
}
