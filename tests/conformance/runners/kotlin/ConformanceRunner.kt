package run.porter.sandbox.conformance

// The conformance runner for Kotlin: interprets the scenario files with the Kotlin package and
// writes one JSON line per step to CONFORMANCE_OUT. Compiled with the package's tests by
// scripts/kotlin.sh (kotlin/pom.xml adds this directory as a test source root) and run by
// tests/conformance/run.sh with `java -cp …`. Operations and canonical results: ../../README.md.

import java.io.File
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.util.Base64
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import run.porter.sandbox.ApiException
import run.porter.sandbox.AuthenticationException
import run.porter.sandbox.ConfigException
import run.porter.sandbox.DecodeException
import run.porter.sandbox.ExecResponse
import run.porter.sandbox.InvalidArgumentException
import run.porter.sandbox.NetworkException
import run.porter.sandbox.NotFoundException
import run.porter.sandbox.Porter
import run.porter.sandbox.RateLimitException
import run.porter.sandbox.Sandbox
import run.porter.sandbox.SandboxException
import run.porter.sandbox.SandboxSpec
import run.porter.sandbox.SandboxTerminalException
import run.porter.sandbox.SandboxTimeoutException
import run.porter.sandbox.SandboxesPhase
import run.porter.sandbox.ServerException
import run.porter.sandbox.Snapshot
import run.porter.sandbox.SnapshotStatus
import run.porter.sandbox.StatusResponse
import run.porter.sandbox.UnsupportedException
import run.porter.sandbox.Volume
import run.porter.sandbox.VolumeSpec

private val WAIT = 60.seconds
private val VAR = Regex("""\$\{([a-z0-9_]+)(?:\.([a-z0-9_]+))?\}""")

/** The core's error kind of an exception: the class says it (an exhaustive `when`). */
fun kindOf(e: SandboxException): String = when (e) {
    is AuthenticationException -> "authentication"
    is NotFoundException -> "not_found"
    is RateLimitException -> "rate_limit"
    is ServerException -> "server"
    is ApiException -> "api"
    is SandboxTimeoutException -> "timeout"
    is NetworkException -> "network"
    is ConfigException -> "config"
    is DecodeException -> "decode"
    is InvalidArgumentException -> "invalid_argument"
    is UnsupportedException -> "unsupported"
    is SandboxTerminalException -> "sandbox_terminal"
}

/** The wire value of an enum entry; `UNKNOWN` (a value from a newer server) cannot say which. */
fun wire(e: Enum<*>?): String? = when {
    e == null -> null
    e.name == "UNKNOWN" -> "?unknown"
    else -> e.name.lowercase()
}

/** An error body as the other languages hold it: JSON bodies arrive as JSON text, others as text. */
fun body(text: String?): Any? = text?.let { runCatching { parseJson(it) }.getOrDefault(it) }

fun status(s: StatusResponse): Map<String, Any?> = mapOf(
    "id" to s.id, "name" to s.name, "image" to s.image, "phase" to wire(s.phase), "tags" to s.tags,
    "exit_code" to s.exitCode, "termination_reason" to wire(s.terminationReason),
)

fun snapshot(s: Snapshot): Map<String, Any?> =
    mapOf("id" to s.id, "sandbox_id" to s.sandboxId, "mode" to wire(s.mode), "status" to wire(s.status))

fun execResult(r: ExecResponse): Map<String, Any?> =
    mapOf("exit_code" to r.exitCode, "stdout" to r.stdout, "stderr" to r.stderr, "timed_out" to r.timedOut)

@Suppress("UNCHECKED_CAST")
fun substitute(v: Any?, vars: Map<String, Any?>): Any? = when (v) {
    is String -> VAR.replace(v) { m ->
        val found = vars[m.groupValues[1]]
        val field = m.groupValues[2]
        (if (field.isEmpty()) found else (found as Map<String, Any?>)[field]).toString()
    }
    is List<*> -> v.map { substitute(it, vars) }
    is Map<*, *> -> v.entries.associate { (k, x) -> k.toString() to substitute(x, vars) }
    else -> v
}

@Suppress("UNCHECKED_CAST")
class Runner(private val out: File) {
    val run = "kt" + (1..8).map { "0123456789abcdef".random() }.joinToString("")
    private val env = System.getenv()
    private val http = HttpClient.newHttpClient()

