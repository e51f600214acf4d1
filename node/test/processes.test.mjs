// Processes against a real `porter-sandbox serve`: live output, replay from any offset by another
// client, binary stdin, a terminal, deadlines, waits that give up, signals, the listing, and
// leaving a `for await` early; `UnsupportedError` against a server without the extension.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

import { Porter, Process, SandboxError, SandboxTimeoutError, NotFoundError, UnsupportedError } from 'porter-sandbox';
import { startServer } from './server.mjs';
import { startStub, json } from './stub.mjs';

const execNode = promisify(execFile);
const indexJs = fileURLToPath(new URL('../index.js', import.meta.url));

let server;
let porter;
let sandbox;
const name = `processes-${Date.now().toString(36)}`;

before(async () => {
  server = await startServer();
  porter = new Porter({ baseUrl: server.baseUrl });
  sandbox = await porter.sandboxes.create({ image: 'host', name, command: ['sleep', 'infinity'] });
  await sandbox.waitUntilRunning({ timeoutMs: 60_000 });
});

after(async () => {
  await sandbox?.terminate().catch(() => {});
  porter?.close();
  await server?.stop();
});

/** Every output byte from `offset` to the end, per stream. */
async function collect(proc, offset = 0) {
  const out = [];
  const err = [];
  for await (const chunk of proc.output({ offset })) (chunk.stream === 'stderr' ? err : out).push(chunk.data);
  return { out: Buffer.concat(out), err: Buffer.concat(err) };
}

/**
 * Starts a process that writes a line once it runs, and returns when that line arrived: a signal
 * is only sent to processes that exist.
 */
async function running(command, options) {
  const proc = await sandbox.start(command, options);
  for await (const chunk of proc.output()) {
    assert.ok(chunk.data.length > 0);
    break;
  }
  return proc;
}

/** `seq from to` output. */
function lines(from, to) {
  let text = '';
  for (let n = from; n <= to; n++) text += `${n}\n`;
  return Buffer.from(text);
}

test('output is streamed live, tagged by stream, and ends with the status', async () => {
  const proc = await sandbox.start(['sh', '-c', 'echo first; sleep 2; echo oops >&2; seq 1 300; exit 3']);
  assert.ok(proc instanceof Process);
  assert.ok(proc.id.length > 0);
  assert.equal(proc.sandboxId, sandbox.id);
  const out = [];
  const err = [];
  let first = null;
  for await (const chunk of proc.output()) {
    if (first === null) {
      first = chunk;
      // The first line arrives while the command still sleeps.
      assert.equal(await proc.poll(), null);
    }
    assert.ok(Buffer.isBuffer(chunk.data));
    assert.equal(typeof chunk.offset, 'number');
    (chunk.stream === 'stderr' ? err : out).push(chunk.data);
  }
  assert.deepEqual([first.stream, first.data.toString(), first.offset], ['stdout', 'first\n', 0]);
  assert.equal(Buffer.concat(err).toString(), 'oops\n');
  assert.deepEqual(Buffer.concat(out), Buffer.concat([Buffer.from('first\n'), lines(1, 300)]));
  const last = proc.lastStatus;
  assert.deepEqual([last.state, last.exit_code, last.timed_out], ['exited', 3, false]);
  const status = await proc.wait();
  assert.deepEqual(
    [status.exec_id, status.sandbox_id, status.command, status.state, status.exit_code, status.pty, status.stdin_open],
    [proc.id, sandbox.id, ['sh', '-c', 'echo first; sleep 2; echo oops >&2; seq 1 300; exit 3'], 'exited', 3, false, false],
  );
  assert.deepEqual([status.stderr_bytes, status.output_start, status.output_end], [5, 0, status.stdout_bytes + 5]);
  assert.equal(typeof status.started_at, 'string');
  assert.equal(typeof status.ended_at, 'string');
  assert.equal(await proc.poll(), 3);
  assert.equal((await proc.status()).state, 'exited');
});

