// Sandboxes that cannot leak, against a real `porter-sandbox serve`: the scoped handle
// (`Symbol.asyncDispose`), waiting (`waitUntilRunning`, `wait`, `poll`), `getOrCreate` and the
// `lease_seconds` field.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Porter, SandboxError, SandboxTimeoutError, StatusResponsePhase } from 'porter-sandbox';
import { startServer } from './server.mjs';

const IDLE = ['sleep', '300'];
const TERMINAL = new Set(['succeeded', 'failed', 'terminated']);
const run = Date.now().toString(36);

let server;
let porter;

function client() {
  return new Porter({ baseUrl: server.baseUrl, ...(server.apiKey ? { apiKey: server.apiKey } : {}) });
}

before(async () => {
  server = await startServer();
  porter = client();
});

after(async () => {
  porter?.close();
  await server?.stop();
});

test('asyncDispose terminates the sandbox, also when the scope throws', async () => {
  // Node 20 has no `await using` syntax yet; this is what it compiles to.
  const sandbox = await porter.sandboxes.create({ image: 'host', command: IDLE });
  assert.equal(typeof sandbox[Symbol.asyncDispose], 'function');
  const status = await sandbox.waitUntilRunning({ timeoutMs: 60_000 });
  assert.equal(status.phase, StatusResponsePhase.Running);
  assert.equal(await sandbox.poll(), null);
  await sandbox[Symbol.asyncDispose]();
  assert.equal((await sandbox.refresh()).phase, StatusResponsePhase.Terminated);

  let failing;
  await assert.rejects(
    (async () => {
      failing = await porter.sandboxes.create({ image: 'host', command: IDLE });
      try {
        throw new Error('inside');
      } finally {
        await failing[Symbol.asyncDispose]();
      }
    })(),
    /inside/,
  );
  assert.equal((await failing.refresh()).phase, StatusResponsePhase.Terminated);
});

test('wait returns the exit code, poll reads it once, and a timeout rejects', async () => {
  const done = await porter.sandboxes.create({ image: 'host', command: ['sh', '-c', 'sleep 0.3; exit 4'] });
  try {
    assert.equal(await done.wait({ timeoutMs: 60_000 }), 4);
    assert.equal(await done.poll(), 4);
  } finally {
    await done[Symbol.asyncDispose]();
  }

  const idle = await porter.sandboxes.create({ image: 'host', command: IDLE });
  try {
    assert.equal(await idle.poll(), null);
    await assert.rejects(idle.wait({ timeoutMs: 200 }), (error) => {
      assert.ok(error instanceof SandboxTimeoutError, String(error));
      assert.equal(error.kind, 'timeout');
      return true;
    });
    await idle.terminate();
    // A terminated workload has no exit code of its own: 137, as for SIGKILL.
    assert.equal(await idle.wait(), 137);
  } finally {
    await idle[Symbol.asyncDispose]();
  }
});

test('waitUntilRunning rejects with phase, reason and logs when the sandbox ends first', async () => {
  const broken = await porter.sandboxes.create({ image: 'oci-layout:/no/such/layout' });
  try {
    await assert.rejects(broken.waitUntilRunning({ timeoutMs: 60_000 }), (error) => {
      assert.ok(error instanceof SandboxError, String(error));
      assert.ok(!(error instanceof SandboxTimeoutError));
      assert.equal(error.kind, 'sandbox_terminal');
      assert.match(error.message, /ended failed/);
      assert.match(error.message, /launch_failed/);
      assert.match(error.message, /launch failed:/);
      assert.equal(error.body.phase, 'failed');
      return true;
    });
  } finally {
    await broken[Symbol.asyncDispose]();
  }
});

test('getOrCreate from concurrent callers gives one sandbox', async () => {
  const name = `goc-${run}`;
  const handles = await Promise.all(
    Array.from({ length: 4 }, () => porter.sandboxes.getOrCreate(name, { image: 'host', command: IDLE })),
  );
  const ids = new Set(handles.map((h) => h.id));
  try {
    assert.equal(ids.size, 1, `several sandboxes: ${[...ids]}`);
    const found = await porter.sandboxes.getOrCreate(name, { image: 'host', command: IDLE });
    assert.ok(ids.has(found.id));
    assert.notEqual(found.phase, null);
  } finally {
    await handles[0][Symbol.asyncDispose]();
  }
});

test('lease_seconds is renewed while the client lives and enforced once it closes', async () => {
  const lease = 3;
  const owner = client();
  const sandbox = await owner.sandboxes.create({ image: 'host', command: IDLE, lease_seconds: lease });
  try {
    const phase = async () => (await porter.sandboxes.raw.get(sandbox.id)).phase;
    const until = Date.now() + 3 * lease * 1000;
    while (Date.now() < until) {
      assert.ok(!TERMINAL.has(await phase()), 'ended while renewed');
      await new Promise((r) => setTimeout(r, 250));
    }
    owner.close(); // stops the renewals
    const closed = Date.now();
    while (!TERMINAL.has(await phase())) {
      // Generous: the lease runs out `lease` s after the last renewal, then the reaper acts.
      assert.ok(Date.now() - closed < (lease + 30) * 1000, 'the lease was not enforced');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal((await porter.sandboxes.raw.get(sandbox.id)).termination_reason, 'lease_expired');
  } finally {
    await porter.sandboxes.raw.delete(sandbox.id);
  }
});