    fun emit(record: Map<String, Any?>) = out.appendText(toJson(record) + "\n")

    private fun client(name: String, scenario: Map<String, Any?>): Porter {
        val config = scenario["client"] as Map<String, Any?>? ?: emptyMap()
        val local = scenario["server"] == "local"
        val base = if (local) env.getValue("CONFORMANCE_LOCAL_URL") else "${env.getValue("CONFORMANCE_FAULT_URL")}/$name.$run"
        val key = config["api_key"] as String? ?: if (local) env.getValue("CONFORMANCE_LOCAL_KEY") else null
        return Porter(baseUrl = base, apiKey = key, timeoutMs = config["timeout_ms"] as Long?)
    }

    fun scenario(name: String, scenario: Map<String, Any?>) = runBlocking {
        val vars = mutableMapOf<String, Any?>("run" to run)
        val handles = mutableMapOf<String, Any>()
        val porter = client(name, scenario)
        try {
            for ((index, step) in (scenario["steps"] as List<Map<String, Any?>>).withIndex()) {
                val op = step["op"] as String
                val args = substitute(step["args"] ?: emptyMap<String, Any?>(), vars) as Map<String, Any?>
                val record = mapOf("type" to "step", "scenario" to name, "index" to index, "op" to op)
                val started = System.nanoTime()
                fun elapsed() = (System.nanoTime() - started) / 1_000_000
                val (result, handle) = try {
                    operation(porter, name, op, args, handles)
                } catch (e: SandboxException) {
                    val error = mapOf("kind" to kindOf(e), "status" to e.status, "message" to e.message, "body" to body(e.body))
                    emit(record + mapOf("ok" to false, "error" to error, "elapsed_ms" to elapsed()))
                    if ("expect_error" in step) continue else break
                }
                emit(record + mapOf("ok" to true, "result" to result, "elapsed_ms" to elapsed()))
                (step["save"] as String?)?.let { save ->
                    vars[save] = result
                    if (handle != null) handles[save] = handle
                }
            }
        } finally {
            for (handle in handles.values) {
                try {
                    if (handle is Sandbox) handle.terminate() else (handle as Volume).delete()
                } catch (_: SandboxException) {
                    // Clean-up only: a failure here is not the scenario's.
                }
            }
            porter.close()
        }
    }

