import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sendBodySchema } from '../../connector/hub/send-command.js';
import { ROOT } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';
import { API_KEY, FakeGateway, api, device, startHub } from './harness.js';

const doc = fs.readFileSync(path.join(ROOT, 'docs/api.md'), 'utf8');

/** Every `curl ... <route> ... -d '<json>'` of the reference, with its route and body. */
function curlExamples(): { route: string; body: unknown }[] {
  const commands = doc.replace(/\\\n\s*/g, ' ').match(/^curl .*$/gm) ?? [];
  return commands
    .map((command) => ({ route: /\$HUB([^\s"']+)/.exec(command)?.[1], body: /-d '([^']+)'/.exec(command)?.[1] }))
    .filter(
      (example): example is { route: string; body: string } =>
        example.route !== undefined && example.body !== undefined,
    )
    .map((example) => ({ route: example.route.replace(/\?.*$/, ''), body: JSON.parse(example.body) as unknown }));
}

describe('docs/api.md', () => {
  const examples = curlExamples();

  it('has send and publish examples', () => {
    expect(examples.filter((example) => example.route.endsWith('/send')).length).toBeGreaterThanOrEqual(4);
    expect(examples.some((example) => example.route === '/publish')).toBe(true);
  });

  it('shows only send bodies the hub accepts', () => {
    for (const example of examples.filter((e) => e.route.endsWith('/send'))) {
      expect(sendBodySchema(120_000).safeParse(example.body).success, JSON.stringify(example.body)).toBe(true);
    }
  });

  it('shows a publish example that the hub answers with 201', async () => {
    const hub = await startHub();
    try {
      const example = examples.find((e) => e.route === '/publish')!;
      const reply = await api(hub.base, 'POST', '/publish?clientName=doc', example.body, { 'x-api-key': API_KEY });
      expect(reply.status).toBe(201);
    } finally {
      await hub.stop();
    }
  });

  it('documents the reply of a send as the hub gives it', async () => {
    const hub = await startHub();
    const gateway = await FakeGateway.connect(hub.port);
    try {
      gateway.send({ type: 'snapshot', devices: [device('k3m9xq2a')] });
      await waitFor(async () => (await api(hub.base, 'GET', '/v1/devices/k3m9xq2a')).status === 200);
      const documented = JSON.parse(/```json\n(\{ "status": "ok".*\})\n```/.exec(doc)![1]!) as Record<string, unknown>;
      const reply = api(hub.base, 'POST', '/v1/devices/k3m9xq2a/send', { method: 'GET', path: '/sensors/temp' });
      const command = await gateway.next('command');
      gateway.send({ type: 'result', id: command.id, code: '2.05', ct: 50, payload: 21.5 });
      expect((await reply).body).toEqual({ ...documented, gateway: 'gw-1' });
    } finally {
      gateway.close();
      await hub.stop();
    }
  });
});
