package run.porter.sandbox

import java.nio.file.Files
import kotlin.random.Random
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.map
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance

/** Volumes and their files against a real `porter-sandbox serve`. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class VolumesTest {
    private val porter = TestServer.client()
    private val run = unique("kv")
    private lateinit var volume: Volume

    @BeforeAll
    fun start(): Unit = runBlocking {
        volume = porter.volumes.create("files-$run")
    }

    @AfterAll
    fun stop(): Unit = runBlocking {
        volume.delete()
        porter.close()
    }

    @Test
    fun `create, list, get, refresh, delete`(): Unit = runBlocking {
        val named = porter.volumes.create(VolumeSpec(name = "vol-$run"))
        assertTrue(named.id.startsWith("vol-"), named.id)
        assertEquals("vol-$run", named.name)
        assertEquals(VolumeType.DISK, named.type)
        assertEquals(VolumePhase.READY, named.phase)
        assertEquals(emptyList(), named.attachedTo)
        assertTrue(named.createdAt.startsWith("20"), named.createdAt)
        assertFalse(named.isObject)
        assertNull(named.objectSpec)
        assertEquals(named.id, named.record.id)
        val unnamed = porter.volumes.create()
        assertEquals(unnamed.id, unnamed.name)
        assertTrue(porter.volumes.list().any { it == named })
        assertEquals(named.id, porter.volumes.get("vol-$run").id)
        assertEquals(named.id, porter.volumes.getById(named.id).id)
        assertEquals("vol-$run", named.refresh().name)
        porter.volumes.delete("vol-$run")
        assertFailsWith<NotFoundException> { porter.volumes.get("vol-$run") }
        unnamed.delete()
        assertFailsWith<NotFoundException> { unnamed.refresh() }
    }

    @Test
    fun `an object volume spec reaches the server, which has no buckets`(): Unit = runBlocking {
        val spec = VolumeSpec(
            name = "obj-$run",
            type = VolumeSpecType.OBJECT,
            objectSpec = VolumeObjectSpec(bucket = "b", prefix = "p", access = VolumeObjectSpecAccess.READ_ONLY),
        )
        val refused = assertFailsWith<ApiException> { porter.volumes.create(spec) }
        assertEquals(400, refused.status)
        assertTrue("registered bucket" in refused.message, refused.message)
        assertFailsWith<NotFoundException> { porter.volumes.get("obj-$run") }
        val unknown = spec.copy(objectSpec = spec.objectSpec!!.copy(mode = VolumeObjectSpecMode.UNKNOWN))
        assertFailsWith<InvalidArgumentException> { porter.volumes.create(unknown) }
    }

    @Test
    fun `an attached volume is visible in the sandbox and refuses deletion`(): Unit = runBlocking {
        val attached = porter.volumes.create("att-$run")
        attached.writeText("/from-client.txt", "written by the client")
        val sandbox = porter.runningSandbox(
            SandboxSpec(image = "host", volumeMounts = mapOf("/mnt/data" to attached.id), command = listOf("sleep", "300")),
        )
        assertEquals("written by the client", sandbox.exec("cat", "/mnt/data/from-client.txt").stdout)
        assertEquals(0L, sandbox.exec("sh", "-c", "echo from the sandbox > /mnt/data/from-sandbox.txt").exitCode)
        assertEquals("from the sandbox\n", attached.readText("from-sandbox.txt"))
        attached.refresh()
        assertEquals(listOf(sandbox.id), attached.attachedTo)
        assertEquals(mapOf("/mnt/data" to attached.id), sandbox.refresh().volumeMounts)
        val refused = assertFailsWith<ApiException> { attached.delete() }
        assertEquals(409, refused.status)
        sandbox.terminate()
    }

    @Test
    fun `text and bytes with offsets and lengths`(): Unit = runBlocking {
        volume.writeText("notes/hello.txt", "hello world")
        assertEquals("hello world", volume.readText("/notes/hello.txt"))
        assertEquals("hello world", volume.readFile("notes/hello.txt/").decodeToString())
        assertEquals("world", volume.readText("/notes/hello.txt", offset = 6))
        assertEquals("hello", volume.readText("/notes/hello.txt", offset = 0, length = 5))
        assertEquals("hell", volume.readText("/notes/hello.txt", length = 4))
        assertEquals(0, volume.readFile("/notes/hello.txt", length = 0).size)
        val negative = assertFailsWith<InvalidArgumentException> { volume.readFile("/notes/hello.txt", offset = -1) }
        assertTrue("offset" in negative.message, negative.message)
        assertNull(negative.status)
        assertFailsWith<NotFoundException> { volume.readFile("/notes/missing.txt") }
        val beyond = assertFailsWith<ApiException> { volume.readFile("/notes/hello.txt", offset = 50, length = 10) }
        assertEquals(416, beyond.status)
        volume.writeText("/unicode.txt", "héllo ✓")
        assertEquals("héllo ✓", volume.readText("unicode.txt"))
        val bytes = Random(7).nextBytes(256 * 1024 + 3)
        volume.writeFile("/bytes/payload.bin", bytes)
        assertContentEquals(bytes, volume.readFile("/bytes/payload.bin"))
        assertContentEquals(bytes.copyOfRange(1000, 1010), volume.readFile("/bytes/payload.bin", offset = 1000, length = 10))
        volume.writeFile("/bytes/empty.bin", ByteArray(0))
        assertEquals(0, volume.readFile("/bytes/empty.bin").size)
    }

    @Test
    fun `uploads from a local file path`(): Unit = runBlocking {
        val local = Files.createTempFile("porter-kotlin-upload", ".bin")
        try {
            val payload = Random(11).nextBytes(3 * 1024 * 1024 + 5)
            Files.write(local, payload)
            volume.writeFile("/upload/big.bin", local)
            assertContentEquals(payload, volume.readFile("/upload/big.bin"))
            val tail = volume.readFile("/upload/big.bin", offset = payload.size - 10L)
            assertContentEquals(payload.copyOfRange(payload.size - 10, payload.size), tail)
            val missing = local.resolveSibling("porter-kotlin-no-such-file")
            assertFailsWith<SandboxException> { volume.writeFile("/upload/missing.bin", missing) }
            assertFailsWith<NotFoundException> { volume.readFile("/upload/missing.bin") }
        } finally {
            Files.deleteIfExists(local)
        }
    }

    @Test
    fun `listdir, iterdir and search`(): Unit = runBlocking {
        volume.writeText("/tree/a/one.txt", "1")
        volume.writeText("/tree/a/deep/two.txt", "22")
        volume.writeText("/tree/b.txt", "333")
        val top = volume.listdir("/tree")
        assertEquals(listOf("/tree/a", "/tree/b.txt"), top.map { it.path })
        val (dir, file) = top
        assertTrue(dir.isDirectory())
        assertFalse(dir.isFile())
        assertTrue(file.isFile())
        assertEquals(VolumeFileEntryType.FILE, file.kind)
        assertEquals(3L, file.sizeBytes)
        assertEquals("b.txt", file.name)
        assertFalse(file.truncated)
        assertTrue(file.modifiedAt!!.startsWith("20"))
        val walked = volume.iterdir("tree/").map { it.path }.toList()
        assertEquals(listOf("/tree/a", "/tree/a/deep", "/tree/a/deep/two.txt", "/tree/a/one.txt", "/tree/b.txt"), walked)
        assertTrue("/tree/a/deep/two.txt" in volume.iterdir().map { it.path }.toList())
        assertEquals("/tree/a", volume.iterdir("/tree").first().path, "stopping early is fine")
        assertEquals(listOf("/tree/a/deep/two.txt"), volume.search("TWO").map { it.path })
        assertEquals(listOf("/tree/a/one.txt"), volume.search("one", path = "/tree/a").map { it.path })
        assertEquals(emptyList(), volume.search("nothing-matches"))
        assertTrue(volume.listdir().any { it.path == "/tree" })
        assertFailsWith<NotFoundException> { volume.iterdir("/no/such/dir").toList() }
    }

    @Test
    fun `moveFile never overwrites`(): Unit = runBlocking {
        volume.writeText("/mv/from.txt", "moving")
        volume.writeText("/mv/taken.txt", "taken")
        volume.moveFile("mv/from.txt", "/mv/to.txt")
        assertEquals("moving", volume.readText("/mv/to.txt"))
        assertFailsWith<NotFoundException> { volume.readText("/mv/from.txt") }
        val refused = assertFailsWith<ApiException> { volume.moveFile("/mv/to.txt", "/mv/taken.txt") }
        assertEquals(409, refused.status)
        assertEquals("taken", volume.readText("/mv/taken.txt"))
    }

    @Test
    fun `stream yields ranged chunks`(): Unit = runBlocking {
        val payload = Random(3).nextBytes(1024 * 1024 + 17)
        volume.writeFile("/stream/data.bin", payload)
        val chunks = volume.stream("/stream/data.bin", chunkSize = 100_000).toList()
        assertEquals((payload.size + 99_999) / 100_000, chunks.size)
        assertTrue(chunks.dropLast(1).all { it.size == 100_000 })
        assertContentEquals(payload, chunks.reduce { acc, c -> acc + c })
        assertEquals(1, volume.stream("stream/data.bin").toList().size, "8 MiB default chunks")
        volume.writeFile("/stream/empty.bin", ByteArray(0))
        assertEquals(emptyList(), volume.stream("/stream/empty.bin").toList())
        val zero = assertFailsWith<InvalidArgumentException> { volume.stream("/stream/data.bin", chunkSize = 0).toList() }
        assertTrue("chunk" in zero.message, zero.message)
        assertFailsWith<NotFoundException> { volume.stream("/stream/missing.bin").toList() }
    }
}
