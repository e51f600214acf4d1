package run.porter.sandbox

import java.io.File
import java.nio.file.Files
import java.util.concurrent.TimeUnit
import kotlinx.coroutines.delay

/**
 * One `porter-sandbox serve` for the whole test run: a free loopback port, a temporary data
 * directory, an API key the clients must send, and `--ephemeral` so its sandboxes end with it.
 * The binary is the system property `porter.server.bin` (set by the pom), else
 * `$PORTER_SANDBOX_BIN`.
 */
object TestServer {
    const val API_KEY = "kotlin-test-key"

    private val dataDir: File = Files.createTempDirectory("porter-sandbox-kotlin-test-").toFile()
    private val stderr: File = File(dataDir, "server.stderr")
    private val process: java.lang.Process
    val baseUrl: String

    init {
        val binary = System.getProperty("porter.server.bin") ?: System.getenv("PORTER_SANDBOX_BIN")
        require(binary != null && File(binary).canExecute()) {
            "the test server binary $binary is missing: build it with `cargo build -p porter-sandbox-cli` " +
                "(or set -Dporter.cargo.target / PORTER_SANDBOX_BIN)"
        }
        val state = File(dataDir, "state").apply { mkdirs() }
        val readyFile = File(dataDir, "ready.json")
        process = ProcessBuilder(
            binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", state.path,
            // Registry images in tests run on the `host` image when no registry is reachable.
            "--ephemeral", "--offline-images", "host", "--ready-file", readyFile.path,
        ).redirectError(stderr).redirectOutput(ProcessBuilder.Redirect.DISCARD).also {
            it.environment().putIfAbsent("RUST_LOG", "warn")
            // The key goes through the environment: arguments are visible in `ps`.
            it.environment()["PORTER_SANDBOX_SERVER_API_KEYS"] = API_KEY
            it.environment()["PORTER_SANDBOX_DISCOVERY_FILE"] = "none"
        }.start()
        Runtime.getRuntime().addShutdownHook(Thread(::stop))
        baseUrl = try {
            awaitReady(process, readyFile)
        } catch (e: IllegalStateException) {
            stop()
            throw IllegalStateException("${e.message}: ${stderr.readText().takeLast(4000)}", e)
        }
    }

    /** How long the server may take to write its ready file: generous, for a loaded machine. */
    private const val READY_TIMEOUT_MS = 60_000L

    /**
     * Waits until [server] (started with `--ready-file [readyFile]`) has written its ready file,
     * and returns the `url` in it.
     */
    private fun awaitReady(server: java.lang.Process, readyFile: File): String {
        val deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(READY_TIMEOUT_MS)
        while (true) {
            // The server writes it atomically (temporary file + rename): complete once it exists.
            // Its own fixed format (serde, pretty-printed): a URL and a number need no JSON library.
            if (readyFile.exists()) {
                val text = readyFile.readText()
                val pid = Regex("\"pid\"\\s*:\\s*(\\d+)").find(text)?.groupValues?.get(1)?.toLong()
                val url = Regex("\"url\"\\s*:\\s*\"([^\"]+)\"").find(text)?.groupValues?.get(1)
                check(pid != null && url != null) { "unexpected ready file: $text" }
                if (pid == server.pid()) return url
            }
            check(server.isAlive) { "the server exited (${server.exitValue()}) before it was ready" }
            check(System.nanoTime() < deadline) { "the server wrote no ready file in $READY_TIMEOUT_MS ms" }
            Thread.sleep(20)
        }
    }

    /** A client of the test server (close it with `use`). */
    fun client(timeoutMs: Long? = null, maxRetries: Int? = null): Porter =
        Porter(baseUrl = baseUrl, apiKey = API_KEY, timeoutMs = timeoutMs, maxRetries = maxRetries)

    private fun stop() {
        if (process.isAlive) {
            process.destroy()
            if (!process.waitFor(20, TimeUnit.SECONDS)) process.destroyForcibly().waitFor()
        }
        if (System.getenv("KEEP_TEST_DATA") == null) dataDir.deleteRecursively()
    }
}

/** A name no other test (or earlier run) uses. */
fun unique(prefix: String): String =
    "$prefix-${System.nanoTime().toString(36)}-${(0..9999).random()}"

/**
 * Refreshes until the sandbox left `QUEUED`/`CREATING` (60 s at most: generous, for a loaded
 * machine), and returns the phase.
 */
suspend fun Sandbox.awaitStarted(): StatusResponsePhase {
    repeat(600) {
        val phase = refresh().phase
        if (phase != StatusResponsePhase.QUEUED && phase != StatusResponsePhase.CREATING) return phase
        delay(100)
    }
    error("sandbox $id did not start within 60 s")
}

/** A running sandbox that sleeps, for exec tests. */
suspend fun Porter.runningSandbox(spec: SandboxSpec = SandboxSpec(image = "host", command = listOf("sleep", "300"))): Sandbox {
    val sandbox = sandboxes.create(spec)
    check(sandbox.awaitStarted() == StatusResponsePhase.RUNNING) { "sandbox ${sandbox.id} is not running" }
    return sandbox
}
