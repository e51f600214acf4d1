// The examples of the TypeScript SDK reference page and of the official README, as one program.
// `tsc --noEmit --strict -p examples` checks them against index.d.ts; the tests run them against
// the local server (`porter-sandbox serve`) with PORTER_SANDBOX_BASE_URL pointing at it.
//
// Images: set PORTER_SANDBOX_EXAMPLE_IMAGE=host for the local server, whose `host` image has
// python3 (registry images such as python:3.12-slim need a cluster).

import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';

import {
  NotFoundError,
  Porter,
  SandboxError,
  StatusResponsePhase,
  type ExecResponse,
  type LogLine,
  type Sandbox,
  type StatusResponse,
} from 'porter-sandbox';

const image = process.env.PORTER_SANDBOX_EXAMPLE_IMAGE ?? 'python:3.12-slim';
const python = image === 'host' ? 'python3' : 'python';
const suffix = Date.now().toString(36);

async function waitUntilRunning(sandbox: Sandbox): Promise<StatusResponse> {
  for (;;) {
    const status = await sandbox.refresh();
    if (status.phase !== StatusResponsePhase.Queued && status.phase !== StatusResponsePhase.Creating) {
      return status;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The reference page, section by section. */
async function referencePage(): Promise<void> {
  // ## `Porter`
  const porter = new Porter();
  const sandbox = await porter.sandboxes.create({
    image,
    name: `my-sandbox-${suffix}`,
  });

  // ### `create`
  const tagged = await porter.sandboxes.create({
    image,
    name: `my-sandbox-tagged-${suffix}`,
    command: undefined,
    args: undefined,
    env: undefined,
    tags: { workflow: 'demo' },
    volume_mounts: undefined,
  });

  // ### `get`
  const byName = await porter.sandboxes.get(`my-sandbox-${suffix}`);
  console.log(byName.id === sandbox.id, byName.phase);

  // ### `list`
  const sandboxes = await porter.sandboxes.list({
    tags: { workflow: 'demo' },
    page: 1,
  });
  console.log(sandboxes.map((s) => s.id).includes(tagged.id));

  // ## `Sandbox`: properties and methods
  const id: string = sandbox.id;
  const phase: StatusResponsePhase | null = sandbox.phase;
  const tags: Record<string, string> | null = sandbox.tags;
  console.log(id, phase, tags);
  await waitUntilRunning(sandbox);
  const status = await sandbox.refresh();
  const result: ExecResponse = await sandbox.exec([python, '-c', "print('hi')"]);
  const logs: LogLine[] = await sandbox.logs({ limit: 100 });
  console.log(status.phase, result.stdout.trim(), result.exit_code, logs.length);
  await sandbox.terminate();
  await tagged.terminate();

  // ## Volumes
  const volume = await porter.volumes.create({ name: `my-data-${suffix}` });
  const mounted = await porter.sandboxes.create({
    image,
    volume_mounts: { '/mnt/data': volume.id },
  });
  console.log((await porter.volumes.list()).length, (await porter.volumes.get(`my-data-${suffix}`)).id);
  await mounted.terminate();

  // ## Low-level client
  const rawClient = porter.raw;
  const rawSandboxes = porter.sandboxes.raw;
  console.log((await rawSandboxes.get(sandbox.id)).phase, (await rawClient.healthz.healthCheck()).status);

  try {
    await porter.volumes.delete(`my-data-${suffix}`);
    await porter.sandboxes.get(`no-such-sandbox-${suffix}`);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    console.log(error.name, error.statusCode, error.message);
  }

  porter.close();
}

/** The official README: run a command, volumes and their files, fan-out. */
async function readme(): Promise<void> {
  const porter = new Porter();
  const sb = await porter.sandboxes.create({
    image,
    command: [python, '-c', "print('hi')"],
  });
  console.log(await sb.logs());
  await sb.terminate();

  const volume = await porter.volumes.create({ name: `my-checkpoints-${suffix}` });
  const worker = await porter.sandboxes.create({
    image,
    volume_mounts: { '/mnt/my-data': volume.id },
  });
  if (volume.type === 'object') throw new SandboxError('expected a disk volume');
  await volume.writeText('/checkpoints/config.json', '{"layers": 2}');
  await volume.writeFile('/checkpoints/model.safetensors', new Uint8Array(3 * 1024 * 1024 + 5));

  for (const file of await volume.listdir('/checkpoints')) {
    console.log(file.path, file.sizeBytes);
  }
  const config = await volume.readText('/checkpoints/config.json');
  console.log(JSON.parse(config));
  await pipeline(
    Readable.from(volume.stream('/checkpoints/model.safetensors')),
    createWriteStream(`model-${suffix}.safetensors`),
  );
  await worker.terminate();

  const commands = [0, 1, 2, 3].map((i) => [python, '-c', `print(${i})`]);
  const results = await Promise.all(commands.map((command) => porter.sandboxes.create({ image, command })));
  await Promise.all(results.map((s) => s.terminate()));
  porter.close();
}

async function main(): Promise<void> {
  await referencePage();
  await readme();
}

main().catch((error: unknown) => {
  if (error instanceof SandboxError) {
    console.error(`${error.name}: ${error.message} (status ${error.statusCode})`, error.body);
  } else {
    console.error(error);
  }
  process.exitCode = 1;
});
