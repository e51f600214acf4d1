// The quickstart as an ES module, in plain JavaScript (no build step): a sandbox, a command, its
// logs, a volume with a file, an error. Run against a local server:
//
//   porter-sandbox serve --listen 127.0.0.1:8080 &
//   PORTER_SANDBOX_BASE_URL=http://127.0.0.1:8080 node quickstart.mjs

import { Porter, NotFoundError, VERSION } from 'porter-sandbox';

const porter = new Porter(); // PORTER_SANDBOX_BASE_URL and PORTER_SANDBOX_API_KEY
console.log('porter-sandbox', VERSION, '(esm)');
const sandbox = await porter.sandboxes.create({ image: 'host', command: ['sleep', '300'] });
try {
  const status = await sandbox.waitUntilRunning({ timeoutMs: 60_000 });
  console.log('sandbox', sandbox.id, status.phase);

  const result = await sandbox.exec(['python3', '-c', 'print(6 * 7)']);
  console.log('exec', result.exit_code, result.stdout.trim());
  console.log('logs', (await sandbox.logs({ limit: 5 })).length);

  const volume = await porter.volumes.create({ name: `quickstart-esm-${sandbox.id}` });
  if (volume.type !== 'object') {
    await volume.writeText('notes/hello.txt', 'hello from a volume');
    console.log('volume', await volume.readText('notes/hello.txt'));
  }
  await volume.delete();

  try {
    await porter.sandboxes.get('no-such-sandbox');
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    console.log('not found', error.statusCode);
  }
} finally {
  // Node 24+ could write `await using sandbox = …`; this runs on Node 18 too.
  await sandbox.terminate();
  porter.close();
}
