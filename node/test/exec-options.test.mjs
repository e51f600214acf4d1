// The exec extension options against a real `porter-sandbox serve`: a deadline the
// server enforces, workdir, env, stdin, and the official one-argument call unchanged.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Porter, SandboxError } from 'porter-sandbox';
import { startServer } from './server.mjs';

let server;
let porter;

async function waitRunning(sandbox) {
  for (let i = 0; i < 600; i++) { // 60 s at most: generous, for a loaded machine
    const status = await sandbox.refresh();
    if (status.phase !== 'queued' && status.phase !== 'creating') return status;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${sandbox.id} did not start`);
}

before(async () => {
  server = await startServer();
  porter = new Porter({ baseUrl: server.baseUrl });
});

after(async () => {
  porter?.close();
  await server?.stop();
});

test('exec with timeoutMs, workdir, env and stdin', async () => {
  const sandbox = await porter.sandboxes.create({
    image: 'host',
    command: ['sleep', '300'],
    env: { A: 'sandbox' },
  });
  try {
    assert.equal((await waitRunning(sandbox)).phase, 'running');
    const started = Date.now();
    const late = await sandbox.exec(['sh', '-c', 'echo begun; sleep 1000 & sleep 1000'], {
      timeoutMs: 500,
    });
    assert.ok(Date.now() - started < 10_000);
    assert.deepEqual([late.stdout, late.exit_code, late.timed_out], ['begun\n', 124, true]);

    const result = await sandbox.exec(['sh', '-c', 'pwd; echo "$A $B"; cat'], {
      workdir: '/tmp',
      env: { B: 'exec' },
      stdin: 'fed in\n',
      timeoutMs: 30_000,
    });
    assert.deepEqual(
      [result.stdout, result.exit_code, result.timed_out],
      ['/tmp\nsandbox exec\nfed in\n', 0, false],
    );

    const plain = await sandbox.exec(['echo', 'hi']);
    assert.deepEqual([plain.stdout, plain.timed_out], ['hi\n', false]);
    await assert.rejects(sandbox.exec(['true'], { timeoutMs: 0 }), SandboxError);
    await assert.rejects(sandbox.exec(['true'], { timeout: 5 }), /timeout/);
  } finally {
    await sandbox.terminate();
  }
});
