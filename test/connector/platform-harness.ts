import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { WebSocket } from 'ws';
import { startCli, stopProcess } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

export const API_KEY = 'e2e-key';
export const GATEWAY_ID = 'gw-e2e';
export const GATEWAY_SECRET = 'gw-e2e-secret';

/** A coregate child process whose JSON log lines the test can wait on. */
export class CoregateProcess {
  readonly lines: Record<string, unknown>[] = [];
  stderr = '';

  private constructor(readonly child: ChildProcess) {
    let partial = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      const text = partial + chunk.toString();
      const lines = text.split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        try {
          this.lines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // not a log line
        }
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
  }

  static start(args: string[], env: Record<string, string> = {}): CoregateProcess {
    return new CoregateProcess(startCli(args, { LOG_LEVEL: 'info', ...env }));
  }

  /** The first log line matching `fields` (every given field equal), waiting for it. */
  async logged(fields: Record<string, unknown>, timeoutMs = 20_000): Promise<Record<string, unknown>> {
    const match = (line: Record<string, unknown>): boolean => Object.entries(fields).every(([k, v]) => line[k] === v);
    return waitFor(() => this.lines.find(match) ?? (this.exited ? this.fail(fields) : undefined), {
      timeoutMs,
      what: `log line ${JSON.stringify(fields)}\n${this.stderr}`,
    });
  }

  count(fields: Record<string, unknown>): number {
    return this.lines.filter((line) => Object.entries(fields).every(([k, v]) => line[k] === v)).length;
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  stop(): Promise<void> {
    return stopProcess(this.child);
  }

  kill(): Promise<void> {
    if (this.exited) return Promise.resolve();
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGKILL');
    return gone;
  }

  private fail(fields: Record<string, unknown>): never {
    throw new Error(`process exited before logging ${JSON.stringify(fields)}\n${this.stderr}`);
  }
}

/** `coregate hub` with its own config file and database in `dir`; resolves with the port it listens on. */
export async function startHub(
  dir: string,
  gateways: Record<string, string> = { [GATEWAY_ID]: GATEWAY_SECRET },
): Promise<{ hub: CoregateProcess; port: number }> {
  const file = path.join(dir, 'hub.config.json');
  const hubSection = {
    host: '127.0.0.1',
    port: 0,
    db: path.join(dir, 'hub.db'),
    apiKey: API_KEY,
    gateways,
    heartbeatSeconds: 1,
  };
  fs.writeFileSync(file, JSON.stringify({ hub: hubSection }));
  const hub = CoregateProcess.start(['hub', '--config', file]);
  const line = await hub.logged({ msg: 'hub listening' });
  return { hub, port: line.port as number };
}

/** `coregate start` against `platformUrl`, its database in `dir`; resolves with its CoAP (RD) port. */
export async function startGateway(
  dir: string,
  platformUrl: string,
  { secret = GATEWAY_SECRET, coapPort = 0 } = {},
): Promise<{ gateway: CoregateProcess; coapPort: number }> {
  const file = path.join(dir, 'gateway.config.json');
  const config = {
    db: path.join(dir, 'gateway.db'),
    coap: { bind: '127.0.0.1', port: coapPort },
    discovery: { enabled: false },
    pinger: { intervalSeconds: 1, timeoutMs: 500, missesBeforeOffline: 1 },
    platform: { url: platformUrl, gatewayId: GATEWAY_ID, secret, reconnectMinMs: 50, reconnectMaxMs: 300 },
  };
  fs.writeFileSync(file, JSON.stringify(config));
  const gateway = CoregateProcess.start(['start', '--config', file]);
  const line = await gateway.logged({ component: 'rd', msg: 'coap server listening' });
  return { gateway, coapPort: line.port as number };
}

/**
 * A TCP forwarder between the gateway and the hub. Closing it drops the link and refuses new ones, so a test
 * decides when the gateway may reach a restarted hub (after its subscribers are back).
 */
export class LinkProxy {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private targetPort = 0;
  private open = false;

  private constructor() {
    this.server = net.createServer((client) => this.accept(client));
  }

  static async start(): Promise<LinkProxy> {
    const proxy = new LinkProxy();
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  url(pathname = '/v1/gateway'): string {
    return `ws://127.0.0.1:${this.port}${pathname}`;
  }

  connectTo(port: number): void {
    this.targetPort = port;
    this.open = true;
  }

  /** Drops every forwarded connection and refuses new ones until connectTo(). */
  cut(): void {
    this.open = false;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  close(): Promise<void> {
    this.cut();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    if (!this.open) {
      client.destroy();
      return;
    }
    const upstream = net.connect(this.targetPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => {
        this.sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }
}

export interface HubMessage {
  event: string;
  data: Record<string, unknown>;
}

/** A pub/sub client of the hub (`/subscribe`), collecting every event it is sent. */
export class Subscriber {
  readonly messages: HubMessage[] = [];

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString()) as Partial<HubMessage>;
      if (typeof message.event === 'string' && message.data !== undefined) this.messages.push(message as HubMessage);
    });
  }

  static async connect(hubPort: number, patterns: string[]): Promise<Subscriber> {
    const ws = new WebSocket(`ws://127.0.0.1:${hubPort}/subscribe?clientName=e2e&apiKey=${API_KEY}`);
    const subscriber = new Subscriber(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    let confirmed = 0;
    ws.on('message', (data) => {
      if ((JSON.parse(data.toString()) as { action?: string }).action === 'subscribed') confirmed++;
    });
    for (const event of patterns) ws.send(JSON.stringify({ action: 'subscribe', event }));
    await waitFor(() => confirmed === patterns.length, { what: 'subscriptions confirmed' });
    return subscriber;
  }

  close(): void {
    this.ws.terminate();
  }
}

/** HTTP call to the hub's API with the test's key. */
export async function hubApi(
  port: number,
  method: string,
  route: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`http://127.0.0.1:${port}${route}`, {
    method,
    headers: { 'X-API-Key': API_KEY, ...(body !== undefined && { 'Content-Type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}
