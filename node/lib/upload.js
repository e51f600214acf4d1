'use strict';
// Upload bodies: what `writeFile` accepts, turned into bytes or a local file path for the
// native layer (which streams files from disk and sends them again on the API's redirect).

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Readable } = require('node:stream');
const { pipeline } = require('node:stream/promises');
const { fileURLToPath } = require('node:url');

/** Blobs up to this size are read into memory; larger ones are spooled to a temporary file. */
const BLOB_IN_MEMORY_BYTES = 8 * 1024 * 1024;

function isAsyncIterable(value) {
  return value != null && typeof value[Symbol.asyncIterator] === 'function';
}

function isWebStream(value) {
  return value != null && typeof value.getReader === 'function';
}

/** Writes `source` (a Node or web readable stream, or an async iterable) to a temporary file. */
async function spool(source) {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'porter-sandbox-upload-'));
  const file = path.join(dir, 'body');
  const cleanup = () => fs.promises.rm(dir, { recursive: true, force: true });
  try {
    const readable = isAsyncIterable(source) ? source : Readable.fromWeb(source);
    await pipeline(readable, fs.createWriteStream(file));
  } catch (error) {
    await cleanup();
    throw error;
  }
  return { bytes: null, file, cleanup };
}

/**
 * The native form of an upload body: `{ bytes, file, cleanup? }`. Accepts a `Buffer`, any
 * `Uint8Array`/typed array/`DataView`/`ArrayBuffer`, a `Blob`, the path of a local file (a string
 * or a `file:` URL), an `fs.ReadStream`, any readable stream or async iterable of chunks.
 */
async function prepareUpload(content) {
  if (Buffer.isBuffer(content)) return { bytes: content, file: null };
  if (ArrayBuffer.isView(content)) {
    return { bytes: Buffer.from(content.buffer, content.byteOffset, content.byteLength), file: null };
  }
  if (content instanceof ArrayBuffer || content instanceof SharedArrayBuffer) {
    return { bytes: Buffer.from(content), file: null };
  }
  if (typeof content === 'string') return { bytes: null, file: content };
  if (content instanceof URL) {
    if (content.protocol !== 'file:') throw new TypeError(`cannot upload from ${content.href}: only file: URLs`);
    return { bytes: null, file: fileURLToPath(content) };
  }
  if (typeof Blob !== 'undefined' && content instanceof Blob) {
    if (content.size <= BLOB_IN_MEMORY_BYTES) {
      return { bytes: Buffer.from(await content.arrayBuffer()), file: null };
    }
    return spool(content.stream());
  }
  if (
    content instanceof fs.ReadStream &&
    typeof content.path === 'string' &&
    content.start === undefined &&
    content.bytesRead === 0 &&
    !content.readableDidRead
  ) {
    // The file itself can be re-read on the API's redirect: send it by path.
    content.destroy();
    return { bytes: null, file: content.path };
  }
  if (isAsyncIterable(content) || isWebStream(content)) return spool(content);
  throw new TypeError(
    'content must be a Buffer, Uint8Array, ArrayBuffer, Blob, a file path, or a readable stream',
  );
}

/** Runs `send(bytes, file)` with the native form of `content`, removing any temporary file. */
async function withUpload(content, send) {
  const body = await prepareUpload(content);
  try {
    return await send(body.bytes, body.file);
  } finally {
    if (body.cleanup) await body.cleanup();
  }
}

module.exports = { withUpload };
