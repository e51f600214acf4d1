// The conformance runner for Node: interprets the scenario files with the Node package (node/,
// as scripts/node.sh built it) and writes one JSON line per step to CONFORMANCE_OUT.
// The operations and their canonical results are documented in ../README.md.
import { randomBytes } from 'node:crypto';
import { openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = join(fileURLToPath(import.meta.url), '../../../../node/index.mjs');
const { Porter, SandboxError } = await import(pkg);

const WAIT_MS = 60_000;
const VAR = /\$\{([a-z0-9_]+)(?:\.([a-z0-9_]+))?\}/g;
const env = process.env;
const run = `nd${randomBytes(4).toString('hex')}`;
const out = openSync(env.CONFORMANCE_OUT, 'w');
const emit = (record) => writeSync(out, `${JSON.stringify(record)}\n`);

function substitute(value, vars) {
  if (typeof value === 'string') {
    return value.replace(VAR, (_, name, field) => String(field ? vars[name][field] : vars[name]));
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, vars));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, vars)]));
  }
  return value;
}

/** The object without its undefined members (options the scenario does not set). */
const defined = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

const status = (s) => ({
  id: s.id,
  name: s.name,
  image: s.image,
  phase: s.phase,
  tags: s.tags ?? null,
  exit_code: s.exit_code ?? null,
  termination_reason: s.termination_reason ?? null,
});
const snapshot = (s) => ({ id: s.id, sandbox_id: s.sandbox_id, mode: s.mode, status: s.status });
const execResult = (r) => ({
  exit_code: r.exit_code, stdout: r.stdout, stderr: r.stderr, timed_out: r.timed_out ?? null,
});
const entry = (f) => ({
  name: f.name,
  path: f.path,
  type: f.type,
  ...(f.type === 'file' ? { size: f.sizeBytes } : {}),
});

function error(e) {
  if (e instanceof SandboxError) {
    return { kind: e.kind, status: e.statusCode, message: e.message, body: e.body ?? null };
  }
  // An argument the native layer refuses before calling the core is a plain Error with the
  // Node-API status as its code (Node's idiom, like Python's ValueError): README.md.
  if (e instanceof Error && e.code === 'InvalidArg') {
    return { kind: 'invalid_argument', status: null, message: e.message };
  }
  throw e;
}

function client(name, scenario) {
  const config = scenario.client ?? {};
  const local = scenario.server === 'local';
  const options = {
    baseUrl: local ? env.CONFORMANCE_LOCAL_URL : `${env.CONFORMANCE_FAULT_URL}/${name}.${run}`,
  };
  const apiKey = config.api_key ?? (local ? env.CONFORMANCE_LOCAL_KEY : undefined);
  if (apiKey !== undefined) options.apiKey = apiKey;
  if (config.timeout_ms !== undefined) options.timeoutMs = config.timeout_ms;
  return new Porter(options);
}

