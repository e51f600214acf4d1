package run.porter.sandbox

import java.nio.file.Path
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.flow
import run.porter.sandbox.ffi.NativeVolume
import run.porter.sandbox.ffi.NativeVolumes

/** The volume namespace of a [Porter]. */
class Volumes internal constructor(private val inner: NativeVolumes) {
    /** Creates a volume; the default spec makes an unnamed disk volume. */
    suspend fun create(spec: VolumeSpec = VolumeSpec()): Volume = Volume(ffi { inner.create(spec) })

    /** Creates a disk volume named [name]. */
    suspend fun create(name: String): Volume = create(VolumeSpec(name = name))

    /** Every volume. */
    suspend fun list(): List<Volume> = ffi { inner.list() }.map(::Volume)

    /** The volume named [name]. */
    suspend fun get(name: String): Volume = Volume(ffi { inner.get(name) })

    /** The volume with id [id]. */
    suspend fun getById(id: String): Volume = Volume(ffi { inner.getById(id) })

    /** Deletes the volume named [name] (refused with HTTP 409 while it is attached). */
    suspend fun delete(name: String): Unit = ffi { inner.delete(name) }
}

/**
 * A volume, with its cached record and, for disk volumes, its files. Every path is normalized
 * the same way (`a/b/` means `/a/b`). The file methods of an object volume, whose files live in
 * its bucket, fail with [InvalidArgumentException].
 *
 * Two handles are equal when they name the same volume.
 */
class Volume internal constructor(private val inner: NativeVolume) {
    /** The volume id. */
    val id: String = inner.id()

    /** The volume name. */
    val name: String get() = inner.name()

    /** The kind of volume. */
    val type: VolumeType get() = inner.volumeType()

    /** The lifecycle phase. */
    val phase: VolumePhase get() = inner.phase()

    /** Ids of the sandboxes the volume is attached to. */
    val attachedTo: List<String> get() = inner.attachedTo()

    /** Creation time, RFC 3339. */
    val createdAt: String get() = inner.createdAt()

    /** The data subdirectory under the shared volumes mount; `""` for object volumes. */
    val path: String get() = inner.path()

    /** The cached record. */
    val record: VolumeRecord get() = inner.record()

    /** Whether this is an object (bucket) volume. */
    val isObject: Boolean get() = inner.isObject()

    /** The bucket description of an object volume; `null` for a disk volume. */
    val objectSpec: VolumeObjectSpec? get() = ffi { inner.objectSpec() }

    /** Reads the record again and caches it. */
    suspend fun refresh(): VolumeRecord = ffi { inner.refresh() }

    /** Deletes the volume (refused with HTTP 409 while it is attached to a sandbox). */
    suspend fun delete(): Unit = ffi { inner.delete() }

    /** The direct entries of the directory [path]: directories first, then files, by name. */
    suspend fun listdir(path: String = "/"): List<VolumeFile> = ffi { inner.listdir(path) }

    /**
     * Every entry below [path], depth-first pre-order, as a cold [Flow]: directories are listed
     * as the collector reaches them, and stopping early stops the walk.
     */
    fun iterdir(path: String = "/"): Flow<VolumeFile> = flow {
        ffi { inner.iterdir(path) }.use { walk ->
            while (true) {
                emit(ffi { walk.next() } ?: break)
            }
        }
    }

    /** Entries under [path] whose name contains [query], case-insensitively. */
    suspend fun search(query: String, path: String = "/"): List<VolumeFile> =
        ffi { inner.search(query, path) }

    /**
     * Reads the file at [path], or [length] bytes from [offset] (to the end when [length] is
     * `null`). No timeout applies.
     */
    suspend fun readFile(path: String, offset: Long? = null, length: Long? = null): ByteArray =
        ffi { inner.readFile(path, offset, length) }

    /** Reads the file at [path] (or a range of it, see [readFile]) as UTF-8 text. */
    suspend fun readText(path: String, offset: Long? = null, length: Long? = null): String =
        ffi { inner.readText(path, offset, length) }

    /** Replaces the file at [path] with [data], atomically, creating its parents. */
    suspend fun writeFile(path: String, data: ByteArray): Unit = ffi { inner.writeFile(path, data) }

    /**
     * Replaces the file at [path] with the content of the local file [source], streamed from
     * disk, never loaded into memory. No timeout applies.
     */
    suspend fun writeFile(path: String, source: Path): Unit =
        ffi { inner.uploadFile(path, source.toString()) }

    /** Writes [text] as UTF-8 to the file at [path]. */
    suspend fun writeText(path: String, text: String): Unit = ffi { inner.writeText(path, text) }

    /** Moves or renames [from] to [to] (the full new path; its parent must exist); never overwrites. */
    suspend fun moveFile(from: String, to: String): Unit = ffi { inner.moveFile(from, to) }

    /**
     * The file at [path] in ranged chunks of [chunkSize] bytes (8 MiB when `null`), one request
     * per chunk as the collector asks, so memory stays bounded whatever the file size.
     */
    fun stream(path: String, chunkSize: Long? = null): Flow<ByteArray> = flow {
        ffi { inner.stream(path, chunkSize) }.use { chunks ->
            while (true) {
                emit(ffi { chunks.next() } ?: break)
            }
        }
    }

    override fun equals(other: Any?): Boolean = other is Volume && other.id == id

    override fun hashCode(): Int = id.hashCode()

    override fun toString(): String = "Volume($id, $name)"
}
