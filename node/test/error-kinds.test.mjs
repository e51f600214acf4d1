// Every error kind of the Rust core (`ErrorKind::as_str` in core/src/error.rs) reaches Node: as
// `SandboxError.kind` on the class node/README.md's table names (`config` as a plain `Error`
// from the constructor), each produced the way a user meets it against a scripted server. The
// README table and index.d.ts's `SandboxErrorKind` list exactly the core's kinds.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import ts from 'typescript';

import * as sdk from 'porter-sandbox';
import { startStub, json } from './stub.mjs';

const read = (path) => readFileSync(new URL(path, import.meta.url), 'utf8');

function coreKinds() {
  const source = read('../../core/src/error.rs');
  let body = source.slice(source.indexOf('pub fn as_str(self)'));
  body = body.slice(0, body.indexOf('\n    }\n'));
  const kinds = [...body.matchAll(/Self::\w+ => "([a-z_]+)"/g)].map((m) => m[1]);
  assert.ok(kinds.length >= 12, String(kinds));
  return kinds;
}

/** `kind` → the class column of node/README.md's error table. */
function readmeTable() {
  const rows = [...read('../README.md').matchAll(/^\| `([a-z_]+)` \| [^|]+ \| (.+) \|$/gm)];
  return new Map(rows.filter((m) => m[1] !== 'kind').map((m) => [m[1], m[2]])); // not the header
}

/** The members of index.d.ts's `SandboxErrorKind` union, read with the TypeScript compiler API. */
function declaredKinds() {
  const source = ts.createSourceFile('index.d.ts', read('../index.d.ts'), ts.ScriptTarget.Latest, true);
  const alias = source.statements.find((s) => ts.isTypeAliasDeclaration(s) && s.name.text === 'SandboxErrorKind');
  return alias.type.types.map((t) => t.literal.text);
}

const STATUS = { id: 'sb-1', name: 'one', image: 'host', phase: 'running', created_at: '2024-01-01T00:00:00Z', host: 'h' };

let stub;
let route = () => {};

before(async () => {
  stub = await startStub((req, res) => route(req, res));
});

after(async () => {
  await stub?.close();
});

/** A client of the stub, which answers with `answer(req, res)`. */
function client(answer, options = {}) {
  route = answer;
  return new sdk.Porter({ baseUrl: stub.baseUrl, apiKey: 'k', ...options });
}

// Retry-After: 0 keeps the retries of 429 and 5xx quick.
const status = (code) => (req, res) => {
  res.writeHead(code, { 'content-type': 'application/json', 'retry-after': '0' });
  res.end(JSON.stringify({ error: `status ${code}` }));
};

const handle = async (porter) => (await porter.sandboxes.list()).at(0);
const listed = (phase) => (req, res) => {
  if (req.url.startsWith('/v1/sandbox/sb-1/logs')) return json(res, 200, { sandbox_id: 'sb-1', logs: [] });
  if (req.url.startsWith('/v1/sandbox/sb-1')) return json(res, 200, { ...STATUS, phase, termination_reason: 'launch_failed' });
  if (req.url.startsWith('/v1/sandbox')) {
    return json(res, 200, { sandboxes: [{ ...STATUS, phase }], pagination: { current_page: 1, total_pages: 1, has_next_page: false } });
  }
  return json(res, 404, { error: 'not found' });
};

/** kind → how a user meets it. */
const SCENARIOS = {
  authentication: () => client(status(401)).healthz.healthCheck(),
  not_found: () => client(status(404)).raw.sandboxes.get('sb-1'),
  rate_limit: () => client(status(429)).healthz.healthCheck(),
  server: () => client(status(503)).healthz.healthCheck(),
  api: () => client(status(409)).raw.sandboxes.get('sb-1'),
  timeout: () =>
    client((req, res) => setTimeout(() => json(res, 200, STATUS), 1000), { timeoutMs: 200 }).raw.sandboxes.get('sb-1'),
  network: () => new sdk.Porter({ baseUrl: 'http://127.0.0.1:9', apiKey: 'k', maxRetries: 0 }).healthz.healthCheck(),
  decode: () =>
    client((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{not json');
    }).raw.sandboxes.get('sb-1'),
  invalid_argument: async () => {
    const porter = client((req, res) => json(res, 200, STATUS));
    porter.close();
    return porter.raw.sandboxes.get('sb-1');
  },
  sandbox_terminal: async () => (await handle(client(listed('failed')))).waitUntilRunning({ timeoutMs: 30_000 }),
  unsupported: async () => (await handle(client(listed('running')))).start(['true']),
  config: () => new sdk.Porter({ baseUrl: 'not a url', apiKey: 'k' }),
};

test('the README table and SandboxErrorKind list every core kind', () => {
  const kinds = coreKinds();
  assert.deepEqual([...readmeTable().keys()].sort(), [...kinds].sort());
  // Configuration problems are plain Errors: no kind to declare.
  assert.deepEqual(declaredKinds().sort(), kinds.filter((k) => k !== 'config').sort());
});

test('every core kind has a scenario', () => {
  assert.deepEqual(Object.keys(SCENARIOS).sort(), coreKinds().sort());
});

for (const kind of Object.keys(SCENARIOS).sort()) {
  test(`${kind}: raised as the table says`, async () => {
    const expected = readmeTable().get(kind);
    let error;
    try {
      await SCENARIOS[kind]();
    } catch (e) {
      error = e;
    }
    assert.ok(error, 'no error');
    if (kind === 'config') {
      assert.match(expected, /plain `Error`/);
      assert.ok(!(error instanceof sdk.SandboxError), String(error));
      assert.equal(error.kind, undefined);
      return;
    }
    assert.ok(error instanceof sdk.SandboxError, String(error));
    assert.equal(error.kind, kind, String(error));
    assert.equal(`\`${error.constructor.name}\``, expected);
  });
}