async function op(porter, name, op, a, h) {
  switch (op) {
    case 'create_sandbox': {
      const sb = await porter.sandboxes.create(defined({
        image: a.image, name: a.name, command: a.command, tags: a.tags, snapshot_id: a.snapshot_id,
      }));
      return [{ id: sb.id }, sb];
    }
    case 'wait_until_running':
      return [status(await h[a.sandbox].waitUntilRunning({ timeoutMs: WAIT_MS }))];
    case 'wait':
      return [{ exit_code: await h[a.sandbox].wait({ timeoutMs: WAIT_MS }) }];
    case 'refresh':
      return [status(await h[a.sandbox].refresh())];
    case 'get_sandbox':
      return [status((await porter.sandboxes.get(a.name)).status)];
    case 'get_sandbox_by_id':
      return [status(await porter.raw.sandboxes.get(a.id))];
    case 'exec':
      return [execResult(await h[a.sandbox].exec(a.command, defined({
        timeoutMs: a.timeout_ms, workdir: a.workdir, env: a.env, stdin: a.stdin,
      })))];
    case 'exec_by_id':
      return [execResult(await porter.raw.sandboxes.exec(a.id, { command: a.command }))];
    case 'start_process':
      return [{ started: Boolean(await h[a.sandbox].start(a.command)) }];
    case 'logs': {
      const lines = await h[a.sandbox].logs(defined({ limit: a.limit }));
      return [{
        lines: lines.map((l) => l.line),
        levels: lines.map((l) => l.level),
        from_exec: lines.map((l) => Boolean(l.exec_id)),
      }];
    }
    case 'list_sandboxes': {
      const found = await porter.sandboxes.list(defined({ tags: a.tags, phase: a.phase }));
      return [{ ids: found.map((sb) => sb.id) }];
    }
    case 'terminate':
      await h[a.sandbox].terminate();
      return [{}];
    case 'create_volume': {
      const vol = await porter.volumes.create({ name: a.name });
      return [{ id: vol.id, name: vol.name }, vol];
    }
    case 'get_volume': {
      const vol = await porter.volumes.get(a.name);
      return [{ id: vol.id, name: vol.name }];
    }
    case 'delete_volume':
      await porter.volumes.delete(a.name);
      return [{}];
    case 'write_file':
      await h[a.volume].writeFile(a.path, Buffer.from(a.base64, 'base64'));
      return [{}];
    case 'read_file': {
      const data = await h[a.volume].readFile(a.path, defined({ offset: a.offset, length: a.length }));
      return [{ base64: Buffer.from(data).toString('base64'), size: data.length }];
    }
    case 'stream': {
      const chunks = [];
      for await (const chunk of h[a.volume].stream(a.path, { chunkSize: a.chunk_size })) {
        chunks.push(Buffer.from(chunk).toString('base64'));
      }
      return [{ chunks }];
    }
    case 'move_file':
      await h[a.volume].moveFile(a.from, a.to);
      return [{}];
    case 'listdir':
      return [{ entries: (await h[a.volume].listdir(a.path)).map(entry) }];
    case 'create_snapshot':
      return [snapshot(await porter.snapshots.create(h[a.sandbox].id, {}))];
    case 'wait_snapshot': {
      const deadline = Date.now() + WAIT_MS;
      for (;;) {
        const found = await porter.snapshots.get(a.id);
        if (found.status !== 'pending' || Date.now() > deadline) return [snapshot(found)];
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    case 'get_snapshot':
      return [snapshot(await porter.snapshots.get(a.id))];
    case 'delete_snapshot':
      await porter.snapshots.delete(a.id);
      return [{}];
    case 'close_client':
      porter.close();
      return [{}];
    case 'healthz':
      return [{ status: (await porter.healthz.healthCheck()).status }];
    case 'fault_log': {
      const response = await fetch(`${env.CONFORMANCE_FAULT_URL}/__log/${name}.${run}`);
      return [await response.json()];
    }
    default:
      throw new Error(`operation ${op} is not implemented by this runner`);
  }
}

async function runScenario(name, scenario) {
  const vars = { run };
  const handles = {};
  const porter = client(name, scenario);
  try {
    for (const [index, step] of scenario.steps.entries()) {
      const args = substitute(step.args ?? {}, vars);
      const record = { type: 'step', scenario: name, index, op: step.op };
      let result;
      let handle;
      const started = performance.now();
      try {
        [result, handle] = await op(porter, name, step.op, args, handles);
      } catch (e) {
        emit({ ...record, ok: false, error: error(e), elapsed_ms: Math.round(performance.now() - started) });
        if (!('expect_error' in step)) break;
        continue;
      }
      emit({ ...record, ok: true, result, elapsed_ms: Math.round(performance.now() - started) });
      if (step.save) {
        vars[step.save] = result;
        if (handle) handles[step.save] = handle;
      }
    }
  } finally {
    for (const handle of Object.values(handles)) {
      try {
        await (handle.terminate ? handle.terminate() : handle.delete());
      } catch (e) {
        if (!(e instanceof SandboxError)) throw e;
      }
    }
    porter.close();
  }
}

const skip = new Set((env.CONFORMANCE_SKIP ?? '').split(',').filter(Boolean));
emit({ type: 'start', run });
for (const file of readdirSync(env.CONFORMANCE_SCENARIOS).filter((f) => f.endsWith('.json')).sort()) {
  const name = file.slice(0, -'.json'.length);
  if (skip.has(name)) continue;
  try {
    await runScenario(name, JSON.parse(readFileSync(join(env.CONFORMANCE_SCENARIOS, file), 'utf8')));
  } catch (e) {
    emit({ type: 'crash', scenario: name, detail: String(e?.stack ?? e) });
  }
}
if (!skip.has('fixtures')) {
  throw new Error('Node has no model layer to round-trip fixtures through: list it in not_applicable.json');
}
emit({ type: 'end' });
