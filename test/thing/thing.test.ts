import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { request as coapRequest, type IncomingMessage } from 'coap';
import { afterEach, describe, expect, it } from 'vitest';
import { parseLinkFormat } from '../../src/coap/link-format.js';
import { silentLogger } from '../../src/log.js';
import { BIG_SIZE, Fleet, Thing } from '../../src/thing/index.js';
import { waitFor } from '../helpers/wait.js';
import { coapClient, pingRaw } from './libcoap.js';
import { libcoapClientMissing } from '../helpers/tools.js';

const log = silentLogger();
const open: Array<{ stop(): Promise<void> }> = [];
let tmp: string | undefined;

afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.stop()));
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  tmp = undefined;
});

async function startThing(options: Partial<ConstructorParameters<typeof Thing>[0]> = {}): Promise<Thing> {
  const thing = new Thing({ log, name: 'node1', sensorIntervalMs: 0, ...options });
  open.push(thing);
  await thing.start();
  return thing;
}

const uri = (thing: Thing, p: string): string => `coap://127.0.0.1:${thing.address().port}${p}`;

describe('simulated thing', () => {
  it.skipIf(libcoapClientMissing() !== undefined)(
    'describes its resources in /.well-known/core (RFC 6690) to an independent client',
    async () => {
      const thing = await startThing();
      const { stdout } = await coapClient([uri(thing, '/.well-known/core')]);
      const links = parseLinkFormat(stdout.trim());
      expect(links.map((l) => l.href)).toEqual(['/sensors/temp', '/sensors/hum', '/actuators/led', '/slow', '/big']);
      expect(links[0]!.attrs).toMatchObject({ rt: 'temperature', if: 'core.s', ct: '50', obs: true });
      expect(links[1]!.attrs).toMatchObject({ rt: 'humidity', ct: '110', obs: true });
      expect(links[4]!.attrs).toMatchObject({ sz: String(BIG_SIZE) });
      const filtered = await coapClient([uri(thing, '/.well-known/core?rt=light')]);
      expect(parseLinkFormat(filtered.stdout.trim()).map((l) => l.href)).toEqual(['/actuators/led']);
    },
  );

  it('answers a ping with Reset, and stops answering while silent', async () => {
    const thing = await startThing();
    expect(await pingRaw(thing.address().port)).toBe(true);
    await thing.goSilent();
    expect(await pingRaw(thing.address().port, 300)).toBe(false);
    await thing.comeBack();
    expect(await pingRaw(thing.address().port)).toBe(true);
    expect(thing.stats.pings).toBe(2);
  });

  it.skipIf(libcoapClientMissing() !== undefined)('serves /big block-wise both ways (RFC 7959)', async () => {
    const thing = await startThing();
    const got = await coapClient(['-b', '64', uri(thing, '/big')]);
    expect(got.stdout.trim().length).toBeGreaterThan(BIG_SIZE - 64);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'thing-'));
    const file = path.join(tmp, 'upload.bin');
    fs.writeFileSync(file, Buffer.alloc(5000, 'x'));
    const put = await coapClient(['-m', 'put', '-b', '256', '-f', file, uri(thing, '/big')]);
    expect(JSON.parse(put.stdout.trim())).toEqual({ size: 5000 });
    expect(thing.resources.big.length).toBe(5000);
  });

  it.skipIf(libcoapClientMissing() !== undefined)('switches the LED with JSON or text', async () => {
    const thing = await startThing();
    await coapClient(['-m', 'put', '-t', '50', '-e', '{"on":true}', uri(thing, '/actuators/led')]);
    expect(thing.resources.ledOn).toBe(true);
    await coapClient(['-m', 'put', '-e', 'off', uri(thing, '/actuators/led')]);
    expect(thing.resources.ledOn).toBe(false);
    const bad = await coapClient(['-m', 'put', '-e', 'maybe', uri(thing, '/actuators/led')]);
    expect(bad.stdout + bad.stderr).toMatch(/4\.00/);
  });

  it('notifies observers of every change (RFC 7641) and forgets them when it restarts', async () => {
    const thing = await startThing();
    const values: number[] = [];
    const req = coapRequest({
      port: thing.address().port,
      hostname: '127.0.0.1',
      pathname: '/sensors/temp',
      observe: true,
    });
    const stream = await new Promise<IncomingMessage>((resolve) => {
      req.on('response', resolve);
      req.end();
    });
    stream.on('data', (chunk: Buffer) =>
      values.push((JSON.parse(chunk.toString()) as { temperature: number }).temperature),
    );
    await waitFor(() => values.length === 1 && thing.observerCount === 1, { what: 'first notification' });
    thing.setTemperature(30);
    thing.setTemperature(31);
    await waitFor(() => values.length === 3, { what: 'two notifications' });
    expect(values).toEqual([21.5, 30, 31]);
    await thing.goSilent();
    await thing.comeBack();
    expect(thing.observerCount).toBe(0);
    (stream as unknown as { close(eager?: boolean): void }).close();
  });

  it('drifts its sensors on the interval', async () => {
    const thing = await startThing({ sensorIntervalMs: 20 });
    const first = thing.resources.temperature.value;
    await waitFor(() => thing.resources.temperature.value !== first, { what: 'a drift' });
  });

  it.skipIf(libcoapClientMissing() !== undefined)(
    'answers /slow with a separate response after the asked delay',
    async () => {
      const thing = await startThing();
      const { stdout } = await coapClient([uri(thing, '/slow?ms=300')]);
      expect(stdout).toContain('slow reply after 300 ms');
      const entry = thing.requestLog.find((e) => e.path === '/slow')!;
      expect(entry.respondedAt! - entry.receivedAt).toBeGreaterThanOrEqual(290);
    },
  );

  it('runs a fleet on distinct ports and reports progress', async () => {
    const progress: number[] = [];
    const fleet = new Fleet({ log, count: 20, sensorIntervalMs: 0, onProgress: (n) => progress.push(n) });
    open.push(fleet);
    await fleet.start();
    const ports = new Set(fleet.things.map((t) => t.address().port));
    expect(ports.size).toBe(20);
    expect(progress.at(-1)).toBe(20);
    expect(await pingRaw(fleet.things[19]!.address().port)).toBe(true);
  });
});
