// The Kotlin quickstart: a scoped sandbox (terminated when its block ends), a command run in it,
// its logs, and a workload's exit code.
//
// The client finds the server through PORTER_SANDBOX_BASE_URL (or PORTER_CLUSTER_ID +
// PORTER_SANDBOX_API_KEY, or the in-cluster address). For a local server:
//   porter-sandbox serve --listen 127.0.0.1:8080 --data-dir /tmp/porter --ephemeral
//   PORTER_SANDBOX_BASE_URL=http://127.0.0.1:8080 java -cp ... run.porter.examples.quickstart.MainKt
package run.porter.examples.quickstart

import kotlin.system.exitProcess
import kotlin.time.Duration.Companion.seconds
import kotlinx.coroutines.runBlocking
import run.porter.sandbox.Porter
import run.porter.sandbox.SandboxException
import run.porter.sandbox.SandboxSpec
import run.porter.sandbox.StatusResponsePhase

fun main(): Unit = runBlocking {
    try {
        Porter().use { porter ->
            println("server ${porter.baseUrl}: ${porter.healthz().status}")
            val spec = SandboxSpec(
                image = "host",
                tags = mapOf("example" to "kotlin-quickstart"),
                command = listOf("sleep", "300"),
            )
            // `use` terminates the sandbox when the block ends, also on an exception.
            val (sandbox, result) = porter.sandboxes.create(spec).use { sandbox ->
                val running = sandbox.waitUntilRunning(60.seconds)
                println("created $sandbox (${running.phase})")

                val result = sandbox.exec("sh", "-c", "echo hello from the sandbox; exit 3")
                println("exit ${result.exitCode}, stdout ${result.stdout.trim()}")

                for (line in sandbox.logs(limit = 20)) {
                    println("log ${line.timestamp} [${line.level}] ${line.line}")
                }
                sandbox to result
            }
            val status = sandbox.refresh()
            println("${status.phase} (${status.terminationReason})")
            check(result.exitCode == 3L && result.stdout == "hello from the sandbox\n") { "unexpected exec result $result" }
            check(status.phase == StatusResponsePhase.TERMINATED) { "sandbox is ${status.phase}" }

            // A workload that ends by itself: wait() returns its exit code.
            val code = porter.sandboxes.create(spec.copy(command = listOf("sh", "-c", "exit 4"))).use { job ->
                job.wait(60.seconds)
            }
            println("the job exited with $code")
            check(code == 4) { "unexpected exit code $code" }
        }
    } catch (e: SandboxException) {
        System.err.println("quickstart failed: $e")
        exitProcess(1)
    }
}
