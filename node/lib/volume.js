'use strict';
// Volumes: the `Volumes` namespace, the `Volume` (disk) and `ObjectVolume` handles, and
// `VolumeFile`.

const { kNative, kInternal, run, internalOnly, drain } = require('./internal');
const { call, sync } = require('./errors');
const { withUpload } = require('./upload');

const kRaw = Symbol('porter-sandbox.raw');

/** A file or directory of a volume listing, with its full path. */
class VolumeFile {
  /** `init`: `{ name, path, type, sizeBytes, modifiedAt (RFC 3339 or null), truncated }`. */
  constructor(init) {
    this.name = init.name;
    this.path = init.path;
    this.type = init.type;
    this.sizeBytes = init.sizeBytes;
    this.modifiedAt = init.modifiedAt == null ? null : new Date(init.modifiedAt);
    this.truncated = Boolean(init.truncated);
  }

  /** Whether this is a directory. */
  get isDirectory() {
    return this.type === 'directory';
  }

  /** Whether this is a regular file. */
  get isFile() {
    return this.type === 'file';
  }

  toString() {
    return `VolumeFile(${this.path}, ${this.type}, ${this.sizeBytes} bytes)`;
  }
}

/** What both volume handles share: the cached record, `refresh` and `delete`. */
class VolumeHandle {
  constructor(guard, nativeVolume) {
    internalOnly(guard, new.target.name);
    Object.defineProperty(this, kNative, { value: nativeVolume });
    Object.defineProperty(this, 'id', { value: nativeVolume.id, enumerable: true });
  }

  /** The cached record (`VolumeRecord`). */
  get record() {
    return this[kNative].record;
  }

  /** The volume name. */
  get name() {
    return this.record.name;
  }

  /** The volume type. */
  get type() {
    return this.record.type;
  }

  /** The lifecycle phase. */
  get phase() {
    return this.record.phase;
  }

  /** Ids of the sandboxes the volume is attached to. */
  get attachedTo() {
    return this.record.attached_to;
  }

  /** Creation time (an invalid `Date` if the server sent none). */
  get createdAt() {
    return new Date(this.record.created_at);
  }

  /** Reads the record again, caches and returns it (the handle's class never changes). */
  refresh() {
    return run(() => this[kNative].refresh());
  }

  /** Deletes the volume (refused while it is attached to a sandbox). */
  delete() {
    return run(() => this[kNative].delete());
  }

  toString() {
    return `${this.constructor.name}(${this.id}, ${this.name})`;
  }
}

/** A disk volume, with file operations. Every path is normalized (`a/b/` → `/a/b`). */
class Volume extends VolumeHandle {
  /** The data subdirectory under the shared volumes mount. */
  get path() {
    return this.record.path;
  }

  /** The direct entries of the directory `path`: directories first, then files, by name. */
  async listdir(path = '/') {
    const entries = await run(() => this[kNative].listdir(path));
    return entries.map((entry) => new VolumeFile(entry));
  }

  /** Every entry below `path`, depth-first pre-order, lazily (an async generator). */
  async *iterdir(path = '/') {
    yield* drain(sync(() => this[kNative].iterdir(path)), (entry) => new VolumeFile(entry));
  }

  /** Entries under `options.path` (default `/`) whose name contains `query`, case-insensitively. */
  async search(query, options) {
    const entries = await run(() => this[kNative].search(query, options?.path ?? '/'));
    return entries.map((entry) => new VolumeFile(entry));
  }

  /** Reads a file, or `length` bytes from `offset`. No timeout. */
  readFile(path, options) {
    return run(() => this[kNative].readFile(path, options?.offset ?? null, options?.length ?? null));
  }

  /** Reads a file as UTF-8 text. */
  readText(path, options) {
    return run(() => this[kNative].readText(path, options?.offset ?? null, options?.length ?? null));
  }

  /**
   * Replaces the file at `path` atomically, creating its parents: `content` is a `Buffer` or any
   * `Uint8Array`, a `Blob`, the path of a local file, or a readable stream. No timeout.
   */
  async writeFile(path, content) {
    await withUpload(content, (bytes, file) => call(this[kNative].writeFile(path, bytes, file)));
  }

  /** Writes UTF-8 text. */
  writeText(path, content) {
    return run(() => this[kNative].writeText(path, content));
  }

  /** Moves or renames `from` to `to` (the full new path); never overwrites. */
  moveFile(from, to) {
    return run(() => this[kNative].moveFile(from, to));
  }

  /** Reads a file in chunks of `options.chunkSize` bytes (8 MiB), one ranged request each. */
  async *stream(path, options) {
    yield* drain(sync(() => this[kNative].stream(path, options?.chunkSize ?? null)), (chunk) => chunk);
  }
}

/** An object volume: a registered bucket (or a prefix of one); no file operations. */
class ObjectVolume extends VolumeHandle {
  /** The bucket description (`VolumeObjectSpec`); throws a `SandboxError` when missing. */
  get object() {
    return sync(() => this[kNative].object());
  }
}

function wrap(nativeVolume) {
  return nativeVolume.isObject ? new ObjectVolume(kInternal, nativeVolume) : new Volume(kInternal, nativeVolume);
}

/** The volume namespace of a `Porter`. */
class Volumes {
  constructor(guard, nativeClient, raw) {
    internalOnly(guard, 'Volumes');
    Object.defineProperty(this, kNative, { value: nativeClient });
    Object.defineProperty(this, kRaw, { value: raw });
  }

  /** Creates a volume (`{ name, type, object }`; `{}` or nothing for an unnamed disk volume). */
  async create(body) {
    return wrap(await run(() => this[kNative].createVolumeHandle(body ?? null)));
  }

  /** Every volume. */
  async list() {
    return (await run(() => this[kNative].listVolumeHandles())).map(wrap);
  }

  /** The volume named `name` (a lookup, then a read). */
  async get(name) {
    return wrap(await run(() => this[kNative].getVolumeHandle(name)));
  }

  /** Deletes the volume named `name` (a lookup, then a delete). */
  delete(name) {
    return run(() => this[kNative].deleteVolumeByName(name));
  }

  /** The low-level volume endpoints. */
  get raw() {
    return this[kRaw];
  }
}

module.exports = { Volume, ObjectVolume, VolumeFile, Volumes };
