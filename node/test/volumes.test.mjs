// Volumes and their files against a real `porter-sandbox serve`: the namespace, the `Volume`
// handle's file methods with every kind of upload body, and the low-level resource.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, mkdtempSync, writeFileSync, rmSync, openAsBlob } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';

import { Porter, Volume, VolumeFile, SandboxError, NotFoundError, DEFAULT_CHUNK_BYTES } from 'porter-sandbox';
import { startServer } from './server.mjs';

let server;
let porter;
let scratch;
const run = Date.now().toString(36);

before(async () => {
  server = await startServer();
  porter = new Porter({ baseUrl: server.baseUrl });
  scratch = mkdtempSync(join(tmpdir(), 'porter-sandbox-node-files-'));
});

after(async () => {
  porter?.close();
  await server?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

describe('volumes namespace', () => {
  test('create, list, get, refresh, delete', async () => {
    const volume = await porter.volumes.create({ name: `vol-${run}` });
    assert.ok(volume instanceof Volume);
    assert.match(volume.id, /^vol-/);
    assert.equal(volume.name, `vol-${run}`);
    assert.equal(volume.type, 'disk');
    assert.equal(volume.phase, 'ready');
    assert.deepEqual(volume.attachedTo, []);
    assert.ok(volume.createdAt instanceof Date && !Number.isNaN(volume.createdAt.getTime()));
    assert.equal(typeof volume.path, 'string');
    assert.equal(volume.record.id, volume.id);
    const unnamed = await porter.volumes.create();
    assert.equal(unnamed.name, unnamed.id);
    const empty = await porter.volumes.create({});
    assert.ok(empty instanceof Volume);
    const listed = await porter.volumes.list();
    assert.ok(listed.some((v) => v.id === volume.id && v instanceof Volume));
    const got = await porter.volumes.get(`vol-${run}`);
    assert.equal(got.id, volume.id);
    const record = await volume.refresh();
    assert.equal(record.name, `vol-${run}`);
    await porter.volumes.delete(`vol-${run}`);
    await assert.rejects(porter.volumes.get(`vol-${run}`), NotFoundError);
    await unnamed.delete();
    await empty.delete();
    await assert.rejects(unnamed.refresh(), NotFoundError);
  });

  test('an attached volume shows its sandbox and refuses deletion', async () => {
    const volume = await porter.volumes.create({ name: `att-${run}` });
    const sandbox = await porter.sandboxes.create({ image: 'host', volume_mounts: { '/mnt/data': volume.id }, command: ['sleep', '60'] });
    await volume.refresh();
    assert.deepEqual(volume.attachedTo, [sandbox.id]);
    const error = await volume.delete().catch((e) => e);
    assert.ok(error instanceof SandboxError);
    assert.equal(error.statusCode, 409);
    await sandbox.terminate();
  });
});

describe('Volume file methods', () => {
  let volume;
  before(async () => {
    volume = await porter.volumes.create({ name: `files-${run}` });
  });

  test('writeText / readText / readFile with offset and length', async () => {
    await volume.writeText('notes/hello.txt', 'hello world');
    assert.equal(await volume.readText('/notes/hello.txt'), 'hello world');
    const bytes = await volume.readFile('notes/hello.txt/');
    assert.ok(bytes instanceof Uint8Array);
    assert.equal(Buffer.from(bytes).toString(), 'hello world');
    assert.equal(await volume.readText('/notes/hello.txt', { offset: 6 }), 'world');
    assert.equal(await volume.readText('/notes/hello.txt', { offset: 0, length: 5 }), 'hello');
    assert.equal(await volume.readText('/notes/hello.txt', { length: 4 }), 'hell');
    assert.equal((await volume.readFile('/notes/hello.txt', { length: 0 })).length, 0);
    await assert.rejects(volume.readFile('/notes/hello.txt', { offset: -1 }), /offset/);
    await assert.rejects(volume.readFile('/notes/missing.txt'), NotFoundError);
    await volume.writeText('/unicode.txt', 'héllo ✓');
    assert.equal(await volume.readText('unicode.txt'), 'héllo ✓');
  });

  test('writeFile accepts every body kind', async () => {
    const payload = randomBytes(256 * 1024 + 3);
    const file = join(scratch, 'payload.bin');
    writeFileSync(file, payload);
    const bodies = {
      buffer: payload,
      uint8array: new Uint8Array(payload),
      subarray: new Uint8Array(Buffer.concat([Buffer.from('xx'), payload])).subarray(2),
      arraybuffer: payload.buffer.slice(payload.byteOffset, payload.byteOffset + payload.length),
      blob: new Blob([payload]),
      path: file,
      url: pathToFileURL(file),
      readstream: createReadStream(file),
      readable: Readable.from([payload.subarray(0, 1000), payload.subarray(1000)]),
      webstream: Readable.toWeb(Readable.from([payload])),
      generator: (async function* () {
        yield payload.subarray(0, 7);
        yield payload.subarray(7);
      })(),
    };
    if (typeof openAsBlob === 'function') bodies.fileblob = await openAsBlob(file);
    for (const [kind, body] of Object.entries(bodies)) {
      await volume.writeFile(`/bodies/${kind}.bin`, body);
      const back = await volume.readFile(`/bodies/${kind}.bin`);
      assert.equal(Buffer.compare(Buffer.from(back), payload), 0, kind);
    }
    await assert.rejects(volume.writeFile('/bad', 42), TypeError);
    await assert.rejects(volume.writeFile('/bad', join(scratch, 'missing')), SandboxError);
  });

  test('a large Blob is spooled, not held twice', async () => {
    const payload = randomBytes(9 * 1024 * 1024);
    await volume.writeFile('/big/blob.bin', new Blob([payload]));
    const back = await volume.readFile('/big/blob.bin', { offset: payload.length - 10 });
    assert.equal(Buffer.compare(Buffer.from(back), payload.subarray(payload.length - 10)), 0);
  });

  test('listdir, iterdir, search', async () => {
    await volume.writeText('/tree/a/one.txt', '1');
    await volume.writeText('/tree/a/deep/two.txt', '22');
    await volume.writeText('/tree/b.txt', '333');
    const top = await volume.listdir('/tree');
    assert.deepEqual(top.map((f) => f.path), ['/tree/a', '/tree/b.txt']);
    assert.ok(top.every((f) => f instanceof VolumeFile));
    const [dir, file] = top;
    assert.equal(dir.isDirectory, true);
    assert.equal(dir.isFile, false);
    assert.equal(file.isFile, true);
    assert.equal(file.sizeBytes, 3);
    assert.equal(file.name, 'b.txt');
    assert.equal(file.type, 'file');
    assert.equal(file.truncated, false);
    assert.ok(file.modifiedAt instanceof Date);
    assert.equal(String(file), 'VolumeFile(/tree/b.txt, file, 3 bytes)');
    const walked = [];
    for await (const entry of volume.iterdir('tree/')) walked.push(entry.path);
    assert.deepEqual(walked, ['/tree/a', '/tree/a/deep', '/tree/a/deep/two.txt', '/tree/a/one.txt', '/tree/b.txt']);
    const root = [];
    for await (const entry of volume.iterdir()) root.push(entry.path);
    assert.ok(root.includes('/tree/a/deep/two.txt'));
    // Stopping early is fine.
    for await (const entry of volume.iterdir('/tree')) {
      assert.equal(entry.path, '/tree/a');
      break;
    }
    const found = await volume.search('TWO');
    assert.deepEqual(found.map((f) => f.path), ['/tree/a/deep/two.txt']);
    assert.deepEqual((await volume.search('one', { path: '/tree/a' })).map((f) => f.path), ['/tree/a/one.txt']);
    assert.deepEqual(await volume.search('nothing-matches'), []);
    assert.ok((await volume.listdir()).some((f) => f.path === '/tree'));
    await assert.rejects(async () => {
      for await (const _ of volume.iterdir('/no/such/dir')) void _;
    }, NotFoundError);
  });

  test('moveFile never overwrites', async () => {
    await volume.writeText('/mv/from.txt', 'moving');
    await volume.writeText('/mv/taken.txt', 'taken');
    await volume.moveFile('mv/from.txt', '/mv/to.txt');
    assert.equal(await volume.readText('/mv/to.txt'), 'moving');
    await assert.rejects(volume.readText('/mv/from.txt'), NotFoundError);
    const error = await volume.moveFile('/mv/to.txt', '/mv/taken.txt').catch((e) => e);
    assert.ok(error instanceof SandboxError);
    assert.equal(error.statusCode, 409);
  });

  test('stream yields ranged chunks', async () => {
    const payload = randomBytes(1024 * 1024 + 17);
    await volume.writeFile('/stream/data.bin', payload);
    const chunks = [];
    for await (const chunk of volume.stream('/stream/data.bin', { chunkSize: 100_000 })) {
      assert.ok(chunk instanceof Uint8Array);
      chunks.push(chunk);
    }
    assert.equal(chunks.length, Math.ceil(payload.length / 100_000));
    assert.equal(Buffer.compare(Buffer.concat(chunks), payload), 0);
    const whole = [];
    for await (const chunk of volume.stream('stream/data.bin')) whole.push(chunk);
    assert.equal(whole.length, 1);
    assert.equal(DEFAULT_CHUNK_BYTES, 8 * 1024 * 1024);
    await volume.writeFile('/stream/empty.bin', Buffer.alloc(0));
    const none = [];
    for await (const chunk of volume.stream('/stream/empty.bin')) none.push(chunk);
    assert.deepEqual(none, []);
    await assert.rejects(async () => {
      for await (const _ of volume.stream('/stream/data.bin', { chunkSize: 0 })) void _;
    }, /chunk_size|chunkSize/);
    await assert.rejects(async () => {
      for await (const _ of volume.stream('/stream/missing.bin')) void _;
    }, NotFoundError);
  });
});

describe('low-level volumes resource', () => {
  test('create, lookup, get, listFiles, writeFile, readFile, moveFile, list, delete', async () => {
    const raw = porter.raw.volumes;
    const record = await raw.create({ name: `raw-${run}` });
    assert.equal(record.name, `raw-${run}`);
    assert.deepEqual(await raw.lookup({ name: `raw-${run}` }), { id: record.id });
    assert.equal((await raw.get(record.id)).id, record.id);
    assert.ok((await raw.list()).volumes.some((v) => v.id === record.id));
    await raw.writeFile(record.id, Buffer.from('0123456789'), { path: '/d/f.txt' });
    await raw.writeFile(record.id, new Uint8Array([1, 2, 3]), { path: '/d/g.bin' }, { timeoutMs: 10_000 });
    const whole = await raw.readFile(record.id, { path: '/d/f.txt' });
    assert.equal(Buffer.from(whole.bytes).toString(), '0123456789');
    assert.equal(whole.contentRange, null);
    assert.ok(whole.lastModified instanceof Date);
    const part = await raw.readFile(record.id, { path: '/d/f.txt', range: 'bytes=2-4' }, { timeoutMs: null });
    assert.equal(Buffer.from(part.bytes).toString(), '234');
    assert.deepEqual(part.contentRange, { start: 2, end: 4, size: 10 });
    const listing = await raw.listFiles(record.id, { path: '/d' });
    assert.equal(listing.path, '/d');
    assert.deepEqual(listing.entries.map((e) => e.name), ['f.txt', 'g.bin']);
    assert.equal(listing.truncated, false);
    assert.equal((await raw.listFiles(record.id, { search: 'g.b' })).entries.length, 1);
    assert.ok((await raw.listFiles(record.id)).entries.length >= 1);
    await raw.moveFile(record.id, { from: '/d/g.bin', to: '/d/h.bin' });
    assert.deepEqual([...(await raw.readFile(record.id, { path: '/d/h.bin' })).bytes], [1, 2, 3]);
    const bad = await raw.readFile(record.id, { path: '/d/f.txt', range: 'bytes=50-60' }).catch((e) => e);
    assert.ok(bad instanceof SandboxError);
    assert.equal(bad.statusCode, 416);
    await raw.delete(record.id);
    await assert.rejects(raw.get(record.id), NotFoundError);
  });
});
