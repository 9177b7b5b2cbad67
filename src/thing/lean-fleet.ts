import dgram, { type RemoteInfo, type Socket } from 'node:dgram';
import { generate, parse, type ParsedPacket } from 'coap-packet';
import type { RdTarget } from './registration.js';

/**
 * Thousands of simulated devices in one process: one UDP socket each, a few hundred bytes of state each,
 * CoAP spoken with the `coap-packet` codec (independent of the gateway's). Each device registers with
 * 5 links (RFC 9176 §5.3), answers pings with a Reset (RFC 7252 §4.3), keeps one observer of its
 * temperature (RFC 7641) and answers commands. The full `Thing` (the `coap` package's server per
 * device) holds about a thousand per process; a fleet of 10,000 or 50,000 runs on this.
 */

export interface LeanFleetOptions {
  count: number;
  /** Endpoint names are `<namePrefix>-<n>`, n from `firstIndex` (default 1). */
  namePrefix: string;
  firstIndex?: number;
  /** Address every device binds (port 0): a fleet of more than ~25,000 needs several loopback addresses. */
  host: string;
  rd: RdTarget;
  lifetime: number;
  /** Registrations in flight at most: the fleet registers as fast as the RD answers. */
  window?: number;
}

export interface LeanFleetStats {
  registered: number;
  observed: number;
  /** Notifications sent: every value change of an observed device. */
  produced: number;
  pings: number;
  requests: number;
}

export const LEAN_LINKS =
  '</sensors/temp>;rt="temperature";if="core.s";obs,</sensors/hum>;rt="humidity";if="core.s",' +
  '</sensors/light>;rt="light-lux";if="core.s",</actuators/led>;rt="light";if="core.a",</cfg>;rt="config"';

const ACK_TIMEOUT_MS = 2000;
const MAX_RETRANSMIT = 4;
/** RFC 7641 §4.3.1: the notifications' freshness; long, as the bench drives the values itself. */
const MAX_AGE = 3600;
const CT_JSON = Buffer.from([50]);
const CT_LINK_FORMAT = Buffer.from([40]);
const EMPTY = Buffer.alloc(0);

interface Observer {
  token: Buffer;
  address: string;
  port: number;
}

class LeanDevice {
  socket: Socket | undefined;
  location: string | undefined;
  observer: Observer | undefined;
  value = 0;
  observeSeq = 2;
  messageId = Math.floor(Math.random() * 0xffff);
  registerToken: Buffer | undefined;
  retransmit: NodeJS.Timeout | undefined;
  attempts = 0;

  constructor(readonly name: string) {}

  nextMid(): number {
    this.messageId = (this.messageId + 1) & 0xffff;
    return this.messageId;
  }
}

export class LeanFleet {
  private readonly devices: LeanDevice[];
  private readonly waiting: LeanDevice[] = [];
  private inFlight = 0;
  private cursor = 0;
  private stopped = false;
  private readonly counts = { registered: 0, produced: 0, pings: 0, requests: 0 };

  constructor(private readonly options: LeanFleetOptions) {
    const first = options.firstIndex ?? 1;
    this.devices = Array.from(
      { length: options.count },
      (_, i) => new LeanDevice(`${options.namePrefix}-${first + i}`),
    );
  }

  /** Binds every device's socket, then registers them all, `window` at a time. */
  async start(): Promise<void> {
    await this.listen();
    this.register();
  }

  /** Binds every device's socket: the devices answer from here on, and register when told. */
  async listen(): Promise<void> {
    const type = this.options.host.includes(':') ? 'udp6' : 'udp4';
    await Promise.all(
      this.devices.map(async (device) => {
        const socket = dgram.createSocket({ type });
        await new Promise<void>((resolve, reject) => {
          socket.once('error', reject);
          socket.bind(0, this.options.host, () => {
            socket.off('error', reject);
            resolve();
          });
        });
        socket.on('message', (data, from) => this.receive(device, data, from));
        socket.on('error', () => undefined);
        device.socket = socket;
      }),
    );
  }

