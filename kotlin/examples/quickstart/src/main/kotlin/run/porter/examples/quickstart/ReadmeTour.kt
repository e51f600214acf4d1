// The Kotlin example of README.md, compiled with the quickstart so that it stays correct
// (scripts/kotlin.sh builds this project; only Main.kt is run).
package run.porter.examples.quickstart

import kotlinx.coroutines.runBlocking
import run.porter.sandbox.*

/** The README's tour of the API. */
fun readmeTour(): Unit = runBlocking {
    val run = java.util.UUID.randomUUID().toString().take(8)   // sandbox names are never reusable
    val bigFile = java.nio.file.Path.of("big.bin")
    java.nio.file.Files.write(bigFile, ByteArray(1 shl 20) { it.toByte() })   // the file uploaded below
    Porter().use { porter ->   // PORTER_SANDBOX_BASE_URL / PORTER_SANDBOX_API_KEY, else the local server
        val sandbox = porter.sandboxes.create(
            SandboxSpec(image = "host", name = "demo-$run", command = listOf("sleep", "300"), tags = mapOf("workflow" to "demo")),
        )
        val volume = porter.volumes.create("notes-$run")
        try {
            while (sandbox.refresh().phase != StatusResponsePhase.RUNNING) kotlinx.coroutines.delay(200)
            val result = sandbox.exec("python3", "-c", "print(1 + 1)")   // a non-zero exitCode is a value
            println("${result.exitCode} ${result.stdout}")
            sandbox.logs(limit = 20).forEach { println("${it.timestamp} ${it.line}") }
            println(porter.sandboxes.list(tags = mapOf("workflow" to "demo")).map { it.id })

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
            sandbox.terminate()
            volume.delete()
        }
    }
}
