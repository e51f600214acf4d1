// Sandboxes, snapshots and health against a real `porter-sandbox serve`: every ergonomic and
// low-level method.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';

import {
  Porter,
  Sandbox,
  Sandboxes,
  Snapshots,
  Healthz,
  Readyz,
  SandboxError,
  NotFoundError,
  StatusResponsePhase,
  SandboxesSource,
  SandboxMetric,
  SnapshotMode,
} from 'porter-sandbox';
import { startServer } from './server.mjs';

let server;
let porter;
const run = Date.now().toString(36);

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

describe('ergonomic sandboxes', () => {
  let sandbox;
  before(async () => {
    sandbox = await porter.sandboxes.create({
      image: 'host',
      name: `erg-${run}`,
      tags: { suite: 'node', run },
      env: { GREETING: 'hello' },
      command: ['sleep', '300'],
    });
    await waitRunning(sandbox);
  });

  test('namespaces and handles are the exported classes', () => {
    assert.ok(porter.sandboxes instanceof Sandboxes);
    assert.ok(porter.snapshots instanceof Snapshots);
    assert.ok(porter.healthz instanceof Healthz);
    assert.ok(porter.readyz instanceof Readyz);
    assert.ok(sandbox instanceof Sandbox);
    assert.equal(porter.sandboxes.raw, porter.raw.sandboxes);
    assert.equal(porter.volumes.raw, porter.raw.volumes);
    assert.equal(porter.snapshots.raw, porter.raw.snapshots);
  });

  test('create returns a handle without a status; refresh fills phase and tags', async () => {
    const fresh = await porter.sandboxes.create({ image: 'host', command: ['true'] });
    assert.match(fresh.id, /^sb-/);
    assert.equal(fresh.phase, null);
    assert.equal(fresh.tags, null);
    assert.equal(fresh.status, null);
    const status = await fresh.refresh();
    assert.equal(status.id, fresh.id);
    assert.equal(fresh.phase, status.phase);
    assert.deepEqual(Object.keys(sandbox.tags), ['suite', 'run']);
    assert.equal(sandbox.phase, StatusResponsePhase.Running);
    assert.equal(sandbox.status.name, `erg-${run}`);
    assert.equal(String(sandbox), `Sandbox(${sandbox.id}, running)`);
  });

  test('get by name carries the status', async () => {
    const got = await porter.sandboxes.get(`erg-${run}`);
    assert.equal(got.id, sandbox.id);
    assert.equal(got.phase, 'running');
    assert.deepEqual(got.tags, { suite: 'node', run });
    await assert.rejects(porter.sandboxes.get(`nope-${run}`), NotFoundError);
  });

  test('list filters: tags, phase, search, image, page', async () => {
    const ids = (list) => list.map((s) => s.id);
    assert.deepEqual(ids(await porter.sandboxes.list({ tags: { run, suite: 'node' } })), [sandbox.id]);
    assert.deepEqual(ids(await porter.sandboxes.list({ tags: { run }, page: 1 })), [sandbox.id]);
    assert.deepEqual(await porter.sandboxes.list({ tags: { run }, page: 2 }), []);
    assert.ok(ids(await porter.sandboxes.list({ phase: ['running'] })).includes(sandbox.id));
    assert.ok(ids(await porter.sandboxes.list({ phase: 'running', search: 'erg-' })).includes(sandbox.id));
    assert.ok(!ids(await porter.sandboxes.list({ phase: ['terminated'], tags: { run } })).includes(sandbox.id));
    assert.ok(ids(await porter.sandboxes.list({ image: 'host', search: `erg-${run}` })).includes(sandbox.id));
    const all = await porter.sandboxes.list();
    assert.ok(all.every((s) => s instanceof Sandbox && s.phase !== null));
    const windowed = await porter.sandboxes.list({ startTime: '2000-01-01T00:00:00Z', endTime: '2999-01-01T00:00:00Z', includeFilterValues: true });
    assert.ok(ids(windowed).includes(sandbox.id));
  });

  test('exec returns stdout, stderr and exit code with wire names', async () => {
    const ok = await sandbox.exec(['sh', '-c', 'echo "$GREETING"; echo oops >&2; exit 3']);
    assert.equal(ok.stdout, 'hello\n');
    assert.equal(ok.stderr, 'oops\n');
    assert.equal(ok.exit_code, 3);
    assert.match(ok.exec_id, /^ex-/);
    const py = await sandbox.exec(['python3', '-c', "print('hi')"]);
    assert.equal(py.stdout, 'hi\n');
  });

  test('logs with limit and since', async () => {
    await sandbox.exec(['sh', '-c', 'for i in 1 2 3 4 5; do echo line$i; done']);
    const logs = await sandbox.logs();
    assert.ok(logs.some((l) => l.line === 'line5'));
    for (const line of logs) assert.deepEqual(Object.keys(line).sort(), ['exec_id', 'level', 'line', 'timestamp'].filter((k) => k in line).sort());
    const limited = await sandbox.logs({ limit: 2 });
    assert.equal(limited.length, 2);
    assert.deepEqual(await sandbox.logs({ since: '2999-01-01T00:00:00Z' }), []);
    assert.ok((await sandbox.logs({ since: '10m', limit: 100 })).length > 0);
  });

  test('terminate, with and without source', async () => {
    const a = await porter.sandboxes.create({ image: 'host', command: ['sleep', '300'] });
    const b = await porter.sandboxes.create({ image: 'host', command: ['sleep', '300'] });
    await waitRunning(a);
    await waitRunning(b);
    await a.terminate();
    await b.terminate({ source: SandboxesSource.Cli });
    const sa = await a.refresh();
    const sb = await b.refresh();
    assert.equal(sa.phase, 'terminated');
    assert.equal(sa.termination_reason, 'sdk');
    assert.equal(sb.termination_reason, 'cli');
    await a.terminate(); // idempotent
    const err = await a.exec(['true']).catch((e) => e);
    assert.ok(err instanceof SandboxError);
    assert.equal(err.statusCode, 409);
  });
});

