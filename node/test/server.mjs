// Starts `porter-sandbox serve` ($PORTER_SANDBOX_BIN, else $CARGO_TARGET_DIR/debug/porter-sandbox,
// else ../target/debug/porter-sandbox) on a free loopback port with a temporary data directory,
// for the tests and the benchmark.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const here = dirname(fileURLToPath(import.meta.url));
export const serverBinary =
  process.env.PORTER_SANDBOX_BIN ??
  join(resolve(here, '..', '..', process.env.CARGO_TARGET_DIR ?? 'target'), 'debug', 'porter-sandbox');

/** Starts a server; resolves `{ baseUrl, stop() }` once it printed its address. */
export async function startServer({ args = [] } = {}) {
  if (!existsSync(serverBinary)) {
    throw new Error(`${serverBinary} is missing: run \`cargo build -p porter-sandbox-cli\` first`);
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'porter-sandbox-node-test-'));
  // The server generates its key and announces itself in this discovery file; clients of this
  // process given only the URL find the key there, as a user's programs do.
  const discoveryFile = join(dataDir, 'local-server.json');
  process.env.PORTER_SANDBOX_DISCOVERY_FILE = discoveryFile;
  const child = spawn(
    serverBinary,
    // Registry images in tests run on the `host` image when no registry is reachable.
    ['serve', '--listen', '127.0.0.1:0', '--data-dir', join(dataDir, 'data'), '--ephemeral',
      '--offline-images', 'host', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' } },
  );
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const baseUrl = await new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    const timer = setTimeout(() => reject(new Error(`server did not start in 30 s: ${stderr}`)), 30_000);
    lines.once('line', (line) => {
      clearTimeout(timer);
      const match = /listening on (http:\/\/\S+)/.exec(line);
      if (match) resolve(match[1]);
      else reject(new Error(`unexpected first line from the server: ${line}\n${stderr}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}: ${stderr}`));
    });
  });
  child.stdout.resume();
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
