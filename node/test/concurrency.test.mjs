// Concurrency and the event loop: 200 calls in one Promise.all, an event loop that keeps ticking
// during long calls, and a process that exits by itself when the client is idle.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { Porter, NotFoundError } from 'porter-sandbox';
import { startServer } from './server.mjs';

let server;
let porter;
let sandbox;

before(async () => {
  server = await startServer();
  porter = new Porter({ baseUrl: server.baseUrl });
  sandbox = await porter.sandboxes.create({ image: 'host', command: ['sleep', '300'] });
  // 60 s at most: generous, for a loaded machine.
  for (let i = 0; i < 600; i++) {
    const s = await sandbox.refresh();
    if (s.phase === 'running') break;
    await new Promise((r) => setTimeout(r, 100));
  }
});

after(async () => {
  porter?.close();
  await server?.stop();
});

test('Promise.all of 200 calls', async () => {
  const results = await Promise.all(Array.from({ length: 200 }, () => sandbox.refresh()));
  assert.equal(results.length, 200);
  assert.ok(results.every((s) => s.id === sandbox.id && s.phase === 'running'));
  const mixed = await Promise.allSettled(
    Array.from({ length: 200 }, (_, i) => (i % 2 ? porter.raw.sandboxes.get(sandbox.id) : porter.raw.sandboxes.get(`sb-missing-${i}`))),
  );
  assert.equal(mixed.filter((r) => r.status === 'fulfilled').length, 100);
  assert.ok(mixed.filter((r) => r.status === 'rejected').every((r) => r.reason instanceof NotFoundError));
});

test('200 concurrent execs and volume writes', async () => {
  const outs = await Promise.all(Array.from({ length: 50 }, (_, i) => sandbox.exec(['echo', String(i)])));
  assert.deepEqual(outs.map((o) => o.stdout), Array.from({ length: 50 }, (_, i) => `${i}\n`));
  const volume = await porter.volumes.create();
  await Promise.all(Array.from({ length: 150 }, (_, i) => volume.writeText(`/c/${i}.txt`, String(i))));
  const texts = await Promise.all(Array.from({ length: 150 }, (_, i) => volume.readText(`/c/${i}.txt`)));
  assert.deepEqual(texts, Array.from({ length: 150 }, (_, i) => String(i)));
});

test('the event loop keeps running during a long call', async () => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 20);
  const started = Date.now();
  const out = await sandbox.exec(['sleep', '1']);
  clearInterval(timer);
  assert.equal(out.exit_code, 0);
  assert.ok(Date.now() - started >= 900);
  // A blocked loop would tick once at most; a loaded machine may delay the 50 expected ticks.
  assert.ok(ticks >= 10, `only ${ticks} ticks during a 1 s exec`);
});

/** Runs `node <args>` in the package directory; fails unless it exits by itself within 5 s. */
function runChild(args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the child process did not exit by itself within 5 s: ${output}`));
    }, 5000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

test('a process with an idle client exits by itself (ESM)', async () => {
  const { code, output } = await runChild(
    [
      '--input-type=module',
      '-e',
      `import { Porter } from 'porter-sandbox';
       const porter = new Porter();
       const health = await porter.healthz.healthCheck();
       const list = await porter.sandboxes.list();
       console.log(health.status, list.length > 0);`,
    ],
    { PORTER_SANDBOX_BASE_URL: server.baseUrl },
  );
  assert.equal(code, 0, output);
  assert.equal(output.trim(), 'ok true');
});

test('a process that keeps a client, handles and an unfinished iterator exits (CommonJS)', async () => {
  const { code, output } = await runChild(
    [
      '-e',
      `const { Porter } = require('porter-sandbox');
       const porter = new Porter();
       porter.volumes.create().then(async (v) => {
         await v.writeText('/x', 'y');
         for await (const c of v.stream('/x')) process.stdout.write(Buffer.from(c).toString());
         const walk = v.iterdir();
         await walk.next();
         globalThis.keep = [porter, v, walk];
       });`,
    ],
    { PORTER_SANDBOX_BASE_URL: server.baseUrl },
  );
  assert.equal(code, 0, output);
  assert.equal(output, 'y');
});
