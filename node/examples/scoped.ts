// Sandboxes that cannot leak: `await using` terminates the sandbox when the block ends, also
// when it throws; `waitUntilRunning`, `wait`, `poll` and `getOrCreate` replace hand-written
// polling loops. Run by the tests against the local server (PORTER_SANDBOX_EXAMPLE_IMAGE=host).

import { Porter, SandboxError, type Sandbox } from 'porter-sandbox';

const image = process.env.PORTER_SANDBOX_EXAMPLE_IMAGE ?? 'python:3.12-slim';
const suffix = Date.now().toString(36);

async function scoped(porter: Porter): Promise<void> {
  let escaped: Sandbox;
  {
    await using sandbox = await porter.sandboxes.create({ image, command: ['sleep', '300'], lease_seconds: 60 });
    escaped = sandbox;
    const status = await sandbox.waitUntilRunning({ timeoutMs: 60_000 });
    const result = await sandbox.exec(['echo', 'scoped']);
    console.log(status.phase, result.stdout.trim(), await sandbox.poll());
  }
  console.log('after scope:', (await escaped.refresh()).phase);

  await using job = await porter.sandboxes.create({ image, command: ['sh', '-c', 'exit 3'] });
  console.log('exit code:', await job.wait({ timeoutMs: 60_000 }));

  await using named = await porter.sandboxes.getOrCreate(`scoped-${suffix}`, { image, command: ['sleep', '300'] });
  const again = await porter.sandboxes.getOrCreate(`scoped-${suffix}`, { image, command: ['sleep', '300'] });
  console.log('same sandbox:', named.id === again.id);

  try {
    await using broken = await porter.sandboxes.create({ image: 'oci-layout:/no/such/layout' });
    await broken.waitUntilRunning({ timeoutMs: 60_000 });
  } catch (error) {
    if (!(error instanceof SandboxError)) throw error;
    console.log('never ran:', error.kind);
  }
}

async function main(): Promise<void> {
  const porter = new Porter();
  try {
    await scoped(porter);
  } finally {
    // After the scopes of `scoped`: their disposals need the client.
    porter.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
