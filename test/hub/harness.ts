import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { parseConfig, type HubConfig } from '../../src/config.js';
import { silentLogger, type Logger } from '../../src/log.js';
import type { DeviceInfo } from '../../src/store/index.js';
import { Hub, GATEWAY_PATH, type HubTuning } from '../../connector/hub/index.js';
import {
  encodeFrame,
  hmacOf,
  parseHubFrame,
  type GatewayFrame,
  type HubFrame,
} from '../../connector/protocol/index.js';
import { waitFor } from '../helpers/wait.js';

/** Parsed JSON, loosely typed: the assertions check its shape. */
export type Json = ReturnType<typeof JSON.parse>;

export const API_KEY = 'test-key';
export const GATEWAY_ID = 'gw-1';
export const GATEWAY_SECRET = 'gw-1-secret';

export interface RunningHub {
  hub: Hub;
  port: number;
  base: string;
  dir: string;
  config: HubConfig;
  stop(): Promise<void>;
}

/** A real Hub on 127.0.0.1, port 0, with its SQLite file in `dir` (a fresh temp dir unless given, to test restarts). */
export async function startHub(
  options: {
    dir?: string;
    hub?: Partial<Record<keyof HubConfig, unknown>>;
    tuning?: Partial<HubTuning>;
    log?: Logger;
  } = {},
): Promise<RunningHub> {
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'coregate-hub-'));
  const config = parseConfig({
    hub: {
      port: 0,
      db: path.join(dir, 'hub.db'),
      apiKey: API_KEY,
      gateways: { [GATEWAY_ID]: GATEWAY_SECRET },
      ...options.hub,
    },
  }).hub;
  const hub = new Hub({ log: options.log ?? silentLogger(), config, tuning: options.tuning });
  const { port } = await hub.start();
  const scheme = config.tls ? 'https' : 'http';
  return { hub, port, base: `${scheme}://127.0.0.1:${port}`, dir, config, stop: () => hub.stop() };
}

export const authHeaders = { 'x-api-key': API_KEY, 'content-type': 'application/json' };

/** `fetch` with the API key; `body` is sent as JSON. */
export async function api(
  base: string,
  method: string,
  route: string,
  body?: unknown,
  headers: Record<string, string> = authHeaders,
): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${base}${route}`, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
}

export function device(id: string, overrides: Partial<DeviceInfo> = {}): DeviceInfo {
  return {
    id,
    ep: `ep-${id}`,
    d: null,
    address: '127.0.0.1:5683',
    status: 'online',
    source: 'registration',
    registered: true,
    lastSeen: 1_000,
    resources: [{ href: '/temp', attrs: { rt: 'temperature', obs: true } }],
    ...overrides,
  };
}

/** A gateway played by a real `ws` client speaking connector/protocol: what the connector does, step by step, under test control. */
export class FakeGateway {
  readonly frames: HubFrame[] = [];
  closed: { code: number; reason: string } | undefined;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary) => {
      const parsed = parseHubFrame(data, isBinary);
      if (!parsed.ok) throw new Error(`hub sent an invalid frame: ${parsed.error.message}`);
      this.frames.push(parsed.frame);
    });
    ws.on('close', (code, reason) => (this.closed = { code, reason: reason.toString() }));
  }

  static async open(
    port: number,
    path = GATEWAY_PATH,
    wsOptions: WebSocket.ClientOptions = {},
    scheme = 'ws',
  ): Promise<FakeGateway> {
    const ws = new WebSocket(`${scheme}://127.0.0.1:${port}${path}`, wsOptions);
    const gateway = new FakeGateway(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return gateway;
  }

  /** Connects and completes the handshake; resolves with the welcome's lastSeq. */
  static async connect(
    port: number,
    id = GATEWAY_ID,
    secret = GATEWAY_SECRET,
    instance?: string,
  ): Promise<FakeGateway & { lastSeq: number }> {
    const gateway = await FakeGateway.open(port);
    const lastSeq = await gateway.handshake(id, secret, instance);
    return Object.assign(gateway, { lastSeq });
  }

  async handshake(id: string, secret: string, instance?: string): Promise<number> {
    await this.hello(id, secret, instance);
    return (await this.next('welcome')).lastSeq;
  }

  /** Answers the challenge without waiting for the outcome; `instance` names the gateway's store. */
  async hello(id: string, secret: string, instance?: string): Promise<void> {
    const challenge = await this.next('challenge');
    const hello = { type: 'hello' as const, gateway: id, hmac: hmacOf(challenge.nonce, secret) };
    this.send(instance === undefined ? hello : { ...hello, instance });
  }

  send(frame: GatewayFrame | Record<string, unknown>): void {
    this.ws.send(encodeFrame(frame as GatewayFrame));
  }

  /** The first not yet taken frame of `type` (frames of other types stay for later). */
  async next<T extends HubFrame['type']>(type: T, timeoutMs = 10_000): Promise<Extract<HubFrame, { type: T }>> {
    const index = await waitFor(
      () => {
        const at = this.frames.findIndex((frame) => frame.type === type);
        return at >= 0 ? at + 1 : 0;
      },
      { timeoutMs, what: `a ${type} frame` },
    );
    return this.frames.splice(index - 1, 1)[0] as Extract<HubFrame, { type: T }>;
  }

  /** Waits until the hub has acked `seq` (acks are cumulative). */
  async acked(seq: number): Promise<void> {
    await waitFor(() => this.frames.some((frame) => frame.type === 'ack' && frame.seq >= seq), {
      what: `ack of ${seq}`,
    });
  }

  async waitClosed(): Promise<{ code: number; reason: string }> {
    return waitFor(() => this.closed, { what: 'the hub to close the link' });
  }

  close(): void {
    this.ws.terminate();
  }
}

/** A WebSocket client of the hub (/subscribe, /socket/info) with every JSON message it received. */
export interface Client {
  ws: WebSocket;
  messages: Json[];
  closed?: { code: number; reason: string };
}

export async function openClient(port: number, route: string): Promise<Client> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${route}`);
  const client: Client = { ws, messages: [] };
  ws.on('message', (data: Buffer) => client.messages.push(JSON.parse(data.toString())));
  ws.on('close', (code, reason) => (client.closed = { code, reason: reason.toString() }));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return client;
}

export async function subscribe(client: Client, ...events: string[]): Promise<void> {
  for (const event of events) client.ws.send(JSON.stringify({ action: 'subscribe', event }));
  await waitFor(() =>
    events.every((event) => client.messages.some((m) => m.action === 'subscribed' && m.event === event)),
  );
}

/** The events (not the action replies) a client received, in order. */
export const eventsOf = (client: Client): string[] =>
  client.messages.filter((m) => 'event' in m && !('action' in m)).map((m) => m.event);
