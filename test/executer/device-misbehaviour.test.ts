import dgram from 'node:dgram';
import { once } from 'node:events';
import { generate, parse, type ParsedPacket } from 'coap-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Executer } from '../../executer/index.js';
import { Pinger } from '../../pinger/index.js';
import type { CommandResult } from '../../src/command.js';
import { CoapClient } from '../../src/coap/client.js';
import { parseConfig } from '../../src/config.js';
import { EventBus } from '../../src/events.js';
import { silentLogger } from '../../src/log.js';
import type { Store } from '../../src/store/index.js';
import { startRd, tempStore, type Cleanup } from '../helpers/things.js';
import { waitFor } from '../helpers/wait.js';

type Misbehaviour = 'rst' | '4.04' | '5.00' | 'wrong-token' | 'silent';

/**
 * A device that registers in the RD like any other, answers pings (Empty CON → RST, RFC 7252 §4.3) as a live
 * endpoint does, and answers every request the way `mode` says.
 */
class MisbehavingDevice {
  readonly socket = dgram.createSocket('udp4');
  mode: Misbehaviour = 'silent';
  requests = 0;
  pings = 0;
  private registered?: (packet: ParsedPacket) => void;

  async start(): Promise<void> {
    this.socket.on('message', (datagram, remote) => this.onMessage(parse(datagram), remote));
    this.socket.bind(0, '127.0.0.1');
    await once(this.socket, 'listening');
  }

  port(): number {
    return this.socket.address().port;
  }

  async register(rdPort: number, ep: string): Promise<void> {
    const reply = new Promise<ParsedPacket>((resolve) => (this.registered = resolve));
    const request = generate({
      confirmable: true,
      code: 'POST',
      messageId: 0x1234,
      token: Buffer.from([1, 2, 3, 4]),
      options: [
        { name: 'Uri-Path', value: Buffer.from('rd') },
        { name: 'Content-Format', value: Buffer.from([40]) },
        { name: 'Uri-Query', value: Buffer.from(`ep=${ep}`) },
        { name: 'Uri-Query', value: Buffer.from('lt=3600') },
      ],
      payload: Buffer.from('</cmd>'),
    });
    this.socket.send(request, rdPort, '127.0.0.1');
    expect((await reply).code).toBe('2.01');
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }

  private onMessage(packet: ParsedPacket, remote: dgram.RemoteInfo): void {
    const answer = (reply: Parameters<typeof generate>[0]) =>
      this.socket.send(generate({ messageId: packet.messageId, ...reply }), remote.port, remote.address);
    if (packet.ack || packet.reset) {
      if (packet.code === '2.01') this.registered?.(packet);
      return;
    }
    if (packet.code === '0.00') {
      this.pings++; // a ping
      return answer({ reset: true, code: '0.00' });
    }
    this.requests++;
    switch (this.mode) {
      case 'rst':
        return answer({ reset: true, code: '0.00' });
      case '4.04':
      case '5.00':
        return answer({ ack: packet.confirmable, confirmable: false, code: this.mode, token: packet.token });
      case 'wrong-token': {
        const token = Buffer.from(packet.token.length ? packet.token : [0]);
        token[0] = token[0]! ^ 0xff;
        return answer({ ack: packet.confirmable, code: '2.05', token, payload: Buffer.from('not yours') });
      }
      case 'silent':
        return;
    }
  }
}

const log = silentLogger();
const cleanup: Cleanup = [];
const TIMEOUT_MS = 1500;
const MARGIN_MS = 250;

let store: Store;
let client: CoapClient;
let executer: Executer;
let pinger: Pinger;
let device: MisbehavingDevice;
let deviceId: string;

beforeAll(async () => {
  store = tempStore(cleanup, 'misbehaviour-');
  const bus = new EventBus();
  client = new CoapClient({ log, bind: '127.0.0.1' });
  cleanup.push(() => client.close());
  const config = parseConfig({});
  const rd = await startRd(cleanup, { store, bus, client });
  pinger = new Pinger({ store, bus, log, config: { ...config.pinger, timeoutMs: 500 }, client });
  await pinger.start();
  cleanup.push(() => pinger.stop());
  executer = new Executer({
    store,
    log,
    bus,
    client,
    config: config.executer,
    checkLiveness: (id) => void pinger.check(id),
  });
  await executer.start();
  cleanup.push(() => executer.stop());
  device = new MisbehavingDevice();
  await device.start();
  cleanup.push(() => device.close());
  await device.register(rd.address().port, 'misfit');
  const found = store.devices.findByEndpoint(null, 'misfit');
  expect(found?.port).toBe(device.port());
  deviceId = found!.id;
});

afterAll(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const leftovers = () => ({
  client: client.inFlight(),
  pendingChecks: pinger.pendingChecks,
  busyDevices: executer.busyDevices,
});
const nothingLeft = {
  client: { requests: 0, observations: 0, confirmables: 0, listeners: 0 },
  pendingChecks: 0,
  busyDevices: 0,
};

/** Waits (bounded) for every counter to be back at zero, then asserts it: a leak fails with the counters in view. */
async function expectNothingLeft(): Promise<void> {
  await waitFor(() => JSON.stringify(leftovers()) === JSON.stringify(nothingLeft), {
    timeoutMs: 5000,
    what: 'nothing in flight',
  }).catch(() => undefined);
  expect(leftovers()).toEqual(nothingLeft);
}

async function command(mode: Misbehaviour): Promise<{ result: CommandResult; elapsed: number }> {
  device.mode = mode;
  const before = device.requests;
  const started = performance.now();
  const result = await executer.execute({ device: deviceId, method: 'GET', path: '/cmd', timeout: TIMEOUT_MS });
  const elapsed = performance.now() - started;
  expect(device.requests).toBeGreaterThan(before);
  expect(elapsed).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
  return { result, elapsed };
}

const errorCode = (result: CommandResult) => (result.ok ? undefined : result.error.code);

describe('a device that misbehaves gets a typed result within the deadline and leaves nothing behind', () => {
  it('starts from nothing in flight', async () => {
    await expectNothingLeft();
  });

  it('RST: bad_request at once', async () => {
    const { result, elapsed } = await command('rst');
    expect(errorCode(result)).toBe('bad_request');
    expect(elapsed).toBeLessThan(TIMEOUT_MS);
    await expectNothingLeft();
  });

  it.each(['4.04', '5.00'] as const)('error code %s: passed through as the reply', async (code) => {
    const { result } = await command(code);
    expect(result).toMatchObject({ ok: true, code });
    await expectNothingLeft();
  });

  it('a reply with the wrong token: ignored, so timeout at the deadline', async () => {
    const { result, elapsed } = await command('wrong-token');
    expect(errorCode(result)).toBe('timeout');
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 1);
    await expectNothingLeft();
  });

  it('no answer at all: timeout at the deadline', async () => {
    const pings = device.pings;
    const { result, elapsed } = await command('silent');
    expect(errorCode(result)).toBe('timeout');
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 1);
    await expectNothingLeft();
    // The liveness check the timeout started (a Pinger check, counted in pendingChecks) pinged the device,
    // which still answers pings.
    expect(device.pings).toBeGreaterThan(pings);
    expect(store.devices.get(deviceId)?.status).toBe('online');
  });
});
