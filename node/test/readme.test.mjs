// Every TypeScript/JavaScript block of README.md, run as written (types stripped by the
// TypeScript compiler), twice in a row against one real `porter-sandbox serve`: the README stays
// correct and its examples can be run again. A block preceded by `<!-- readme-test: skip … -->`
// is left out (with the reason in the marker).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { startServer } from './server.mjs';

const run = promisify(execFile);
const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const ts = createRequire(import.meta.url)('typescript');
const SKIP = '<!-- readme-test: skip';

/** The ```typescript / ```ts / ```js blocks of README.md that are not marked to be skipped. */
function blocks() {
  const lines = readFileSync(join(pkgDir, '..', 'README.md'), 'utf8').split('\n');
  const found = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s*```(typescript|ts|javascript|js)\s*$/.test(lines[i])) continue;
    const end = lines.findIndex((line, j) => j > i && line.startsWith('```'));
    if (!(lines[i - 1] ?? '').trimStart().startsWith(SKIP)) found.push(lines.slice(i + 1, end).join('\n'));
    i = end;
  }
  return found;
}

let server;
let dir;

before(async () => {
  server = await startServer();
  // A project where `porter-sandbox` resolves to this package, as it would once installed.
  dir = mkdtempSync(join(tmpdir(), 'porter-sandbox-readme-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(pkgDir, join(dir, 'node_modules', 'porter-sandbox'), 'dir');
});

after(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('every README example runs twice in a row', async () => {
  const examples = blocks();
  assert.ok(examples.length > 0, 'README.md has no runnable TypeScript block');
  for (const [i, code] of examples.entries()) {
    const { outputText } = ts.transpileModule(code, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    });
    const file = join(dir, `example-${i}.mjs`);
    writeFileSync(file, outputText);
    for (const round of [1, 2]) {
      try {
        await run(process.execPath, [file], {
          cwd: dir,
          env: { ...process.env, PORTER_SANDBOX_BASE_URL: server.baseUrl },
          timeout: 120_000,
        });
      } catch (error) {
        assert.fail(`README block ${i}, round ${round}: ${error.message}\n${error.stdout}\n${error.stderr}`);
      }
    }
  }
});
