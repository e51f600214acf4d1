// The Kotlin example of README.md, compiled with the quickstart so that it stays correct
// (scripts/kotlin.sh builds this project; only Main.kt is run).
package run.porter.examples.quickstart

import kotlin.time.Duration.Companion.seconds
import kotlinx.coroutines.flow.collect
import kotlinx.coroutines.runBlocking
import run.porter.sandbox.*

/** The README's tour of the API. */
fun readmeTour(): Unit = runBlocking {
    val run = java.util.UUID.randomUUID().toString().take(8)   // sandbox names are never reusable
    val bigFile = java.nio.file.Path.of("big.bin")
    java.nio.file.Files.write(bigFile, ByteArray(1 shl 20) { it.toByte() })   // the file uploaded below
    Porter().use { porter ->   // PORTER_SANDBOX_BASE_URL / PORTER_SANDBOX_API_KEY, else the local server
        // Terminated when the block ends, also on an exception or a cancellation.
        porter.sandboxes.create(
            SandboxSpec(image = "host", name = "demo-$run", command = listOf("sleep", "300"), tags = mapOf("workflow" to "demo")),
        ).use { sandbox ->
            sandbox.waitUntilRunning(120.seconds)
            val result = sandbox.exec("python3", "-c", "print(1 + 1)")   // a non-zero exitCode is a value
            println("${result.exitCode} ${result.stdout}")
            sandbox.logs(limit = 20).forEach { println("${it.timestamp} ${it.line}") }
            println(porter.sandboxes.list(tags = mapOf("workflow" to "demo")).map { it.id })
            val build = sandbox.start(listOf("sh", "-c", "echo building; sleep 1; echo done"), timeout = 600.seconds)
            build.output().collect { print(String(it.data)) }   // live, from any offset
            println(build.wait().exitCode)
        }
        val job = porter.sandboxes.getOrCreate(
            "nightly-$run", SandboxSpec(image = "host", command = listOf("sh", "-c", "exit 0"), leaseSeconds = 30),
        )   // ends if this program dies
        println(job.wait(600.seconds))   // the exit code; poll() → the code or null

        val volume = porter.volumes.create("notes-$run")
        try {
            volume.writeText("notes/hello.txt", "hi")
            volume.writeFile("big.bin", bigFile)   // streamed from disk
            volume.iterdir("/").collect { println("${it.path} ${it.sizeBytes}") }
            volume.stream("big.bin").collect { print("${it.size} ") }
            try {
                porter.sandboxes.get("missing")
            } catch (e: NotFoundException) {
                println("${e.status} ${e.message}")
            }
        } finally {
            volume.delete()
        }
    }
}
