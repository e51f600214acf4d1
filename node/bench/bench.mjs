// Benchmark (not a test): the Node package against a plain `fetch` loop (the transport of the
// official TypeScript SDK), against one local `porter-sandbox serve`.
//
//   node bench/bench.mjs [--seconds 5] [--stream-mib 512] [--concurrency 1000]
//
// 1. calls/s of `sandbox.refresh()` (GET /v1/sandbox/{id}), sequential, vs `fetch` + JSON;
// 2. the same with 1,000 calls in flight;
// 3. MB/s of `volume.stream()` over a 512 MiB file (and `readFile` of it), vs one `fetch`.
// Set PORTER_SANDBOX_BIN to use another server binary (e.g. a release build), or
// PORTER_SANDBOX_BASE_URL and PORTER_SANDBOX_API_KEY to use a running server (bench/run.sh does).
// The last line printed is the results as JSON.

import { mkdtempSync, rmSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { Porter } from '../index.mjs';
import { startServer, serverBinary } from '../test/server.mjs';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    'stream-mib': { type: 'string', default: '512' },
    concurrency: { type: 'string', default: '1000' },
  },
});
const SECONDS = Number(values.seconds);
const STREAM_MIB = Number(values['stream-mib']);
const CONCURRENCY = Number(values.concurrency);

/** Runs `call` with `inFlight` callers for `seconds`; returns calls per second. */
async function rate(call, inFlight, seconds) {
  const deadline = performance.now() + seconds * 1000;
  let done = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < deadline) {
        await call();
        done++;
      }
    }),
  );
  return done / ((performance.now() - started) / 1000);
}

function fmt(n, unit) {
  return `${n.toFixed(n >= 100 ? 0 : 1).padStart(8)} ${unit}`;
}

// A running server (its key in PORTER_SANDBOX_API_KEY, which the client reads too), or our own.
const external = process.env.PORTER_SANDBOX_BASE_URL;
const server = external ? { baseUrl: external, stop: async () => {} } : await startServer();
const auth = process.env.PORTER_SANDBOX_API_KEY
  ? { authorization: `Bearer ${process.env.PORTER_SANDBOX_API_KEY}` }
  : {};
const scratch = mkdtempSync(join(tmpdir(), 'porter-sandbox-bench-'));
const results = [];
try {
  const porter = new Porter({ baseUrl: server.baseUrl });
  const sandbox = await porter.sandboxes.create({ image: 'host', command: ['sleep', '3600'] });
  while ((await sandbox.refresh()).phase !== 'running') await new Promise((r) => setTimeout(r, 100));
  const url = `${server.baseUrl}/v1/sandbox/${sandbox.id}`;
  const headers = { accept: 'application/json', 'user-agent': 'porter-sandbox-typescript/0.0.1', ...auth };
  const viaFetch = async () => {
    const response = await fetch(url, { headers });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return response.json();
  };
  const viaPorter = () => sandbox.refresh();

  console.log(`server: ${external ? 'running' : serverBinary} at ${server.baseUrl}`);
  console.log(`node ${process.version}, ${SECONDS} s per measurement\n`);

  // Warm both up (connections, JIT).
  await rate(viaPorter, 50, 1);
  await rate(viaFetch, 50, 1);

  for (const [label, inFlight] of [['sequential', 1], [`${CONCURRENCY} concurrent`, CONCURRENCY]]) {
    const fetchRate = await rate(viaFetch, inFlight, SECONDS);
    const porterRate = await rate(viaPorter, inFlight, SECONDS);
    results.push({ label: `refresh() ${label}`, porter: porterRate, fetch: fetchRate });
    console.log(`refresh() ${label.padEnd(16)} porter-sandbox ${fmt(porterRate, 'calls/s')}   fetch ${fmt(fetchRate, 'calls/s')}   ratio ${(porterRate / fetchRate).toFixed(2)}x`);
  }

  // Streaming a large file.
  const file = join(scratch, 'big.bin');
  const fd = openSync(file, 'w');
  const block = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < block.length; i += 4) block.writeUInt32LE((i * 2654435761) >>> 0, i);
  for (let i = 0; i < STREAM_MIB; i++) writeSync(fd, block);
  closeSync(fd);
  const volume = await porter.volumes.create({ name: `bench-${Date.now().toString(36)}` });
  let t = performance.now();
  await volume.writeFile('/big.bin', file);
  const uploadMBs = STREAM_MIB * 1.048576 / ((performance.now() - t) / 1000);
  const size = STREAM_MIB * 1024 * 1024;

  const fileUrl = `${server.baseUrl}/v1/volume/${volume.id}/files/content?path=%2Fbig.bin`;
  const chunk = 8 * 1024 * 1024;
  const measure = async (read) => {
    const started = performance.now();
    const bytes = await read();
    if (bytes !== size) throw new Error(`read ${bytes} of ${size} bytes`);
    return bytes / 1e6 / ((performance.now() - started) / 1000);
  };
  const porterStream = async () => {
    let total = 0;
    for await (const part of volume.stream('/big.bin')) total += part.byteLength;
    return total;
  };
  // What the official SDK's stream does: ranged fetches of 8 MiB.
  const fetchRanges = async () => {
    let total = 0;
    for (let offset = 0; offset < size; offset += chunk) {
      const ranged = await fetch(fileUrl, {
        headers: { accept: 'application/octet-stream', range: `bytes=${offset}-${offset + chunk - 1}`, ...auth },
      });
      total += (await ranged.arrayBuffer()).byteLength;
    }
    return total;
  };
  const porterRead = async () => (await volume.readFile('/big.bin')).byteLength;
  const fetchWhole = async () => {
    const response = await fetch(fileUrl, { headers: { accept: 'application/octet-stream', ...auth } });
    let total = 0;
    for await (const part of response.body) total += part.byteLength;
    return total;
  };
  // Alternate the two sides twice and keep each one's best run (the machine is shared).
  const best = async (a, b) => {
    const runs = { a: 0, b: 0 };
    for (let round = 0; round < 2; round++) {
      runs.a = Math.max(runs.a, await measure(a));
      runs.b = Math.max(runs.b, await measure(b));
    }
    return [runs.a, runs.b];
  };
  const [streamMBs, fetchMBs] = await best(porterStream, fetchRanges);
  const [readMBs, singleMBs] = await best(porterRead, fetchWhole);

  console.log(`\n${STREAM_MIB} MiB file: upload (writeFile from a path) ${fmt(uploadMBs, 'MB/s')}`);
  console.log(`volume.stream() (8 MiB ranged reads)  porter-sandbox ${fmt(streamMBs, 'MB/s')}   fetch (8 MiB ranges) ${fmt(fetchMBs, 'MB/s')}   ratio ${(streamMBs / fetchMBs).toFixed(2)}x`);
  console.log(`whole file in one GET                 readFile       ${fmt(readMBs, 'MB/s')}   fetch streamed body  ${fmt(singleMBs, 'MB/s')}   ratio ${(readMBs / singleMBs).toFixed(2)}x`);
  results.push({ label: 'stream MB/s', porter: streamMBs, fetch: fetchMBs });
  results.push({ label: 'one GET MB/s', porter: readMBs, fetch: singleMBs });

  await sandbox.terminate();
  porter.close();
  console.log(`\n${JSON.stringify(results.map((r) => ({ ...r, ratio: +(r.porter / r.fetch).toFixed(2) })))}`);
} finally {
  await server.stop();
  rmSync(scratch, { recursive: true, force: true });
}
