// Starts `porter-sandbox serve` ($PORTER_SANDBOX_BIN, else $CARGO_TARGET_DIR/debug/porter-sandbox,
// else ../target/debug/porter-sandbox) on a free loopback port with a temporary data directory,
// for the tests and the benchmark.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const here = dirname(fileURLToPath(import.meta.url));
export const serverBinary =
  process.env.PORTER_SANDBOX_BIN ??
  join(resolve(here, '..', '..', process.env.CARGO_TARGET_DIR ?? 'target'), 'debug', 'porter-sandbox');

/** How long a server may take to write its ready file: generous, for a loaded machine. */
const READY_TIMEOUT_MS = 60_000;

/**
 * Waits until `child` (started with `--ready-file readyFile`) has written its ready file and
 * returns it (`url`, `pid`, `data_dir`, `auth`, `api_key_file`); rejects when the child exits
 * first or after READY_TIMEOUT_MS. `output()` gives the server's stderr for the message.
 */
export async function waitReady(child, readyFile, output = () => '') {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    // The server writes it atomically (temporary file + rename): complete once it exists.
    if (existsSync(readyFile)) {
      const ready = JSON.parse(readFileSync(readyFile, 'utf8'));
      if (ready.pid === child.pid) return ready;
    }
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the server exited (${child.exitCode ?? child.signalCode}) before it was ready: ${output()}`);
    }
    if (Date.now() > deadline) throw new Error(`the server wrote no ready file in ${READY_TIMEOUT_MS} ms: ${output()}`);
    await sleep(20);
  }
}

/** Starts a server; resolves `{ baseUrl, stop(), dataDir }` once its ready file is written. */
export async function startServer({ args = [] } = {}) {
  if (!existsSync(serverBinary)) {
    throw new Error(`${serverBinary} is missing: run \`cargo build -p porter-sandbox-cli\` first`);
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'porter-sandbox-node-test-'));
  // The server generates its key and announces itself in this discovery file; clients of this
  // process given only the URL find the key there, as a user's programs do.
  const discoveryFile = join(dataDir, 'local-server.json');
  process.env.PORTER_SANDBOX_DISCOVERY_FILE = discoveryFile;
  const readyFile = join(dataDir, 'ready.json');
  const child = spawn(
    serverBinary,
    // Registry images in tests run on the `host` image when no registry is reachable.
    ['serve', '--listen', '127.0.0.1:0', '--data-dir', join(dataDir, 'data'), '--ephemeral',
      '--offline-images', 'host', '--ready-file', readyFile, ...args],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' } },
  );
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  let ready;
  try {
    ready = await waitReady(child, readyFile, () => stderr);
  } catch (error) {
    child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  const baseUrl = ready.url;
  async function stop() {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
  return { baseUrl, stop, dataDir };
}