describe('low-level sandboxes resource', () => {
  test('create, lookup, get, getLogs, exec, list, counts, delete', async () => {
    const raw = porter.raw.sandboxes;
    const created = await raw.create({ image: 'host', name: `raw-${run}`, command: ['sleep', '300'], tags: { raw: run } });
    assert.deepEqual(Object.keys(created).sort(), ['id', 'name']);
    assert.equal(created.name, `raw-${run}`);
    assert.deepEqual(await raw.lookup({ name: `raw-${run}` }), { id: created.id });
    let status = await raw.get(created.id);
    for (let i = 0; i < 600 && status.phase !== 'running'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = await raw.get(created.id);
    }
    assert.equal(status.phase, 'running');
    assert.equal(status.image, 'host');
    assert.equal(typeof status.created_at, 'string');
    const out = await raw.exec(created.id, { command: ['echo', 'raw'] });
    assert.equal(out.stdout, 'raw\n');
    const timed = await raw.exec(created.id, { command: ['echo', 'timed'] }, { timeoutMs: 30000 });
    assert.equal(timed.exit_code, 0);
    const logs = await raw.getLogs(created.id, { limit: 10 });
    assert.equal(logs.sandbox_id, created.id);
    assert.ok(logs.logs.some((l) => l.line === 'raw'));
    const page = await raw.list({ tag: [`raw=${run}`], page: 1, includeFilterValues: true });
    assert.deepEqual(page.sandboxes.map((s) => s.id), [created.id]);
    assert.deepEqual(Object.keys(page.pagination).sort(), ['current_page', 'has_next_page', 'total_pages']);
    assert.ok(Array.isArray(page.filter_values.images));
    const phased = await raw.list({ phase: [StatusResponsePhase.Running], tag: `raw=${run}` });
    assert.equal(phased.sandboxes.length, 1);
    const counts = await raw.counts({ tag: [`raw=${run}`] });
    assert.ok(Array.isArray(counts.points));
    assert.equal(typeof counts.granularity_ms, 'number');
    await raw.delete(created.id, { source: 'dashboard' });
    assert.equal((await raw.get(created.id)).termination_reason, 'dashboard');
    await raw.delete(created.id);
    await assert.rejects(raw.get('sb-doesnotexist'), NotFoundError);
    await assert.rejects(raw.lookup({ name: `missing-${run}` }), NotFoundError);
  });

  test('metrics: summary and series from the server\'s samples', async () => {
    const raw = porter.raw.sandboxes;
    const { id } = await raw.create({
      image: 'host',
      command: ['sleep', '30'],
      resources: { cpu: '500m', memory: '256Mi' },
    });
    const summary = await raw.getMetricsSummary(id, { since: '1h' });
    assert.equal(summary.window_seconds, 3600);
    assert.equal(summary.cpu_limit_cores, 0.5);
    assert.equal(summary.mem_limit_bytes, 256 * 1024 * 1024);
    assert.equal(typeof summary.has_data, 'boolean');
    assert.equal((await raw.getMetricsSummary(id)).window_seconds, 3600);
    const reserved = await raw.getMetrics(id, {
      metric: SandboxMetric.CpuReserved,
      startTimeUtc: '2000-01-01T00:00:00Z',
      endTimeUtc: '2100-01-01T00:00:00Z',
    });
    assert.equal(reserved.results.length, 1);
    assert.equal(reserved.results[0].series[0].unit, 'cores');
    for (const point of reserved.results[0].series[0].time_series) assert.equal(point.value, 0.5);
    const error = await raw
      .getMetrics(id, { metric: SandboxMetric.CpuUsage, startTimeUtc: 'soon', endTimeUtc: 'later' })
      .then(() => null, (e) => e);
    assert.ok(error instanceof SandboxError);
    assert.equal(error.statusCode, 400);
    await raw.delete(id);
  });
});

