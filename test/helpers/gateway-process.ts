import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCli, stopProcess } from './cli.js';
import { waitFor } from './wait.js';

const KEY = 'coregate-dev-key';

/** A device as the hub's HTTP API shows it (docs/api.md). */
export interface HubDevice {
  id: string;
  ep: string | null;
  address: string;
  status: 'online' | 'offline';
  registered: boolean;
  lastSeen: number;
  resources: Array<{ href: string; attrs: Record<string, string | true> }>;
  registration: { base: string; lt: number; updatedAt: number; expiresAt: number } | null;
}

/** The body of a send reply: `{status: "ok", code, ct, payload}` or `{error: {code, message}}`. */
export interface SendReply {
  httpStatus: number;
  code?: string;
  ct?: number | null;
  payload?: unknown;
  encoding?: 'base64';
  error?: { code: string; message: string };
}

/** One JSON log line of the gateway. */
export type LogLine = Record<string, unknown> & { msg: string };

/**
 * The real `coregate start` process on its default configuration apart from ports and file paths (and the
 * keys a test names in `config`), with its embedded hub, driven through the hub's HTTP API as a platform would.
 */
export class GatewayProcess {
  readonly dir: string;
  private child: ChildProcess | undefined;
  private output = '';
  private lines: LogLine[] = [];
  rdPort = 0;
  hubPort = 0;

  private constructor(prefix: string) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  }

  /**
   * Starts the gateway and waits until its platform link is online. `config` is written to a config file
   * (e.g. `{pinger: {intervalSeconds: 1}}`); `env` adds variables (`COREGATE_DISCOVERY: 'on'`).
   */
  static async start(
    options: { prefix?: string; config?: Record<string, unknown>; env?: Record<string, string>; rdPort?: number } = {},
  ): Promise<GatewayProcess> {
    const gateway = new GatewayProcess(options.prefix ?? 'coregate-gw-');
    await gateway.launch(options);
    return gateway;
  }

  private async launch(options: {
    config?: Record<string, unknown>;
    env?: Record<string, string>;
    rdPort?: number;
  }): Promise<void> {
    const configFile = path.join(this.dir, 'gateway.config.json');
    fs.writeFileSync(configFile, JSON.stringify(options.config ?? {}));
    const env = {
      COREGATE_DB: path.join(this.dir, 'gateway.db'),
      COREGATE_HUB_DB: path.join(this.dir, 'hub.db'),
      COREGATE_COAP_PORT: String(options.rdPort ?? 0),
      COREGATE_HUB_PORT: '0',
      COREGATE_DISCOVERY: 'off',
      COREGATE_GATEWAY_ID: 'gw-interop',
      COREGATE_LOG_LEVEL: 'debug',
      ...options.env,
    };
    this.output = '';
    this.lines = [];
    const child = startCli(['start', '-c', configFile], env);
    this.child = child;
    let partial = '';
    const take = (chunk: Buffer): void => {
      this.output += chunk.toString();
      partial += chunk.toString();
      const complete = partial.split('\n');
      partial = complete.pop()!;
      for (const text of complete) {
        if (!text.startsWith('{')) continue;
        try {
          this.lines.push(JSON.parse(text) as LogLine);
        } catch {
          // A line that is not JSON (a stack trace) stays in `output` only.
        }
      }
    };
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
    await waitFor(() => this.output.includes('platform link online') || child.exitCode !== null, {
      what: 'the gateway to start',
      timeoutMs: 30_000,
    });
    if (child.exitCode !== null) throw new Error(`coregate start exited ${child.exitCode}:\n${this.output}`);
    this.rdPort = Number(/resource directory listening on udp \S+ port (\d+)/.exec(this.output)![1]);
    this.hubPort = Number(/"port":(\d+),"tls":\w+,"msg":"hub listening"/.exec(this.output)![1]);
  }

  /** Stops the process (SIGTERM) and starts it again on the same files and ports. */
  async restart(options: { config?: Record<string, unknown>; env?: Record<string, string> } = {}): Promise<void> {
    const rdPort = this.rdPort;
    await this.stopProcess();
    await this.launch({ ...options, rdPort });
  }

  get log(): string {
    return this.output;
  }

  /** Log lines whose fields include `fields` (e.g. `{event: 'device.offline', device: id}`). */
  logged(fields: Record<string, unknown>): LogLine[] {
    return this.lines.filter((line) => Object.entries(fields).every(([key, value]) => line[key] === value));
  }

  async waitForLog(fields: Record<string, unknown>, what: string, timeoutMs = 20_000, count = 1): Promise<LogLine[]> {
    return waitFor(
      () => {
        const found = this.logged(fields);
        return found.length >= count ? found : undefined;
      },
      { what, timeoutMs },
    );
  }

  async api(pathname: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`http://127.0.0.1:${this.hubPort}${pathname}`, {
      ...init,
      headers: { 'X-API-Key': KEY, 'Content-Type': 'application/json', ...init.headers },
    });
  }

  async devices(): Promise<HubDevice[]> {
    const body = (await (await this.api('/v1/devices')).json()) as { devices: HubDevice[] };
    return body.devices;
  }

  async device(ep: string): Promise<HubDevice | undefined> {
    return (await this.devices()).find((device) => device.ep === ep);
  }

  /** Waits until the hub shows a device `ep` that satisfies `check`. */
  async waitForDevice(
    ep: string,
    check: (d: HubDevice) => boolean,
    what: string,
    timeoutMs = 20_000,
  ): Promise<HubDevice> {
    return waitFor(
      async () => {
        const device = await this.device(ep);
        return device && check(device) ? device : undefined;
      },
      { what, timeoutMs, intervalMs: 100 },
    );
  }

  /** `POST /v1/devices/:id/send`, the platform's synchronous command. */
  async send(id: string, body: Record<string, unknown>): Promise<SendReply> {
    const response = await this.api(`/v1/devices/${id}/send`, { method: 'POST', body: JSON.stringify(body) });
    const json = (await response.json()) as Omit<SendReply, 'httpStatus'>;
    return { httpStatus: response.status, ...json };
  }

  private async stopProcess(): Promise<void> {
    if (this.child) await stopProcess(this.child);
    this.child = undefined;
  }

  async stop(): Promise<void> {
    await this.stopProcess();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
