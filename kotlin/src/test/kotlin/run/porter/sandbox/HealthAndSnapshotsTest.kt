package run.porter.sandbox

import kotlin.test.assertContains
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Test

/** Health, readiness and snapshots against a real `porter-sandbox serve`. */
class HealthAndSnapshotsTest {
    @Test
    fun `healthz and readyz`(): Unit = runBlocking {
        TestServer.client().use { porter ->
            assertEquals(HealthResponse(status = "ok"), porter.healthz())
            val ready = porter.readyz()
            assertEquals("ok", ready.status)
            assertTrue(ready.activeSandboxes >= 0)
            assertTrue(Porter.VERSION.matches(Regex("\\d+\\.\\d+\\.\\d+.*")), Porter.VERSION)
            assertEquals("Porter(${TestServer.baseUrl})", porter.toString())
        }
    }

    @Test
    fun `snapshots - list, get, delete, and a create the local server refuses with a reason`(): Unit = runBlocking {
        TestServer.client().use { porter ->
            val sandbox = porter.runningSandbox()
            for (mode in listOf(SnapshotMode.FILESYSTEM, SnapshotMode.FULL, null)) {
                val result = runCatching { porter.snapshots.create(sandbox.id, mode) }
                result.onSuccess { assertEquals(sandbox.id, it.sandboxId) }
                result.onFailure {
                    val refused = it as ApiException
                    assertEquals(400, refused.status)
                    assertContains(refused.message, "snapshot", ignoreCase = true)
                }
            }
            val all = porter.snapshots.list()
            assertTrue(porter.snapshots.list(sandbox.id).all { it.sandboxId == sandbox.id })
            assertTrue(all.size >= porter.snapshots.list(sandbox.id).size)
            assertFailsWith<NotFoundException> { porter.snapshots.get("snap-missing") }
            assertFailsWith<NotFoundException> { porter.snapshots.delete("snap-missing") }
            sandbox.terminate()
        }
    }
}