test('another client replays every byte from 0 and from the middle', async () => {
  const proc = await sandbox.start(['sh', '-c', 'seq 1 20000; sleep 0.3; seq 20001 40000']);
  // A reader that goes away in the middle.
  let seen = 0;
  for await (const chunk of proc.output()) {
    seen = chunk.offset + chunk.data.length;
    if (seen >= 10_000) break;
  }
  const other = new Porter({ baseUrl: server.baseUrl });
  try {
    const again = await (await other.sandboxes.get(name)).process(proc.id);
    assert.equal(again.id, proc.id);
    const all = (await collect(again, 0)).out;
    assert.ok(all.equals(lines(1, 40000)), 'replay from 0 differs');
    let firstOffset = null;
    const tail = [];
    for await (const chunk of again.output({ offset: seen })) {
      firstOffset ??= chunk.offset;
      tail.push(chunk.data);
    }
    assert.equal(firstOffset, seen);
    assert.ok(Buffer.concat(tail).equals(all.subarray(seen)), 'replay from the middle differs');
    assert.equal(again.lastStatus.exit_code, 0);
  } finally {
    other.close();
  }
});

test('binary stdin round-trips 2 MB through cat', async () => {
  const proc = await sandbox.start(['cat'], { stdin: true });
  assert.equal(proc.lastStatus.stdin_open, true);
  const data = randomBytes(2 * 1024 * 1024);
  const reader = collect(proc);
  await proc.writeStdin(data);
  await proc.closeStdin();
  const { out } = await reader;
  assert.equal(out.length, data.length);
  assert.ok(out.equals(data), 'stdin came back changed');
  assert.equal((await proc.wait({ timeoutMs: 30_000 })).exit_code, 0);
  await assert.rejects(proc.writeStdin(42), TypeError);
});

test('a terminal is a tty, 80x24 by default, and sees its resize', async () => {
  const proc = await sandbox.start(['sh'], { stdin: true, pty: true });
  await proc.writeStdin('tty; stty size\n');
  let text = '';
  let end = 0;
  for await (const chunk of proc.output()) {
    text += chunk.data.toString();
    end = chunk.offset + chunk.data.length;
    if (text.includes('24 80')) break;
  }
  assert.match(text, /\/dev\/pts\//);
  await proc.resize(120, 40);
  await proc.writeStdin('stty size; exit 5\n');
  // Going on from where the first loop stopped.
  for await (const chunk of proc.output({ offset: end })) text += chunk.data.toString();
  assert.match(text, /40 120/);
  const status = proc.lastStatus;
  assert.deepEqual([status.pty, status.exit_code, status.state], [true, 5, 'exited']);

  const sized = await sandbox.start(['sh'], { stdin: true, pty: { cols: 100, rows: 30 } });
  await sized.writeStdin('stty size; exit\n');
  assert.match((await collect(sized)).out.toString(), /^30 100\r?$/m);
  await assert.rejects(sandbox.start(['sh'], { pty: { cols: 0, rows: 24 } }), /terminal size/);
});

test('a deadline kills the tree: state timed_out, exit code 124, the output kept', async () => {
  const proc = await sandbox.start(['sh', '-c', 'echo up; sleep 1000 & sleep 1000'], { timeoutMs: 1000 });
  const status = await proc.wait({ timeoutMs: 20_000 });
  assert.deepEqual([status.state, status.exit_code, status.timed_out], ['timed_out', 124, true]);
  assert.equal((await collect(proc)).out.toString(), 'up\n');
  const list = "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline; echo; done";
  const left = (await sandbox.exec(['sh', '-c', list])).stdout;
  assert.ok(!left.includes('sleep 1000'), `left running: ${left}`);
});

test('wait gives up with a timeout error, kill ends it, the listing has it, unknown ids are not found', async () => {
  const proc = await running(['sh', '-c', 'echo "$A $PWD"; exec sleep 1000'], { workdir: '/tmp', env: { A: 'b' } });
  assert.equal(await proc.poll(), null);
  const started = Date.now();
  await assert.rejects(proc.wait({ timeoutMs: 200 }), (error) => {
    assert.ok(error instanceof SandboxTimeoutError, String(error));
    assert.equal(error.kind, 'timeout');
    return true;
  });
  assert.ok(Date.now() - started < 10_000);
  assert.equal((await proc.status()).state, 'running');
  await proc.kill();
  const status = await proc.wait({ timeoutMs: 20_000 });
  assert.deepEqual([status.state, status.exit_code, status.signal], ['killed', 137, 'SIGKILL']);

  assert.equal((await collect(proc)).out.toString(), 'b /tmp\n');

  const term = await running(['sh', '-c', 'echo up; exec sleep 1000']);
  await term.kill('TERM');
  assert.deepEqual((({ state, exit_code }) => [state, exit_code])(await term.wait({ timeoutMs: 20_000 })), ['killed', 143]);
  await assert.rejects(term.kill('SIGNOPE'), (error) => error instanceof SandboxError && error.statusCode === 400);

  const listed = await sandbox.processes();
  assert.ok(listed.every((p) => p instanceof Process));
  const ids = listed.map((p) => p.id);
  assert.ok(ids.includes(proc.id) && ids.includes(term.id));
  assert.equal(listed.find((p) => p.id === proc.id).lastStatus.state, 'killed');
  await assert.rejects(sandbox.process('no-such-process'), NotFoundError);
});

/** Established TCP connections to the server (client ends; the tests' only clients are here). */
function connectionsToServer() {
  const port = Number(new URL(server.baseUrl).port).toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length > 3 && f[2].endsWith(`:${port}`) && f[3] === '01').length;
}

