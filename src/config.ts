import fs from 'node:fs';
import os from 'node:os';
import { z } from 'zod';

const port = z.number().int().min(0).max(65535);
const positive = z.number().positive();
const seconds = z.number().positive();

const rdLimits = z
  .object({
    /** Source networks allowed to register (CIDR); others get 4.03. */
    allowedNetworks: z.array(z.string()).default(['0.0.0.0/0', '::/0']),
    maxRegistrations: z.number().int().positive().default(100_000),
    maxLinksPerRegistration: z.number().int().positive().default(512),
    /** Largest request payload accepted (bytes, after block-wise reassembly); larger gets 4.13. */
    maxPayloadBytes: z.number().int().positive().default(65_536),
    /** Requests per second per source address; 0 = off (many devices may share one address). */
    requestsPerSecondPerSource: z.number().min(0).default(0),
  })
  .strict();

const rd = z
  .object({
    /** RFC 9176 §5: `ep` may be left out only where the RD can name the endpoint itself. */
    requireEp: z.boolean().default(true),
    defaultLifetime: z.number().int().positive().default(90_000),
    /** Seconds between lifetime sweeps. */
    expiryCheckSeconds: seconds.default(1),
    limits: rdLimits.default(rdLimits.parse({})),
  })
  .strict();

const discovery = z
  .object({
    enabled: z.boolean().default(true),
    /** Interface addresses to send/join multicast on; empty = the system's default interface. */
    interfaces: z.array(z.string()).default([]),
    multicast: z.boolean().default(true),
    mdns: z.boolean().default(true),
    intervalSeconds: seconds.default(300),
    /** How long a multicast round collects answers. */
    waitMs: positive.default(2000),
    groups: z.array(z.string()).default(['224.0.1.187', 'ff02::fd']),
  })
  .strict();

const pinger = z
  .object({
    enabled: z.boolean().default(true),
    intervalSeconds: seconds.default(30),
    /** Fraction of the interval each device's ping is spread by. */
    jitter: z.number().min(0).max(1).default(0.2),
    concurrency: z.number().int().positive().default(64),
    timeoutMs: positive.default(2000),
    /** Consecutive missed pings that take a device offline. */
    missesBeforeOffline: z.number().int().positive().default(3),
    /** An offline device is rechecked after 1 s, then at doubling intervals up to this. */
    offlineRecheckMaxSeconds: seconds.default(5),
  })
  .strict();

const pollRule = z
  .object({
    path: z.string().optional(),
    rt: z.string().optional(),
    intervalSeconds: seconds.default(60),
  })
  .strict()
  .refine((rule) => rule.path !== undefined || rule.rt !== undefined, 'a poll rule needs `path` or `rt`');

const observer = z
  .object({
    enabled: z.boolean().default(true),
    /** Observe (RFC 7641) every resource registered with `obs`. */
    observeMarked: z.boolean().default(true),
    poll: z.array(pollRule).default([]),
    /** Re-register an observation this long after its last notification when Max-Age is absent. */
    defaultMaxAgeSeconds: seconds.default(60),
    /** Observe and poll exchanges in flight at once (thousands of devices coming back at once). */
    concurrency: z.number().int().positive().default(64),
    /** Deadline of one observe or poll exchange, retransmissions included. */
    requestTimeoutMs: positive.default(10_000),
  })
  .strict();

const executer = z
  .object({
    defaultTimeoutMs: positive.default(10_000),
    maxTimeoutMs: positive.default(120_000),
  })
  .strict();

const platform = z
  .object({
    /** ws:// or wss:// URL of the hub; null runs an embedded hub on localhost. */
    url: z.string().url().nullable().default(null),
    gatewayId: z.string().min(1).default(os.hostname()),
    secret: z.string().min(1).default('coregate-dev-secret'),
    outboxMax: z.number().int().positive().default(100_000),
    reconnectMinMs: positive.default(500),
    reconnectMaxMs: positive.default(30_000),
  })
  .strict();

const webhook = z
  .object({
    url: z.string().url(),
    /** Event name patterns (`telemetry`, `device.*`, ...); empty = every event. */
    events: z.array(z.string()).default([]),
    secret: z.string().optional(),
  })
  .strict();

const hub = z
  .object({
    host: z.string().default('127.0.0.1'),
    port: port.default(9000),
    db: z.string().default('./data/hub.db'),
    apiKey: z.string().min(1).default('coregate-dev-key'),
    /** Gateway id → shared secret. The embedded hub adds the local gateway itself. */
    gateways: z.record(z.string(), z.string()).default({}),
    heartbeatSeconds: seconds.default(15),
    commandTimeoutMs: positive.default(10_000),
    tls: z.object({ cert: z.string(), key: z.string() }).strict().nullable().default(null),
    webhooks: z.array(webhook).default([]),
  })
  .strict();

