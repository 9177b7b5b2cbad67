import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { ThingsboardDialect } from '../../connector/mqtt/thingsboard.js';
import { coregateTopics, thingsboardTopics } from '../../connector/protocol/index.js';
import { parseConfig } from '../../src/config.js';
import { ROOT } from '../helpers/cli.js';

/** The `# MQTT` part of docs/protocol.md: its topics are the code's, its examples are what the code accepts. */
const doc = fs.readFileSync(path.join(ROOT, 'docs/protocol.md'), 'utf8').split('\n# MQTT\n')[1]!;
const blocks = [...doc.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]!);

const led = { method: 'PUT', path: '/actuators/led' };
const platform = parseConfig({ platform: { rpc: { setLed: led }, sharedAttributes: { led } } }).platform;
const names: Record<string, string> = { 'tb-1': 'id-tb-1', 'site1/node7': 'id-node7' };
const dialect = new ThingsboardDialect(platform, {
  nameOf: (id) => id,
  nameOfInfo: (info) => info.id,
  idOf: (name) => names[name],
  registrationOf: () => undefined,
});

describe('docs/protocol.md # MQTT', () => {
  test('names every topic of both layouts', () => {
    for (const topic of Object.values(thingsboardTopics)) expect(doc).toContain(`\`${topic}\``);
    const topics = coregateTopics('<gw>');
    for (const topic of [topics.up, topics.status, topics.command, topics.result, topics.device('<id>')]) {
      expect(doc).toContain(`\`${topic}\``);
    }
  });

  test('every example is JSON; the RPCs and attribute updates are accepted as documented', () => {
    expect(blocks.length).toBeGreaterThan(8);
    const parsed = blocks.map((block) => JSON.parse(block) as Record<string, unknown>);
    const requests = parsed.filter((message) => typeof message.data === 'object' && !('id' in message));
    expect(requests.length).toBeGreaterThanOrEqual(3);
    for (const request of requests) {
      const topic = 'method' in (request.data as object) ? thingsboardTopics.rpc : thingsboardTopics.attributes;
      const inbound = dialect.inbound(topic, Buffer.from(JSON.stringify(request)));
      expect(['command', 'commands'], JSON.stringify(inbound)).toContain(inbound.kind);
    }
  });
});
