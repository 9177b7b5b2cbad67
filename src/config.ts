import fs from 'node:fs';
import { BlockList, isIP } from 'node:net';
import os from 'node:os';
import { z } from 'zod';
import { MAX_JSON_DEPTH, nestedDeeperThan } from './json-depth.js';
import { COAP_METHODS } from './coap/types.js';
import { MAX_COMMAND_TIMEOUT_MS } from './command.js';

const port = z.number().int().min(0).max(65535);

/** `a.b.c.d/n` or `ipv6/n` (the prefix may be left out for a single address), as net.BlockList takes it. */
export function isCidr(text: string): boolean {
  const [network = '', bits, extra] = text.split('/');
  const family = isIP(network);
  if (family === 0 || extra !== undefined) return false;
  const max = family === 4 ? 32 : 128;
  if (bits !== undefined && !(/^[0-9]{1,3}$/.test(bits) && Number(bits) <= max)) return false;
  try {
    new BlockList().addSubnet(network, bits === undefined ? max : Number(bits), family === 4 ? 'ipv4' : 'ipv6');
    return true;
  } catch {
    return false;
  }
}
const positive = z.number().positive();
const seconds = z.number().positive();

const rdLimits = z
  .object({
    /** Source networks allowed to register (CIDR); others get 4.03. */
    allowedNetworks: z
      .array(z.string().refine(isCidr, 'not a CIDR network (e.g. 10.0.0.0/8, fd00::/8)'))
      .default(['0.0.0.0/0', '::/0']),
    maxRegistrations: z.number().int().positive().default(100_000),
    maxLinksPerRegistration: z.number().int().positive().default(512),
    /** Largest request payload accepted (bytes, after block-wise reassembly); larger gets 4.13. */
    maxPayloadBytes: z.number().int().positive().default(65_536),
    /** Requests per second per source address; 0 = off (many devices may share one address). */
    requestsPerSecondPerSource: z.number().min(0).default(0),
    /** RFC 9176 §9.3: `ep` and `d` are at most 63 bytes; longer is 4.00. */
    maxEpBytes: z.number().int().positive().default(63),
    maxSectorBytes: z.number().int().positive().default(63),
    /** One attribute (name and value) of a registration or of a link; longer is 4.13. */
    maxAttributeBytes: z.number().int().positive().default(255),
    /** Endpoint attributes (Uri-Query parameters beyond ep, d, lt, base, et) of one registration; more is 4.13. */
    maxAttributesPerRegistration: z.number().int().positive().default(32),
    /** Everything one registration holds (ep, d, base, et, attributes, links); more is 4.13. */
    maxRegistrationBytes: z.number().int().positive().default(65_536),
    /** Everything the directory holds; a registration past it is 5.03 with Max-Age 60. */
    maxDirectoryBytes: z
      .number()
      .int()
      .positive()
      .default(64 * 1024 * 1024),
    /** Search criteria in one lookup after duplicates are collapsed; more is 4.00. */
    maxLookupFilters: z.number().int().positive().default(16),
    /** Attribute tests one lookup may make (criteria × links visited); beyond it the lookup is 5.03. */
    lookupBudget: z.number().int().positive().default(10_000_000),
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
    // RFC 7252 §8.2: a server may wait up to its Leisure (5 s by default) before answering a multicast
    // request; libcoap's coap-server does (0.3-5 s measured, random over its 5 s Leisure). Leisure plus a margin finds every conformant server.
    waitMs: positive.default(6000),
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
    /**
     * Paths to observe (RFC 7641) whether or not the device marked them `obs`: a registered link or a path
     * below one, e.g. the LwM2M resource `/3303/0/5700` of a device that registered `</3303/0>`.
     */
    observe: z.array(z.object({ path: z.string().startsWith('/') }).strict()).default([]),
    /** Re-register an observation this long after its last notification when Max-Age is absent. */
    defaultMaxAgeSeconds: seconds.default(60),
    /** Observe and poll exchanges in flight at once (thousands of devices coming back at once). */
    concurrency: z.number().int().positive().default(64),
    /** Deadline of one observe or poll exchange, retransmissions included. */
    requestTimeoutMs: positive.default(10_000),
  })
  .strict();

const commandQueue = z
  .object({
    /** Commands waiting or on their way per device; one more is refused with `device_queue_full` (HTTP 429). */
    maxPerDevice: z.number().int().positive().default(100),
    /** ... and on the whole gateway; one more is refused with `queue_full` (HTTP 507). */
    maxTotal: z.number().int().positive().default(10_000),
    /** How long a queued command waits for its device when the command names no `ttl`. */
    defaultTtlSeconds: seconds.default(86_400),
    maxTtlSeconds: seconds.default(7 * 86_400),
    /** Finished commands stay readable (and a repeated id recognised) this long. */
    keepFinishedSeconds: seconds.default(86_400),
    /** Seconds between sweeps for commands whose ttl ran out. */
    expiryCheckSeconds: seconds.default(1),
  })
  .strict();

