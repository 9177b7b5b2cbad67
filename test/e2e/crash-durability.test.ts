import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generate, parse } from 'coap-packet';
import { afterAll, describe, expect, it } from 'vitest';
import { TestClient } from '../rd/udp-client.js';
import { startCli, stopProcess } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Answer after durability (group commit): a registration's 2.01 Created goes out only once the batch holding
 * it has committed. Registrations stream into a real `coregate start` process, which is killed with SIGKILL the
 * moment a reply arrives, while others are in flight; after a restart on the same database every registration
 * that was answered 2.01 is still there, at the location it was given. Were a reply sent before its commit, the
 * kill would land inside the batch window (5 ms) and lose registrations already answered.
 */
const IN_FLIGHT = 64;
const KILL_AFTER = 300;
const LINKS = '</sensors/temp>;rt="temperature";if="core.s",</act/led>;rt="light";if="core.a"';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coregate-crash-'));
const env = {
  COREGATE_DB: path.join(dir, 'gateway.db'),
  COREGATE_HUB_DB: path.join(dir, 'hub.db'),
  COREGATE_COAP_PORT: '0',
  COREGATE_HUB_PORT: '0',
  COREGATE_DISCOVERY: 'off',
  COREGATE_GATEWAY_ID: 'gw-crash',
};
const running: ChildProcess[] = [];

afterAll(async () => {
  for (const child of running) await stopProcess(child);
  fs.rmSync(dir, { recursive: true, force: true });
});

async function startGateway(): Promise<{ child: ChildProcess; port: number }> {
  const child = startCli(['start'], env);
  running.push(child);
  let log = '';
  child.stdout!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const port = await waitFor(() => /resource directory listening on udp :: port (\d+)/.exec(log)?.[1], {
    what: 'the RD listening',
    timeoutMs: 20_000,
  });
  return { child, port: Number(port) };
}

function registration(index: number, messageId: number): Buffer {
  return generate({
    code: 'POST',
    confirmable: true,
    messageId,
    token: randomBytes(4),
    options: [
      { name: 'Uri-Path', value: Buffer.from('rd') },
      { name: 'Content-Format', value: Buffer.from([40]) },
      { name: 'Uri-Query', value: Buffer.from(`ep=crash-${index}`) },
      { name: 'Uri-Query', value: Buffer.from('lt=3600') },
    ],
    payload: Buffer.from(LINKS),
  });
}

/**
 * Keeps IN_FLIGHT registrations outstanding (each from its own message id, never retransmitted) and kills the
 * gateway on the KILL_AFTER-th 2.01, from inside the reply's handler. Returns the locations answered, by ep.
 */
async function registerUntilKilled(gateway: ChildProcess, port: number): Promise<Map<string, string>> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const answered = new Map<string, string>();
  const byMessageId = new Map<number, string>();
  let next = 0;
  const send = (): void => {
    const messageId = next & 0xffff;
    byMessageId.set(messageId, `crash-${next}`);
    socket.send(registration(next, messageId), port, '127.0.0.1');
    next++;
  };
  const exited = new Promise<void>((resolve) => gateway.once('exit', () => resolve()));
  socket.on('message', (datagram) => {
    const reply = parse(datagram);
    const ep = byMessageId.get(reply.messageId);
    if (ep === undefined || reply.code !== '2.01' || gateway.signalCode !== null || gateway.killed) return;
    const location = reply.options.filter((o) => o.name === 'Location-Path').map((o) => o.value.toString());
    answered.set(ep, `/${location.join('/')}`);
    if (answered.size === KILL_AFTER) gateway.kill('SIGKILL');
    else send();
  });
  for (let i = 0; i < IN_FLIGHT; i++) send();
  await exited;
  socket.close();
  return answered;
}

describe('a registration answered 2.01 survives kill -9 (RFC 9176 §5.3)', () => {
  it('every location the RD handed out is still registered after a restart', async () => {
    const first = await startGateway();
    const answered = await registerUntilKilled(first.child, first.port);
    expect(first.child.signalCode).toBe('SIGKILL');
    expect(answered.size).toBe(KILL_AFTER);

    const second = await startGateway();
    const client = new TestClient('127.0.0.1', second.port);
    await client.bind();
    try {
      const missing: string[] = [];
      for (const [ep, location] of answered) {
        const reply = await client.request({ method: 'GET', uri: `/rd-lookup/ep?ep=${ep}` });
        if (!reply.payload.includes(`<${location}>`)) missing.push(`${ep} at ${location}: ${reply.code}`);
      }
      expect(missing).toEqual([]);
    } finally {
      client.close();
    }
  }, 60_000);
});
