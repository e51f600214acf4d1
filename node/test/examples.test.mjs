// The package as a user gets it: `npm pack`, installed into a fresh project, used with require and
// import, type-checked there, and running the TypeScript examples (the seed reference page and the
// official README, compiled by tsc) against the local server.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { startServer } from './server.mjs';

const exec = promisify(execFile);
const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const tsc = join(pkgDir, 'node_modules', '.bin', 'tsc');

let server;
let project;

function node(args, env = {}) {
  return exec(process.execPath, args, {
    cwd: project,
    env: { ...process.env, PORTER_SANDBOX_BASE_URL: server.baseUrl, ...env },
    timeout: 120_000,
  });
}

before(async () => {
  server = await startServer();
  project = mkdtempSync(join(tmpdir(), 'porter-sandbox-fresh-project-'));
  const { stdout } = await exec('npm', ['pack', '--pack-destination', project, '--silent'], { cwd: pkgDir });
  const tarball = join(project, stdout.trim().split('\n').at(-1));
  assert.ok(existsSync(tarball), `npm pack made no ${tarball}`);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'fresh-project', version: '1.0.0', private: true }));
  await exec('npm', ['install', '--no-audit', '--no-fund', '--offline', tarball], { cwd: project, timeout: 120_000 });
});

after(async () => {
  await server?.stop();
  if (project) rmSync(project, { recursive: true, force: true });
});

test('the packed package holds the module, its types and the native binary only', () => {
  const files = readdirSync(join(project, 'node_modules', 'porter-sandbox')).sort();
  assert.deepEqual(
    files.filter((f) => !f.endsWith('.node')),
    ['LICENSE', 'README.md', 'index.d.ts', 'index.js', 'index.mjs', 'lib', 'package.json'].filter((f) => files.includes(f)),
  );
  assert.ok(files.some((f) => /^porter-sandbox\..+\.node$/.test(f)));
});

test('require() and import work from a fresh project', async () => {
  const cjs = await node(['-e', `const { Porter, SandboxError } = require('porter-sandbox');
    new Porter().healthz.healthCheck().then((h) => console.log(h.status, typeof SandboxError));`]);
  assert.equal(cjs.stdout.trim(), 'ok function');
  const esm = await node(['--input-type=module', '-e', `import { Porter, NotFoundError } from 'porter-sandbox';
    const porter = new Porter();
    try { await porter.sandboxes.get('missing'); } catch (e) { console.log(e instanceof NotFoundError, e.statusCode); }`]);
  assert.equal(esm.stdout.trim(), 'true 404');
});

test('the TypeScript examples type-check (strict) against the installed package and run', async () => {
  const out = join(project, 'examples');
  await exec(tsc, ['-p', join(pkgDir, 'examples'), '--strict', '--outDir', out], { cwd: pkgDir });
  writeFileSync(join(out, 'package.json'), JSON.stringify({ type: 'commonjs' }));
  const { stdout, stderr } = await node([join(out, 'quickstart.js')], { PORTER_SANDBOX_EXAMPLE_IMAGE: 'host' });
  assert.equal(stderr.includes('Error:'), false, stderr);
  assert.match(stdout, /^true /m); // get by name returned the created sandbox
  assert.match(stdout, /running hi 0 /); // status, exec stdout, exit code, log count
  assert.match(stdout, /NotFoundError 404/);
  assert.match(stdout, /\/checkpoints\/model\.safetensors 3145733/);
  assert.match(stdout, /layers: 2/);

  const scoped = await node([join(out, 'scoped.js')], { PORTER_SANDBOX_EXAMPLE_IMAGE: 'host' });
  assert.equal(scoped.stderr.includes('Error:'), false, scoped.stderr);
  assert.match(scoped.stdout, /^running scoped null$/m);
  assert.match(scoped.stdout, /^after scope: terminated$/m); // `await using` terminated it
  assert.match(scoped.stdout, /^exit code: 3$/m);
  assert.match(scoped.stdout, /^same sandbox: true$/m);
  assert.match(scoped.stdout, /^never ran: sandbox_terminal$/m);

  const processes = await node([join(out, 'processes.js')], { PORTER_SANDBOX_EXAMPLE_IMAGE: 'host' });
  assert.equal(processes.stderr.includes('Error:'), false, processes.stderr);
  assert.match(processes.stdout, /^\[stdout @\d+\] compiling$/m);
  assert.match(processes.stdout, /^\[stderr @\d+\] warning$/m);
  assert.match(processes.stdout, /^build: exited 0$/m);
  assert.match(processes.stdout, /^replayed: fed through stdin$/m);
  assert.match(processes.stdout, /^terminal: 30 100 → 40 120$/m);
  assert.match(processes.stdout, /^still running: null$/m);
  assert.match(processes.stdout, /^deadline: timed_out 124 true$/m);
  assert.match(processes.stdout, /^killed: killed$/m);
  assert.match(processes.stdout, /^listed: 5$/m);
});

test('a user TypeScript file type-checks against the installed package', async () => {
  writeFileSync(
    join(project, 'user.ts'),
    `import { Porter, StatusResponsePhase, type StatusResponse, SandboxError, type Volume } from 'porter-sandbox';
     const porter = new Porter({ apiKey: 'k', baseUrl: 'http://127.0.0.1:1', timeoutMs: 1000, maxRetries: 0 });
     async function main(): Promise<StatusResponse> {
       const sb = await porter.sandboxes.create({ image: 'host', tags: { a: 'b' }, volume_mounts: { '/m': 'vol-1' } });
       const phase: StatusResponsePhase | null = sb.phase;
       void phase;
       const v = (await porter.volumes.get('x')) as Volume;
       for await (const chunk of v.stream('/f', { chunkSize: 1024 })) { const n: number = chunk.byteLength; void n; }
       return sb.refresh();
     }
     main().catch((e: unknown) => { if (e instanceof SandboxError) console.log(e.statusCode, e.body); });
     porter.close();
     // @ts-expect-error: phase is read-only and typed
     porter.sandboxes.list({ phase: ['sleeping'] });
    `,
  );
  await exec(tsc, ['--noEmit', '--strict', '--module', 'node16', '--moduleResolution', 'node16', '--types', 'node', '--typeRoots', join(pkgDir, 'node_modules', '@types'), 'user.ts'], { cwd: project });
});