const executer = z
  .object({
    defaultTimeoutMs: positive.default(10_000),
    maxTimeoutMs: positive.default(MAX_COMMAND_TIMEOUT_MS),
    queue: commandQueue.default(commandQueue.parse({})),
  })
  .strict();

/** Sleepy devices (LwM2M queue mode and others): src/store/sleepy.ts. */
const sleepy = z
  .object({
    /** Seconds a sleepy device stays reachable after any message from it (LwM2M: MAX_TRANSMIT_WAIT, 93 s). */
    awakeWindowSeconds: seconds.default(93),
    /** `ep` patterns (`*` wildcard) of devices that sleep whatever they register with. */
    endpoints: z.array(z.string().min(1)).default([]),
    /** `et` values of devices that sleep. */
    endpointTypes: z.array(z.string().min(1)).default([]),
  })
  .strict();

/** A CoAP request an RPC name or a shared attribute stands for (the hub's send body without its payload). */
const coapRequest = z
  .object({
    method: z.enum(COAP_METHODS),
    path: z.string().startsWith('/'),
    query: z.array(z.string()).optional(),
    ct: z.number().int().min(0).max(65535).optional(),
    accept: z.number().int().min(0).max(65535).optional(),
    timeout: positive.optional(),
  })
  .strict();

/** How an MQTT client authenticates to a broker, and trusts it (mqtts://). */
const brokerAccess = {
  /** ThingsBoard "MQTT Basic" credentials, or any broker's user and password. */
  username: z.string().min(1).nullable().default(null),
  password: z.string().min(1).nullable().default(null),
  /** PEM files for mqtts://: `ca` to trust the broker, `cert` + `key` for ThingsBoard "X.509" client certificates. */
  ca: z.string().nullable().default(null),
  cert: z.string().nullable().default(null),
  key: z.string().nullable().default(null),
  rejectUnauthorized: z.boolean().default(true),
};

/** The MQTT transport (platform.url mqtt:// or mqtts://): docs/scale-out.md and README "Connect to ThingsBoard". */
const mqtt = z
  .object({
    /**
     * `thingsboard`: ThingsBoard's Gateway MQTT API (`v1/gateway/...`); `coregate`: the link's own frames under
     * `coregate/<gatewayId>/...`, for hubs started with `coregate hub --broker`.
     */
    topics: z.enum(['thingsboard', 'coregate']).default('thingsboard'),
    /** Defaults to platform.gatewayId; the persistent session is kept by the broker under this id. */
    clientId: z.string().min(1).nullable().default(null),
    /** ThingsBoard "Access token" credentials: sent as the MQTT username. */
    accessToken: z.string().min(1).nullable().default(null),
    ...brokerAccess,
    /** 5 with a fall back to 3.1.1 when the broker refuses it (`auto`), or exactly one of them. */
    protocolVersion: z.union([z.literal('auto'), z.literal(4), z.literal(5)]).default('auto'),
    keepaliveSeconds: z.number().int().min(0).max(65535).default(30),
    /** MQTT 5 Session Expiry Interval: how long the broker keeps the session (and RPCs for it) while away. */
    sessionExpirySeconds: z
      .number()
      .int()
      .min(0)
      .max(4294967295)
      .default(7 * 24 * 3600),
    /** The name the platform sees: `ep` (`d/ep` when the registration has a `d`) or the gateway's device `id`. */
    deviceName: z.enum(['ep', 'id']).default('ep'),
    /** ThingsBoard device profile for a device whose registration has no `et`. */
    deviceType: z.string().min(1).default('default'),
    /** Telemetry values in one publish at most. */
    maxBatch: z.number().int().positive().default(500),
  })
  .strict();