  register(): void {
    this.waiting.push(...this.devices);
    this.pump();
  }

  stats(): LeanFleetStats {
    let observed = 0;
    for (const device of this.devices) if (device.observer) observed++;
    return { ...this.counts, observed };
  }

  /** Changes the temperature of the next `count` observed devices (round robin), each a notification sent. */
  produce(count: number): number {
    let sent = 0;
    // A whole round without an observed device ends it: nothing to notify.
    for (let idle = 0; sent < count && idle < this.devices.length; idle++) {
      const device = this.devices[this.cursor]!;
      this.cursor = (this.cursor + 1) % this.devices.length;
      const observer = device.observer;
      if (!observer) continue;
      device.value++;
      this.notify(device, observer);
      sent++;
      idle = -1;
    }
    this.counts.produced += sent;
    return sent;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(
      this.devices.map((device) => {
        clearTimeout(device.retransmit);
        const socket = device.socket;
        device.socket = undefined;
        return socket ? new Promise<void>((resolve) => socket.close(() => resolve())) : Promise.resolve();
      }),
    );
  }

  private pump(): void {
    const window = this.options.window ?? 32;
    while (!this.stopped && this.inFlight < window && this.waiting.length > 0) {
      const device = this.waiting.shift()!;
      this.inFlight++;
      device.attempts = 0;
      device.registerToken = Buffer.from(device.nextMid().toString(16).padStart(4, '0'), 'hex');
      this.sendRegistration(device, device.nextMid());
    }
  }

  /** RFC 7252 §4.2: a CON retransmitted with the same message id after a doubling, randomised timeout. */
  private sendRegistration(device: LeanDevice, messageId: number): void {
    const { rd, lifetime } = this.options;
    const datagram = generate({
      confirmable: true,
      code: 'POST',
      messageId,
      token: device.registerToken!,
      options: [
        { name: 'Uri-Path', value: Buffer.from('rd') },
        { name: 'Content-Format', value: CT_LINK_FORMAT },
        { name: 'Uri-Query', value: Buffer.from(`ep=${device.name}`) },
        { name: 'Uri-Query', value: Buffer.from(`lt=${lifetime}`) },
      ],
      payload: Buffer.from(LEAN_LINKS),
    });
    device.socket?.send(datagram, rd.port, rd.host);
    const timeout = ACK_TIMEOUT_MS * 2 ** device.attempts * (1 + Math.random() * 0.5);
    device.retransmit = setTimeout(() => {
      if (device.attempts++ < MAX_RETRANSMIT) return this.sendRegistration(device, messageId);
      // Given up on this exchange: a new one, after the devices still waiting.
      this.inFlight--;
      this.waiting.push(device);
      this.pump();
    }, timeout);
  }

  private registrationAnswered(device: LeanDevice, packet: ParsedPacket): void {
    clearTimeout(device.retransmit);
    this.inFlight--;
    if (packet.code === '2.01') {
      const location = packet.options.filter((o) => o.name === 'Location-Path').map((o) => o.value.toString());
      if (device.location === undefined) this.counts.registered++;
      device.location = `/${location.join('/')}`;
    } else {
      // 5.03 with Max-Age (RFC 9176 §5.3: the RD is full or rate limits): again after Max-Age.
      const maxAge = packet.options.find((o) => o.name === 'Max-Age')?.value;
      const seconds = maxAge && maxAge.length > 0 ? maxAge.readUIntBE(0, maxAge.length) : 1;
      device.retransmit = setTimeout(() => {
        this.waiting.push(device);
        this.pump();
      }, seconds * 1000);
    }
    this.pump();
  }