    private suspend fun operation(
        porter: Porter, name: String, op: String, a: Map<String, Any?>, h: Map<String, Any>,
    ): Pair<Any?, Any?> {
        fun sandbox() = h.getValue(a["sandbox"] as String) as Sandbox
        fun volume() = h.getValue(a["volume"] as String) as Volume
        fun strings(key: String) = (a[key] as List<String>?)
        val none = emptyMap<String, Any?>()
        return when (op) {
            "create_sandbox" -> {
                val spec = SandboxSpec(
                    image = a["image"] as String, name = a["name"] as String?,
                    command = strings("command"), tags = a["tags"] as Map<String, String>?,
                    snapshotId = a["snapshot_id"] as String?,
                )
                val sb = porter.sandboxes.create(spec)
                mapOf("id" to sb.id) to sb
            }
            "wait_until_running" -> status(sandbox().waitUntilRunning(WAIT)) to null
            "wait" -> mapOf("exit_code" to sandbox().wait(WAIT)) to null
            "refresh" -> status(sandbox().refresh()) to null
            "get_sandbox" -> status(porter.sandboxes.get(a["name"] as String).status!!) to null
            "get_sandbox_by_id" -> status(porter.sandboxes.getById(a["id"] as String).status!!) to null
            "exec" -> {
                val timeout = (a["timeout_ms"] as Long?)?.milliseconds
                val env = a["env"] as Map<String, String>?
                val result = if (timeout == null && a["workdir"] == null && env == null && a["stdin"] == null) {
                    sandbox().exec(strings("command")!!)
                } else {
                    sandbox().exec(strings("command")!!, timeout, a["workdir"] as String?, env, a["stdin"] as String?)
                }
                execResult(result) to null
            }
            "exec_by_id" -> execResult(porter.sandboxes.handle(a["id"] as String).exec(strings("command")!!)) to null
            "start_process" -> sandbox().start(strings("command")!!).let { mapOf("started" to true) to null }
            "logs" -> sandbox().logs(limit = a["limit"] as Long?).let { lines ->
                mapOf(
                    "lines" to lines.map { it.line }, "levels" to lines.map { wire(it.level) },
                    "from_exec" to lines.map { it.execId.isNotEmpty() },
                ) to null
            }
            "list_sandboxes" -> {
                val phases = strings("phase")?.map { SandboxesPhase.valueOf(it.uppercase()) }
                val found = porter.sandboxes.list(tags = a["tags"] as Map<String, String>?, phase = phases)
                mapOf("ids" to found.map { it.id }) to null
            }
            "terminate" -> sandbox().terminate().let { none to null }
            "create_volume" -> {
                val vol = porter.volumes.create(VolumeSpec(name = a["name"] as String?))
                mapOf("id" to vol.id, "name" to vol.name) to vol
            }
            "get_volume" -> porter.volumes.get(a["name"] as String).let { mapOf("id" to it.id, "name" to it.name) to null }
            "delete_volume" -> porter.volumes.delete(a["name"] as String).let { none to null }
            "write_file" -> {
                volume().writeFile(a["path"] as String, Base64.getDecoder().decode(a["base64"] as String))
                none to null
            }
            "read_file" -> {
                val data = volume().readFile(a["path"] as String, a["offset"] as Long?, a["length"] as Long?)
                mapOf("base64" to Base64.getEncoder().encodeToString(data), "size" to data.size) to null
            }
            "stream" -> {
                val chunks = volume().stream(a["path"] as String, a["chunk_size"] as Long).toList()
                mapOf("chunks" to chunks.map { Base64.getEncoder().encodeToString(it) }) to null
            }
            "move_file" -> volume().moveFile(a["from"] as String, a["to"] as String).let { none to null }
            "listdir" -> mapOf(
                "entries" to volume().listdir(a["path"] as String).map { f ->
                    val entry = mutableMapOf<String, Any?>("name" to f.name, "path" to f.path, "type" to wire(f.kind))
                    if (f.isFile()) entry["size"] = f.sizeBytes
                    entry
                },
            ) to null
            "create_snapshot" -> snapshot(porter.snapshots.create(sandbox().id)) to null
            "wait_snapshot" -> {
                val deadline = System.nanoTime() + WAIT.inWholeNanoseconds
                var found = porter.snapshots.get(a["id"] as String)
                while (found.status == SnapshotStatus.PENDING && System.nanoTime() < deadline) {
                    delay(100)
                    found = porter.snapshots.get(a["id"] as String)
                }
                snapshot(found) to null
            }
            "get_snapshot" -> snapshot(porter.snapshots.get(a["id"] as String)) to null
            "delete_snapshot" -> porter.snapshots.delete(a["id"] as String).let { none to null }
            "close_client" -> porter.close().let { none to null }
            "healthz" -> mapOf("status" to porter.healthz().status) to null
            "fault_log" -> {
                val uri = URI("${env.getValue("CONFORMANCE_FAULT_URL")}/__log/$name.$run")
                val response = http.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString())
                parseJson(response.body()) to null
            }
            else -> error("operation $op is not implemented by this runner")
        }
    }
}

fun main() {
    val env = System.getenv()
    val out = File(env.getValue("CONFORMANCE_OUT")).apply { writeText("") }
    val runner = Runner(out)
    val skip = env["CONFORMANCE_SKIP"].orEmpty().split(",").filter { it.isNotEmpty() }.toSet()
    runner.emit(mapOf("type" to "start", "run" to runner.run))
    val files = File(env.getValue("CONFORMANCE_SCENARIOS")).listFiles { f -> f.name.endsWith(".json") }!!.sortedBy { it.name }
    for (file in files) {
        val name = file.name.removeSuffix(".json")
        if (name in skip) continue
        try {
            @Suppress("UNCHECKED_CAST")
            runner.scenario(name, parseJson(file.readText()) as Map<String, Any?>)
        } catch (e: Exception) {
            runner.emit(mapOf("type" to "crash", "scenario" to name, "detail" to e.stackTraceToString()))
        }
    }
    check("fixtures" in skip) { "Kotlin has no JSON codec for its records: fixtures must be listed in not_applicable.json" }
    runner.emit(mapOf("type" to "end"))
}