const platform = z
  .object({
    /** ws:// or wss:// URL of the hub, or mqtt:// / mqtts:// of a broker; null runs an embedded hub on localhost. */
    url: z
      .string()
      .url()
      .refine((url) => /^(wss?|mqtts?):\/\//.test(url), 'must be a ws://, wss://, mqtt:// or mqtts:// URL')
      .nullable()
      .default(null),
    gatewayId: z.string().min(1).default(os.hostname()),
    secret: z.string().min(1).default('coregate-dev-secret'),
    outboxMax: z.number().int().positive().default(100_000),
    reconnectMinMs: positive.default(500),
    reconnectMaxMs: positive.default(30_000),
    mqtt: mqtt.default(mqtt.parse({})),
    /** RPC method names (ThingsBoard widgets') → the CoAP request they make; the RPC's params are its payload. */
    rpc: z.record(z.string().min(1), coapRequest).default({}),
    /** Shared attribute names → the CoAP request an update of it makes, with the new value as payload. */
    sharedAttributes: z.record(z.string().min(1), coapRequest).default({}),
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

/** The hub's API key when none is configured (the embedded hub logs `apiKeyIsDefault` when it is in use). */
export const DEFAULT_API_KEY = 'coregate-dev-key';

/** `coregate hub --broker`: the hub learns everything from an MQTT broker instead of gateway sockets (docs/scale-out.md). */
const brokerHub = z
  .object({
    /** mqtt:// or mqtts:// URL; null = gateways connect to this hub's WebSocket route. */
    url: z
      .string()
      .url()
      .refine((url) => /^mqtts?:\/\//.test(url), 'must be an mqtt:// or mqtts:// URL')
      .nullable()
      .default(null),
    ...brokerAccess,
    /** The `$share/<group>/...` group of every hub of one deployment: webhooks fire once per event across it. */
    shareGroup: z
      .string()
      .regex(/^[^/#+]+$/, 'no "/", "#" or "+"')
      .default('coregate-hubs'),
  })
  .strict();

const hub = z
  .object({
    host: z.string().default('127.0.0.1'),
    port: port.default(9000),
    db: z.string().default('./data/hub.db'),
    apiKey: z.string().min(1).default(DEFAULT_API_KEY),
    /** Gateway id → shared secret. The embedded hub adds the local gateway itself. */
    gateways: z.record(z.string(), z.string()).default({}),
    heartbeatSeconds: seconds.default(15),
    commandTimeoutMs: positive.default(10_000),
    tls: z.object({ cert: z.string(), key: z.string() }).strict().nullable().default(null),
    webhooks: z.array(webhook).default([]),
    /** Open connections at once (HTTP, WebSocket); more are closed at once. */
    maxConnections: z.number().int().positive().default(10_000),
    /** Open connections from one address; more are closed at once. */
    maxConnectionsPerAddress: z.number().int().positive().default(256),
    /** A connection that sends no complete request for this long is closed. */
    idleTimeoutMs: positive.default(10_000),
    /** Subscription patterns one /subscribe client may hold. */
    maxSubscriptionsPerClient: z.number().int().positive().default(256),
    /** Published events the hub keeps for subscribers that resume (`{"action": "resume"}`). */
    retainedEvents: z.number().int().min(0).default(10_000),
    broker: brokerHub.default(brokerHub.parse({})),
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
    sleepy: sleepy.default(sleepy.parse({})),
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
export type CommandQueueConfig = ExecuterConfig['queue'];
export type SleepyConfig = Config['sleepy'];
export type PlatformConfig = Config['platform'];
export type HubConfig = Config['hub'];
export type MqttConfig = PlatformConfig['mqtt'];
export type BrokerHubConfig = HubConfig['broker'];
export type CoapRequestConfig = PlatformConfig['rpc'][string];
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
  COREGATE_HUB_BROKER: { path: ['hub', 'broker', 'url'], parse: String },
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

const yes = (value: string | undefined): boolean => ['1', 'true', 'yes', 'on'].includes((value ?? '').toLowerCase());

/**
 * PiCloud's TLS variables (`USE_TLS` with `CERT_FILE` and `KEY_FILE`), for the standalone hub and the
 * embedded one alike: a security setting is never ignored.
 */
export function hubWithTlsFromEnv(hub: HubConfig, env: Env): HubConfig {
  if (!yes(env.USE_TLS)) return hub;
  const cert = env.CERT_FILE ?? hub.tls?.cert;
  const key = env.KEY_FILE ?? hub.tls?.key;
  if (!cert || !key) throw new ConfigError('USE_TLS is set: CERT_FILE and KEY_FILE (or hub.tls) must name the files');
  return { ...hub, tls: { cert, key } };
}

/** Validates raw configuration (file contents with env overrides applied) into a typed Config. */
export function parseConfig(raw: unknown, source = 'configuration', env: Env = {}): Config {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`${source}: must be a JSON object`);
  }
  // structuredClone and zod recurse: a 5,000-deep file ended in "Maximum call stack size exceeded".
  if (nestedDeeperThan(raw, MAX_JSON_DEPTH))
    throw new ConfigError(`${source}: nested deeper than ${MAX_JSON_DEPTH} levels`);
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
