// Processes: start a command, watch its output live, feed its standard input, reattach to it
// from another handle, give it a terminal, and let the server enforce a deadline. Run by the
// tests against the local server (PORTER_SANDBOX_EXAMPLE_IMAGE=host).

import { Porter, SandboxTimeoutError, UnsupportedError, type OutputChunk, type Sandbox } from 'porter-sandbox';

const image = process.env.PORTER_SANDBOX_EXAMPLE_IMAGE ?? 'python:3.12-slim';

async function processes(sandbox: Sandbox): Promise<void> {
  // Live output, tagged by stream, with the offset of each chunk.
  const build = await sandbox.start(['sh', '-c', 'echo compiling; echo warning >&2; sleep 0.2; echo done'], {
    timeoutMs: 60_000,
    env: { LANG: 'C' },
    workdir: '/tmp',
  });
  for await (const chunk of build.output()) {
    process.stdout.write(`[${chunk.stream} @${chunk.offset}] ${chunk.data.toString()}`);
  }
  const status = await build.wait();
  console.log('build:', status.state, status.exit_code);

  // Standard input, then the output replayed from the start by a handle found by id.
  const cat = await sandbox.start(['cat'], { stdin: true });
  await cat.writeStdin('fed through stdin\n');
  await cat.closeStdin();
  await cat.wait({ timeoutMs: 30_000 });
  const again = await sandbox.process(cat.id);
  const chunks: OutputChunk[] = [];
  for await (const chunk of again.output({ offset: 0 })) chunks.push(chunk);
  console.log('replayed:', Buffer.concat(chunks.map((c) => c.data)).toString().trim());

  // A terminal, resized while it runs; the second loop goes on where the first one left.
  const shell = await sandbox.start(['sh'], { stdin: true, pty: { cols: 100, rows: 30 } });
  await shell.writeStdin('stty size\n');
  let screen = '';
  let end = 0;
  for await (const chunk of shell.output()) {
    screen += chunk.data.toString();
    end = chunk.offset + chunk.data.length;
    if (screen.includes('30 100')) break;
  }
  await shell.resize(120, 40);
  await shell.writeStdin('stty size; exit\n');
  for await (const chunk of shell.output({ offset: end })) screen += chunk.data.toString();
  console.log('terminal:', screen.includes('40 120') ? '30 100 → 40 120' : screen);

  // A deadline the server enforces, and a wait that gives up before the process does.
  const slow = await sandbox.start(['sleep', '1000'], { timeoutMs: 1_000 });
  try {
    await slow.wait({ timeoutMs: 100 });
  } catch (error) {
    if (!(error instanceof SandboxTimeoutError)) throw error;
    console.log('still running:', await slow.poll());
  }
  const ended = await slow.wait();
  console.log('deadline:', ended.state, ended.exit_code, ended.timed_out);

  const sleeper = await sandbox.start(['sh', '-c', 'echo ready; exec sleep 1000']);
  for await (const _ of sleeper.output()) break; // it runs
  await sleeper.kill();
  console.log('killed:', (await sleeper.wait()).state);
  console.log('listed:', (await sandbox.processes()).length);
}

async function main(): Promise<void> {
  const porter = new Porter();
  try {
    await using sandbox = await porter.sandboxes.create({ image, command: ['sleep', '300'] });
    await sandbox.waitUntilRunning({ timeoutMs: 60_000 });
    await processes(sandbox);
  } catch (error) {
    // A server without the processes extension says so at once.
    if (error instanceof UnsupportedError) console.log('unsupported:', error.message);
    else throw error;
  } finally {
    porter.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
