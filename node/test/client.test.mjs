// The client surface without a real server: configuration, exports, enums, errors and their
// classes, timeouts, retries, headers, close().

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

import * as esm from 'porter-sandbox';
import {
  Porter,
  PorterSandboxApiClient,
  SandboxError,
  AuthenticationError,
  NotFoundError,
  RateLimitError,
  ServerError,
  SandboxTimeoutError,
  StatusResponsePhase,
  VolumeObjectSpecAccess,
  SandboxMetric,
  ObjectVolume,
  Volume,
  VERSION,
} from 'porter-sandbox';
import { startStub, json } from './stub.mjs';

const require = createRequire(import.meta.url);
const cjs = require('porter-sandbox');

const ENV = [
  'PORTER_SANDBOX_API_KEY',
  'PORTER_SANDBOX_BASE_URL',
  'PORTER_CLUSTER_ID',
  'KUBERNETES_SERVICE_HOST',
  'PORTER_SANDBOX_DISCOVERY_FILE',
];

function withEnv(values, fn) {
  const saved = Object.fromEntries(ENV.map((k) => [k, process.env[k]]));
  for (const k of ENV) delete process.env[k];
  // Configuration cases must not find a local server's discovery file.
  process.env.PORTER_SANDBOX_DISCOVERY_FILE = 'none';
  Object.assign(process.env, values);
  try {
    return fn();
  } finally {
    for (const k of ENV) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
}

function token(payload) {
  return `header.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.signature`;
}

describe('exports', () => {
  test('require and import give the same classes', () => {
    assert.equal(esm.Porter, cjs.Porter);
    assert.equal(esm.SandboxError, cjs.SandboxError);
    assert.equal(esm.default, cjs);
    for (const name of Object.keys(cjs)) assert.equal(esm[name], cjs[name], name);
  });

  test('the documented names are exported', () => {
    for (const name of [
      'Porter', 'Sandbox', 'Volume', 'ObjectVolume', 'VolumeFile', 'Healthz', 'Readyz', 'Sandboxes',
      'Snapshots', 'Volumes', 'PorterSandboxApiClient', 'AuthenticationError', 'NotFoundError',
      'RateLimitError', 'SandboxError', 'SandboxTimeoutError', 'ServerError',
    ]) {
      assert.equal(typeof cjs[name], 'function', name);
    }
  });

  test('16 enums: frozen objects with PascalCase keys and wire values', () => {
    const enums = [
      'FilterValuesResponsePhases', 'LogLineLevel', 'SandboxDomainSpecVisibility', 'SandboxesPhase',
      'SandboxesSource', 'SandboxMetric', 'SnapshotMode', 'SnapshotStatus', 'StatusResponsePhase',
      'StatusResponseTerminationReason', 'VolumeFileEntryType', 'VolumeObjectSpecAccess',
      'VolumeObjectSpecMode', 'VolumePhase', 'VolumeSpecType', 'VolumeType',
    ];
    for (const name of enums) {
      const e = cjs[name];
      assert.ok(Object.isFrozen(e), name);
      for (const [key, value] of Object.entries(e)) {
        assert.match(key, /^[A-Z][A-Za-z]*$/);
        assert.equal(key, value.split('_').map((p) => p[0].toUpperCase() + p.slice(1)).join(''));
      }
    }
    assert.equal(StatusResponsePhase.Running, 'running');
    assert.equal(VolumeObjectSpecAccess.WriteOnlyNewFiles, 'write_only_new_files');
    assert.equal(SandboxMetric.CpuUsage, 'cpu_usage');
    assert.equal(Object.keys(cjs.StatusResponseTerminationReason).length, 9); // with lease_expired
  });

  test('handles cannot be constructed directly', () => {
    assert.throws(() => new cjs.Sandbox({ id: 'x' }), TypeError);
    assert.throws(() => new cjs.Sandboxes(), TypeError);
  });
});

describe('configuration', () => {
  test('explicit baseUrl, trailing slash stripped, defaults', () => {
    withEnv({}, () => {
      const porter = new Porter({ baseUrl: 'https://sandbox.example/' });
      assert.equal(porter.baseUrl, 'https://sandbox.example');
      assert.equal(porter.timeoutMs, 30000);
      assert.equal(new Porter({ baseUrl: 'http://h', timeoutMs: 1500 }).timeoutMs, 1500);
    });
  });

  test('PORTER_SANDBOX_BASE_URL, cluster id + token, in-cluster URL', () => {
    withEnv({ PORTER_SANDBOX_BASE_URL: 'https://env.example/' }, () => {
      assert.equal(new Porter().baseUrl, 'https://env.example');
      assert.equal(new Porter({ baseUrl: 'https://sandbox.override/' }).baseUrl, 'https://sandbox.override');
    });
    withEnv({ PORTER_CLUSTER_ID: '456', PORTER_SANDBOX_API_KEY: token({ project_id: 123 }) }, () => {
      assert.equal(new Porter().baseUrl, 'https://dashboard.porter.run/api/v2/alpha/projects/123/clusters/456');
    });
    withEnv({ PORTER_CLUSTER_ID: '651' }, () => {
      const key = token({ iat: '1783537707', project_id: 1, sub: 'x', sub_kind: 'y', token_id: 'z' });
      assert.equal(new Porter({ apiKey: key }).baseUrl, 'https://dashboard.porter.run/api/v2/alpha/projects/1/clusters/651');
    });
    withEnv({ KUBERNETES_SERVICE_HOST: '10.0.0.1' }, () => {
      assert.equal(new Porter().baseUrl, 'http://sandbox-api.porter-sandbox-system.svc.cluster.local:8080');
      assert.equal(new PorterSandboxApiClient().sandboxes.constructor.name, 'SandboxesResource');
    });
  });

  test('configuration errors are plain Errors naming the Node options', () => {
    const cases = [
      [{}, {}, /Could not determine the sandbox API base URL/],
      [{ PORTER_CLUSTER_ID: '1' }, {}, /PORTER_SANDBOX_API_KEY/],
      [{}, { apiKey: 'key' }, /PORTER_CLUSTER_ID is not/],
      [{ PORTER_CLUSTER_ID: '1' }, { apiKey: 'not-a-jwt' }, /project_id claim/],
      [{ PORTER_CLUSTER_ID: '1' }, { apiKey: 'one.two' }, /project_id claim/],
      [{ PORTER_CLUSTER_ID: '1' }, { apiKey: token({ project_id: '123' }) }, /project_id claim/],
      [{ PORTER_CLUSTER_ID: '1' }, { apiKey: token({ project_id: 0 }) }, /project_id claim/],
      [{ PORTER_CLUSTER_ID: '1' }, { apiKey: token([1]) }, /project_id claim/],
      [{ PORTER_CLUSTER_ID: '1' }, { apiKey: 'header.!!!not-base64!!!.signature' }, /project_id claim/],
    ];
    for (const [env, options, pattern] of cases) {
      withEnv(env, () => {
        assert.throws(
          () => new Porter(options),
          (error) => error instanceof Error && !(error instanceof SandboxError) && pattern.test(error.message),
        );
      });
    }
    withEnv({}, () => {
      assert.throws(() => new Porter(), /baseUrl/);
      assert.throws(() => new Porter({ baseUrl: 'http://h', timeoutMs: -1 }), /timeoutMs/);
      assert.throws(() => new Porter('http://h'), TypeError);
    });
  });
});

describe('errors and transport, against a scripted server', () => {
  let stub;
  const calls = new Map();
  before(async () => {
    stub = await startStub(async (req, res) => {
      const path = req.url.split('?')[0];
      calls.set(path, (calls.get(path) ?? 0) + 1);
      const n = calls.get(path);
      switch (path) {
        case '/v1/sandbox/unauthorized': return json(res, 401, { error: 'bad token' });
        case '/v1/sandbox/missing': return json(res, 404, { error: 'sandbox not found' });
        case '/v1/sandbox/limited': return json(res, 429, { error: 'slow down' });
        case '/v1/sandbox/broken': return json(res, 503, { error: 'unavailable', detail: 1 });
        case '/v1/sandbox/conflict': res.writeHead(409, { 'content-type': 'text/plain' }); return res.end('already exists');
        case '/v1/sandbox/empty': res.writeHead(400); return res.end();
        case '/v1/sandbox/flaky':
          if (n === 1) return json(res, 502, { error: 'try again' });
          return json(res, 200, status('flaky'));
        case '/v1/sandbox/slow': await new Promise((r) => setTimeout(r, 800)); return json(res, 200, status('slow'));
        case '/v1/sandbox/slow/exec': await new Promise((r) => setTimeout(r, 300)); return json(res, 503, { error: 'exec failed' });
        case '/v1/volume/lookup': return json(res, 200, { id: req.url.includes('bucket-no-spec') ? 'vol-nospec' : 'vol-bucket' });
        case '/v1/volume/vol-bucket': return json(res, 200, volumeRecord('vol-bucket', { bucket: 'b', prefix: 'p/', access: 'read_only' }));
        case '/v1/volume/vol-nospec': return json(res, 200, volumeRecord('vol-nospec', undefined));
        default: return json(res, 404, { error: `no route ${path}` });
      }
    });
  });
  after(() => stub.close());

  function status(id) {
    return { id, name: id, image: 'host', phase: 'running', created_at: '2026-01-01T00:00:00Z', host: '' };
  }
  function volumeRecord(id, object) {
    return { id, name: id, type: 'object', object, path: '', phase: 'ready', attached_to: [], created_at: '2026-01-01T00:00:00.5Z' };
  }

  test('each status maps to its class, with statusCode, body and name', async () => {
    const porter = new Porter({ baseUrl: stub.baseUrl, maxRetries: 0 });
    const raw = porter.raw.sandboxes;
    const expect = async (id, Class, statusCode, message, body, kind) => {
      const error = await raw.get(id).then(() => assert.fail('no error'), (e) => e);
      assert.ok(error instanceof Class, `${id}: ${error}`);
      assert.ok(error instanceof SandboxError);
      assert.ok(error instanceof Error);
      assert.equal(error.name, Class.name);
      assert.equal(error.statusCode, statusCode);
      assert.equal(error.message, message);
      assert.deepEqual(error.body, body);
      assert.equal(error.kind, kind);
      assert.ok(error.stack.includes(Class.name));
    };
    await expect('unauthorized', AuthenticationError, 401, 'bad token', { error: 'bad token' }, 'authentication');
    await expect('missing', NotFoundError, 404, 'sandbox not found', { error: 'sandbox not found' }, 'not_found');
    await expect('limited', RateLimitError, 429, 'slow down', { error: 'slow down' }, 'rate_limit');
    await expect('broken', ServerError, 503, 'unavailable', { error: 'unavailable', detail: 1 }, 'server');
    await expect('conflict', SandboxError, 409, 'HTTP 409', 'already exists', 'api');
    await expect('empty', SandboxError, 400, 'HTTP 400', null, 'api');
  });

  test('error classes can be constructed as in the official SDK', () => {
    const e = new NotFoundError('gone', { statusCode: 404, body: { error: 'gone' } });
    assert.equal(e.name, 'NotFoundError');
    assert.equal(e.statusCode, 404);
    const t = new SandboxTimeoutError('late');
    assert.equal(t.statusCode, null);
    assert.equal(t.body, null);
    assert.equal(new SandboxError('x').statusCode, null);
    assert.equal(e.kind, 'not_found');
    assert.equal(t.kind, 'timeout');
    assert.equal(new SandboxError('x', { kind: 'decode' }).kind, 'decode');
  });

  test('5xx is retried; exhausted retries raise the mapped error', async () => {
    const porter = new Porter({ baseUrl: stub.baseUrl });
    assert.equal((await porter.sandboxes.raw.get('flaky')).id, 'flaky');
    assert.equal(calls.get('/v1/sandbox/flaky'), 2);
    const before = calls.get('/v1/sandbox/broken') ?? 0;
    const one = new Porter({ baseUrl: stub.baseUrl, maxRetries: 1 });
    await assert.rejects(one.sandboxes.raw.get('broken'), ServerError);
    assert.equal(calls.get('/v1/sandbox/broken') - before, 2);
  });

  test('exec is never retried', async () => {
    const porter = new Porter({ baseUrl: stub.baseUrl });
    const sandbox = porter.sandboxes.raw;
    await assert.rejects(sandbox.exec('slow', { command: ['true'] }), ServerError);
    assert.equal(calls.get('/v1/sandbox/slow/exec'), 1);
  });

  test('timeouts raise SandboxTimeoutError at once, never retried', async () => {
    const before = calls.get('/v1/sandbox/slow') ?? 0;
    const porter = new Porter({ baseUrl: stub.baseUrl, timeoutMs: 100 });
    const error = await porter.raw.sandboxes.get('slow').catch((e) => e);
    assert.ok(error instanceof SandboxTimeoutError, String(error));
    assert.equal(error.name, 'SandboxTimeoutError');
    assert.equal(error.statusCode, null);
    assert.equal(calls.get('/v1/sandbox/slow') - before, 1);
    // A per-request timeout on exec; null means none.
    await assert.rejects(porter.raw.sandboxes.exec('slow', { command: ['x'] }, { timeoutMs: 50 }), SandboxTimeoutError);
    await assert.rejects(porter.raw.sandboxes.exec('slow', { command: ['x'] }, { timeoutMs: null }), ServerError);
  });

  test('network errors after retries', async () => {
    const porter = new Porter({ baseUrl: 'http://127.0.0.1:9', maxRetries: 1 });
    const error = await porter.healthz.healthCheck().catch((e) => e);
    assert.ok(error instanceof SandboxError);
    assert.equal(error.kind, 'network');
    assert.equal(error.constructor, SandboxError);
    assert.match(error.message, /^Network error: /);
    assert.equal(error.statusCode, null);
  });

  test('User-Agent and Authorization headers', async () => {
    const porter = new Porter({ baseUrl: stub.baseUrl, apiKey: 'secret-key' });
    await porter.sandboxes.raw.get('flaky');
    const request = stub.requests.at(-1);
    assert.equal(request.headers['user-agent'], `porter-sandbox-node/${VERSION}`);
    assert.equal(request.headers.authorization, 'Bearer secret-key');
    assert.equal(VERSION, require('../package.json').version);
    const anonymous = new Porter({ baseUrl: stub.baseUrl });
    await anonymous.sandboxes.raw.get('flaky');
    assert.equal(stub.requests.at(-1).headers.authorization, undefined);
  });

  test('calls after close() fail with a SandboxError', async () => {
    const porter = new Porter({ baseUrl: stub.baseUrl });
    porter.close();
    porter.close();
    await assert.rejects(porter.sandboxes.raw.get('flaky'), SandboxError);
    const raw = new PorterSandboxApiClient({ baseUrl: stub.baseUrl });
    raw.close();
    await assert.rejects(raw.healthz.healthCheck(), SandboxError);
  });

  test('object volumes: ObjectVolume with its object spec, no file methods', async () => {
    const porter = new Porter({ baseUrl: stub.baseUrl });
    const bucket = await porter.volumes.get('bucket');
    assert.ok(bucket instanceof ObjectVolume);
    assert.ok(!(bucket instanceof Volume));
    assert.equal(bucket.type, 'object');
    assert.deepEqual(bucket.object, { bucket: 'b', prefix: 'p/', access: 'read_only' });
    assert.equal(bucket.createdAt.toISOString(), '2026-01-01T00:00:00.500Z');
    assert.equal(bucket.listdir, undefined);
    assert.equal(bucket.path, undefined);
    const missing = await porter.volumes.get('bucket-no-spec');
    assert.throws(() => missing.object, (e) => e instanceof SandboxError && e.message === 'volume record is missing its object spec');
    const refreshed = await bucket.refresh();
    assert.equal(refreshed.id, 'vol-bucket');
  });

  test('invalid arguments are rejected before any request', async () => {
    const porter = new Porter({ baseUrl: stub.baseUrl });
    const count = stub.requests.length;
    await assert.rejects(porter.sandboxes.create({ name: 'no-image' }), /invalid sandbox spec/);
    await assert.rejects(porter.sandboxes.list({ phases: ['running'] }), /unknown field/);
    await assert.rejects(porter.raw.sandboxes.exec('x', { command: 'ls' }), /invalid exec request/);
    assert.equal(stub.requests.length, count);
  });
});