test('leaving the output early closes its stream and connection', async () => {
  const proc = await sandbox.start(['sh', '-c', 'echo hi; sleep 1000']);
  const baseline = connectionsToServer();
  const readers = [];
  for (let i = 0; i < 6; i++) {
    const reader = proc.output();
    assert.equal((await reader.next()).value.data.toString(), 'hi\n');
    readers.push(reader);
  }
  // Six streams follow the running process, each on its own connection (an idle one may be reused).
  assert.ok(connectionsToServer() >= 6, `${connectionsToServer()} connections`);
  // What `break` in a `for await` does; the native stream is closed when it resolves (without
  // that, only the garbage collector would close the connections, some time later).
  for (const reader of readers) assert.deepEqual(await reader.return(), { value: undefined, done: true });
  const deadline = Date.now() + 2_000;
  while (connectionsToServer() > baseline + 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(connectionsToServer() <= baseline + 1, `${connectionsToServer()} connections left, ${baseline} before`);
  await proc.kill();
  await proc.wait({ timeoutMs: 20_000 });
});

test('leaving a for await early stops the stream and lets node exit', async () => {
  // A separate node process: it must end on its own after the loop, with the process still
  // running in the sandbox and the client never closed.
  const script = `
    const { Porter } = require(${JSON.stringify(indexJs)});
    (async () => {
      const sandbox = await new Porter({ baseUrl: ${JSON.stringify(server.baseUrl)} }).sandboxes.get(${JSON.stringify(name)});
      const proc = await sandbox.start(['sh', '-c', 'echo hi; sleep 1000']);
      for await (const chunk of proc.output()) {
        console.log(proc.id, chunk.data.toString().trim());
        break;
      }
      console.log(await proc.poll());
    })();`;
  const { stdout } = await execNode(process.execPath, ['-e', script], { timeout: 30_000 });
  const [first, after] = stdout.trim().split('\n');
  const [id, word] = first.split(' ');
  assert.deepEqual([word, after], ['hi', 'null']);
  const proc = await sandbox.process(id);
  assert.equal((await proc.status()).state, 'running');
  await proc.kill();
  assert.equal((await proc.wait({ timeoutMs: 20_000 })).state, 'killed');
});

test('a server without processes: UnsupportedError at once', async () => {
  const stub = await startStub((req, res) => {
    // Sandboxes can be created (for a handle); everything else is unknown, as on a server that
    // predates the extensions.
    if (req.method === 'POST' && req.url === '/v1/sandbox/run') return json(res, 200, { id: 'sb-1', name: 'stub' });
    return json(res, 404, { error: 'not found' });
  });
  const client = new Porter({ baseUrl: stub.baseUrl, apiKey: 'k', maxRetries: 0 });
  try {
    const remote = await client.sandboxes.create({ image: 'host' });
    const started = Date.now();
    await assert.rejects(remote.start(['true']), (error) => {
      assert.ok(error instanceof UnsupportedError, String(error));
      assert.ok(error instanceof SandboxError);
      assert.equal(error.kind, 'unsupported');
      assert.equal(error.name, 'UnsupportedError');
      assert.match(error.message, /does not offer processes/);
      return true;
    });
    assert.ok(Date.now() - started < 5_000);
    await assert.rejects(remote.processes(), UnsupportedError);
    await assert.rejects(remote.process('x'), UnsupportedError);
    // One discovery call, cached; never a request for the process itself.
    const urls = stub.requests.map((r) => r.url);
    assert.equal(urls.filter((u) => u === '/v1/extensions').length, 1);
    assert.ok(!urls.some((u) => u.includes('/processes')), urls.join(' '));
  } finally {
    client.close();
    await stub.close();
  }
});