const metrics = z
  .object({
    /** The gateway's own listener for /metrics, /healthz, /readyz when no embedded hub runs; null: none. */
    port: port.nullable().default(null),
    host: z.string().default('127.0.0.1'),
    /** Whether /metrics needs the API key (hub.apiKey), on the hub and on this listener. */
    requireApiKey: z.boolean().default(true),
  })
  .strict();

export const configSchema = z
  .object({
    $schema: z.string().optional(),
    db: z.string().default('./data/coregate.db'),
    log: z
      .object({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info') })
      .strict()
      .default({ level: 'info' }),
    coap: z
      .object({
        /** `::` listens dual-stack (IPv6 and IPv4-mapped). */
        bind: z.string().default('::'),
        port: port.default(5683),
      })
      .strict()
      .default({ bind: '::', port: 5683 }),
    rd: rd.default(rd.parse({})),
    discovery: discovery.default(discovery.parse({})),
    pinger: pinger.default(pinger.parse({})),
    observer: observer.default(observer.parse({})),
    executer: executer.default(executer.parse({})),
    platform: platform.default(platform.parse({})),
    hub: hub.default(hub.parse({})),
    metrics: metrics.default(metrics.parse({})),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type RdConfig = Config['rd'];
export type DiscoveryConfig = Config['discovery'];
export type PingerConfig = Config['pinger'];
export type ObserverConfig = Config['observer'];
export type ExecuterConfig = Config['executer'];
export type PlatformConfig = Config['platform'];
export type HubConfig = Config['hub'];
export type MetricsConfig = Config['metrics'];

/** A configuration problem: the message names the file, the key and what is wrong. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

/** Environment variables that override the file, and where they land. */
export const ENV_OVERRIDES: Record<string, { path: string[]; parse: (value: string) => unknown }> = {
  COREGATE_DB: { path: ['db'], parse: String },
  COREGATE_LOG_LEVEL: { path: ['log', 'level'], parse: String },
  COREGATE_COAP_BIND: { path: ['coap', 'bind'], parse: String },
  COREGATE_COAP_PORT: { path: ['coap', 'port'], parse: Number },
  COREGATE_DISCOVERY: {
    path: ['discovery', 'enabled'],
    parse: (v) => !['off', '0', 'false', 'no'].includes(v.toLowerCase()),
  },
  COREGATE_DISCOVERY_INTERFACES: {
    path: ['discovery', 'interfaces'],
    parse: (v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
  },
  COREGATE_PLATFORM_URL: { path: ['platform', 'url'], parse: String },
  COREGATE_GATEWAY_ID: { path: ['platform', 'gatewayId'], parse: String },
  COREGATE_GATEWAY_SECRET: { path: ['platform', 'secret'], parse: String },
  COREGATE_HUB_PORT: { path: ['hub', 'port'], parse: Number },
  COREGATE_HUB_DB: { path: ['hub', 'db'], parse: String },
  API_KEY: { path: ['hub', 'apiKey'], parse: String },
  COREGATE_METRICS_PORT: {
    path: ['metrics', 'port'],
    parse: (v) => (['off', 'none', 'false', 'no'].includes(v.toLowerCase()) ? null : Number(v)),
  },
};

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const child = node[key];
    if (typeof child !== 'object' || child === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

/** Validates raw configuration (file contents with env overrides applied) into a typed Config. */
export function parseConfig(raw: unknown, source = 'configuration', env: Env = {}): Config {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`${source}: must be a JSON object`);
  }
  const merged = structuredClone(raw) as Record<string, unknown>;
  for (const [name, { path, parse }] of Object.entries(ENV_OVERRIDES)) {
    const value = env[name];
    if (value !== undefined && value !== '') setPath(merged, path, parse(value));
  }
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const where = issue.path.join('.') || '(top level)';
      return `${where}: ${issue.message}`;
    });
    throw new ConfigError(`${source}: ${problems.join('; ')}`);
  }
  return result.data;
}

/**
 * Loads a config file. A missing file is an error only when it was asked for explicitly;
 * otherwise the embedded defaults apply, so a fresh clone runs with no file at all.
 */
export function loadConfig(file: string | undefined, env: Env = process.env): Config {
  const path = file ?? 'gateway.config.json';
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (err) {
    if (file === undefined && (err as NodeJS.ErrnoException).code === 'ENOENT') return parseConfig({}, 'defaults', env);
    throw new ConfigError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  return parseConfig(raw, path, env);
}
