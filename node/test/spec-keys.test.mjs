// Slips a newcomer makes, against a real `porter-sandbox serve`: a misspelt or camelCase spec key
// is refused (naming the key meant) instead of silently dropped, and a command given as a string
// gets an example of the array form.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Porter } from 'porter-sandbox';
import { startServer } from './server.mjs';

let server;
let porter;
const run = Date.now().toString(36);

before(async () => {
  server = await startServer();
  porter = new Porter({ baseUrl: server.baseUrl });
});

after(async () => {
  porter?.close();
  await server?.stop();
});

test('a camelCase spec key is refused, naming the snake_case key meant', async () => {
  const name = `camel-${run}`;
  await assert.rejects(
    porter.sandboxes.create({ image: 'host', name, volumeMounts: { '/data': 'v' } }),
    (e) => /unknown key `volumeMounts`; did you mean `volume_mounts`\?/.test(e.message),
  );
  await assert.rejects(
    porter.raw.sandboxes.create({ image: 'host', ttlSeconds: 60 }),
    (e) => /did you mean `ttl_seconds`\?/.test(e.message),
  );
  // Nothing was created: the name is still free.
  assert.equal((await porter.sandboxes.list({ search: name })).length, 0);
});

test('a misspelt spec key is refused, naming the nearest known key', async () => {
  await assert.rejects(
    porter.sandboxes.create({ image: 'host', comand: ['sleep', '1'] }),
    (e) => /unknown key `comand`; did you mean `command`\?/.test(e.message) && /snake_case/.test(e.message),
  );
  await assert.rejects(
    porter.sandboxes.getOrCreate(`typo-${run}`, { image: 'host', resources: { memroy: '1Gi' } }),
    (e) => /unknown key `resources\.memroy`/.test(e.message),
  );
});

test('exec with a string command explains the array form', async () => {
  const sandbox = await porter.sandboxes.create({ image: 'host', command: ['sleep', '300'] });
  try {
    await assert.rejects(
      sandbox.exec('echo hi'),
      (e) => e instanceof TypeError && e.message.includes("exec(['echo', 'hi'])") && e.message.includes('"echo hi"'),
    );
  } finally {
    await sandbox.terminate();
  }
});