  private receive(device: LeanDevice, data: Buffer, from: RemoteInfo): void {
    let packet: ParsedPacket;
    try {
      packet = parse(data);
    } catch {
      return;
    }
    if (packet.reset) {
      // RFC 7641 §3.6: a Reset to a notification ends the observation.
      if (device.observer) device.observer = undefined;
      return;
    }
    const isResponse = packet.code.startsWith('2.') || packet.code.startsWith('4.') || packet.code.startsWith('5.');
    if (isResponse || (packet.ack && packet.code === '0.00')) {
      if (device.registerToken && packet.token.equals(device.registerToken) && isResponse) {
        if (packet.confirmable) this.send(device, ackOf(packet), from);
        device.registerToken = undefined;
        this.registrationAnswered(device, packet);
      }
      return;
    }
    if (packet.code === '0.00') {
      if (packet.confirmable) {
        this.counts.pings++;
        this.send(device, generate({ reset: true, code: '0.00', messageId: packet.messageId, token: EMPTY }), from);
      }
      return;
    }
    this.counts.requests++;
    this.serve(device, packet, from);
  }

  private serve(device: LeanDevice, request: ParsedPacket, from: RemoteInfo): void {
    const path = request.options
      .filter((o) => o.name === 'Uri-Path')
      .map((o) => o.value.toString())
      .join('/');
    const observe = request.options.find((o) => o.name === 'Observe')?.value;
    const method = request.code;
    const reply = (code: string, options: ParsedPacket['options'] = [], payload: Buffer = EMPTY): void =>
      this.send(
        device,
        generate({
          confirmable: false,
          ack: request.confirmable,
          code,
          messageId: request.confirmable ? request.messageId : device.nextMid(),
          token: request.token,
          options,
          payload,
        }),
        from,
      );
    if (path === 'sensors/temp' && method === '0.01') {
      const registering =
        observe !== undefined && (observe.length === 0 || observe.readUIntBE(0, observe.length) === 0);
      const sameToken = device.observer?.token.equals(request.token) === true;
      if (registering) device.observer = { token: request.token, address: from.address, port: from.port };
      else if (sameToken) device.observer = undefined;
      const options: ParsedPacket['options'] = registering
        ? [{ name: 'Observe', value: uint(device.observeSeq++) }]
        : [];
      options.push({ name: 'Content-Format', value: CT_JSON }, { name: 'Max-Age', value: uint(MAX_AGE) });
      return reply('2.05', options, this.temperature(device));
    }
    if (path === '.well-known/core' && method === '0.01')
      return reply('2.05', [{ name: 'Content-Format', value: CT_LINK_FORMAT }], Buffer.from(LEAN_LINKS));
    if (path === 'actuators/led' && (method === '0.02' || method === '0.03')) return reply('2.04');
    if (method === '0.01' && /^sensors\/|^cfg$|^actuators\/led$/.test(path))
      return reply('2.05', [{ name: 'Content-Format', value: CT_JSON }], Buffer.from('0'));
    reply('4.04');
  }

  private notify(device: LeanDevice, observer: Observer): void {
    device.observeSeq = (device.observeSeq + 1) & 0xffffff;
    // Non-confirmable: RFC 7641 §4.5 lets a server send most notifications so.
    const datagram = generate({
      confirmable: false,
      code: '2.05',
      messageId: device.nextMid(),
      token: observer.token,
      options: [
        { name: 'Observe', value: uint(device.observeSeq) },
        { name: 'Content-Format', value: CT_JSON },
        { name: 'Max-Age', value: uint(MAX_AGE) },
      ],
      payload: this.temperature(device),
    });
    device.socket?.send(datagram, observer.port, observer.address);
  }

  private temperature(device: LeanDevice): Buffer {
    return Buffer.from(`{"temperature":${device.value}}`);
  }

  private send(device: LeanDevice, datagram: Buffer, to: RemoteInfo): void {
    device.socket?.send(datagram, to.port, to.address);
  }
}

function ackOf(packet: ParsedPacket): Buffer {
  return generate({ ack: true, code: '0.00', messageId: packet.messageId, token: EMPTY });
}

function uint(value: number): Buffer {
  if (value === 0) return EMPTY;
  const bytes = value < 0x100 ? 1 : value < 0x10000 ? 2 : value < 0x1000000 ? 3 : 4;
  const buffer = Buffer.alloc(bytes);
  buffer.writeUIntBE(value, 0, bytes);
  return buffer;
}
