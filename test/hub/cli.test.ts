import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterEach, expect, it } from 'vitest';
import { runCli, startCli, stopProcess } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

let child: ChildProcess | undefined;
afterEach(async () => {
  if (child) await stopProcess(child);
});

it('coregate hub listens on PORT with API_KEY, and stops on SIGTERM', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coregate-hub-cli-'));
  child = startCli(['hub', '--host', '127.0.0.1'], {
    PORT: '0',
    API_KEY: 'cli-key',
    COREGATE_HUB_DB: path.join(dir, 'hub.db'),
  });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const port = await waitFor(() => /"msg":"hub listening"/.test(out) && Number(/"port":(\d+)/.exec(out)![1]), {
    what: 'the hub to listen',
  });
  const res = await fetch(`http://127.0.0.1:${port}/v1/devices`, { headers: { authorization: 'Bearer cli-key' } });
  expect(res.status).toBe(200);
  expect(fs.existsSync(path.join(dir, 'hub.db'))).toBe(true);
  await stopProcess(child);
  expect(child.exitCode).toBe(0);
});

it('refuses USE_TLS without certificate files, with exit code 2', async () => {
  const run = await runCli(['hub'], { USE_TLS: 'true', PORT: '0' });
  expect(run.code).toBe(2);
  expect(run.stderr).toContain('CERT_FILE and KEY_FILE');
});
