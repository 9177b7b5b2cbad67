import { createServer, type IncomingMessage, type OutgoingMessage } from 'coap';
import type { Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { startCli, stopProcess } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';
import { pingRaw } from './libcoap.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

describe('coregate thing', () => {
  it('runs N things that register with the RD, and deregisters them on SIGTERM', async () => {
    const seen: string[] = [];
    const rd = createServer((req: IncomingMessage, res: OutgoingMessage) => {
      seen.push(`${req.method} ${req.url}`);
      res.code = req.method === 'POST' ? '2.01' : '2.02';
      if (req.method === 'POST') res.setOption('Location-Path', [Buffer.from('rd'), Buffer.from(String(seen.length))]);
      res.end();
    });
    await new Promise<void>((resolve) => rd.listen(0, '127.0.0.1', () => resolve()));
    cleanup.push(() => void rd.close());
    const rdPort = (rd._sock as Socket).address().port;

    const child = startCli(['thing', '--count', '3', '--rd', `coap://127.0.0.1:${rdPort}`, '--interval', '0']);
    cleanup.push(() => stopProcess(child));
    let stdout = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const ports = (): number[] => [...stdout.matchAll(/coap:\/\/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]));
    await waitFor(() => seen.filter((s) => s.startsWith('POST /rd?')).length === 3, { what: 'three registrations' });
    // Registration starts as each thing binds; the addresses are printed once all are up.
    await waitFor(() => ports().length === 3, { what: 'three addresses printed' });
    expect(new Set(ports()).size).toBe(3);
    expect(await pingRaw(ports()[0]!)).toBe(true);
    expect(seen.filter((s) => s.startsWith('POST')).sort()).toEqual([
      'POST /rd?ep=thing-1&lt=90000',
      'POST /rd?ep=thing-2&lt=90000',
      'POST /rd?ep=thing-3&lt=90000',
    ]);

    await stopProcess(child);
    expect(child.exitCode).toBe(0);
    expect(seen.filter((s) => s.startsWith('DELETE')).length).toBe(3);
  });

  // An IPv4 socket cannot send to an IPv6 address (EINVAL): the things listen in the RD's family.
  for (const [bind, authority] of [
    ['::1', '[::1]'],
    ['::', 'localhost'],
  ] as const) {
    it(`registers with an RD given as coap://${authority}:PORT`, async () => {
      const seen: string[] = [];
      const rd = createServer({ type: 'udp6' }, (req: IncomingMessage, res: OutgoingMessage) => {
        seen.push(`${req.method} ${req.url} from ${req.rsinfo.address}`);
        res.code = req.method === 'POST' ? '2.01' : '2.02';
        if (req.method === 'POST') res.setOption('Location-Path', [Buffer.from('rd'), Buffer.from('1')]);
        res.end();
      });
      await new Promise<void>((resolve) => rd.listen(0, bind, () => resolve()));
      cleanup.push(() => void rd.close());
      const rdPort = (rd._sock as Socket).address().port;
      const child = startCli(['thing', '--rd', `coap://${authority}:${rdPort}`, '--interval', '0']);
      cleanup.push(() => stopProcess(child));
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      await waitFor(() => seen.some((s) => s.startsWith('POST /rd?ep=thing-1')), { what: `registration (${output})` });
      await stopProcess(child);
      expect(child.exitCode).toBe(0);
      expect(output).not.toContain('EINVAL');
      expect(seen.some((s) => s.startsWith('DELETE /rd/1'))).toBe(true);
    });
  }
});