describe('snapshots', () => {
  test('create, wait until ready, start from it, list, get, delete', async () => {
    const sandbox = await porter.sandboxes.create({ image: 'host', command: ['sleep', '60'] });
    await waitRunning(sandbox);
    await sandbox.exec(['sh', '-c', 'echo kept > /tmp/kept']);
    let snapshot = await porter.snapshots.create(sandbox.id, { mode: SnapshotMode.Filesystem });
    assert.equal(snapshot.sandbox_id, sandbox.id);
    assert.equal(snapshot.status, 'pending');
    while (snapshot.status === 'pending') {
      await new Promise((resolve) => setTimeout(resolve, 50));
      snapshot = await porter.snapshots.get(snapshot.id);
    }
    assert.equal(snapshot.status, 'ready');
    assert.ok(snapshot.size_bytes > 0);
    const full = await porter.snapshots.raw.create(sandbox.id, { mode: 'full' }).then(() => null, (e) => e);
    assert.ok(full instanceof SandboxError);
    assert.equal(full.statusCode, 400);
    assert.match(full.message, /full/);

    const copy = await porter.sandboxes.create({ image: '', snapshot_id: snapshot.id, command: ['sleep', '60'] });
    await waitRunning(copy);
    assert.equal((await copy.exec(['cat', '/tmp/kept'])).stdout, 'kept\n');
    const mine = await porter.snapshots.list({ sandboxId: sandbox.id });
    assert.deepEqual(mine.snapshots.map((s) => s.id), [snapshot.id]);
    assert.ok((await porter.snapshots.list()).snapshots.some((s) => s.id === snapshot.id));
    const inUse = await porter.snapshots.delete(snapshot.id).then(() => null, (e) => e);
    assert.ok(inUse instanceof SandboxError);
    assert.equal(inUse.statusCode, 409);
    await copy.terminate();
    await porter.snapshots.delete(snapshot.id);
    await assert.rejects(porter.snapshots.get('snap-missing'), NotFoundError);
    await assert.rejects(porter.snapshots.raw.get('snap-missing'), NotFoundError);
    await assert.rejects(porter.snapshots.delete('snap-missing'), NotFoundError);
    await sandbox.terminate();
  });
});

describe('health', () => {
  test('healthz and readyz, ergonomic and raw', async () => {
    assert.deepEqual(await porter.healthz.healthCheck(), { status: 'ok' });
    assert.deepEqual(await porter.healthz.raw.healthCheck(), { status: 'ok' });
    const ready = await porter.readyz.readinessCheck();
    assert.equal(ready.status, 'ok');
    assert.equal(typeof ready.active_sandboxes, 'number');
    assert.equal((await porter.raw.readyz.readinessCheck()).status, 'ok');
  });
});
