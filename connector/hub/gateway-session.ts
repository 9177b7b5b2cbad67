import { randomBytes, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import {
  closeCodes,
  encodeFrame,
  errorFrameFor,
  parseGatewayFrame,
  verifyHmac,
  type CommandStatusFrame,
  type DeviceInfoFrame,
  type EventFrame,
  type GatewayFrame,
  type GatewayFrameOf,
  type HubFrame,
  type RawFrame,
  type TelemetryFrame,
} from '../protocol/index.js';
import { HttpError } from './http-io.js';

/** What a session needs of the hub; GatewaySessions provides it. */
export interface SessionHost {
  log: Logger;
  heartbeatSeconds: number;
  handshakeTimeoutMs: number;
  secretOf(gateway: string): string | undefined;
  /** The session proved its gateway id; returns the last seq the hub holds for it. */
  authenticated(session: GatewaySession): number;
  closed(session: GatewaySession): void;
  /** An upstream frame with a seq not seen before, to apply. */
  upstream(session: GatewaySession, frame: EventFrame | TelemetryFrame | CommandStatusFrame): void;
  /** Records `seq` as taken; false for a duplicate. */
  take(gateway: string, seq: number): boolean;
  /** Lifetime refreshes of the gateway's devices (no seq: state, applied as it comes). */
  refresh(session: GatewaySession, frame: GatewayFrameOf<'refresh'>): void;
  /** The gateway's whole device set, once all parts of its snapshot arrived. */
  snapshot(session: GatewaySession, devices: DeviceInfoFrame[]): void;
  /**
   * A gateway with the same id is connected from another store: refuse this one (true) rather than
   * replace the other and mix two seq streams.
   */
  duplicate(session: GatewaySession): boolean;
  result(session: GatewaySession, frame: GatewayFrameOf<'result'>): boolean;
  failCommand(session: GatewaySession, id: string, error: HttpError): void;
  /** Writes the seqs taken and the devices moved so far into the open batch; returns the gateway's last seq. */
  flush(gateway: string): number;
  /** Resolves once everything written so far is on disk. */
  durable(): Promise<void>;
}

/** What /socket/info shows of a gateway link. */
export interface GatewayLinkInfo {
  id: string;
  address: string;
  connected_at: string;
  received: number;
  duplicates: number;
}

type Handlers = { [T in GatewayFrame['type']]: (frame: GatewayFrameOf<T>) => void };

/**
 * One gateway's WebSocket (docs/design.md "Wire contract"): challenge → hello (HMAC of the nonce) → welcome,
 * then seq'd upstream frames acked cumulatively, commands down and results up, heartbeat by ping/pong.
 */
export class GatewaySession {
  /** Unique per connection, so that a replaced session's late results are told apart. */
  readonly key = randomUUID();
  gateway: string | undefined;
  /** The gateway store's id from `hello` (absent from gateways that predate it). */
  instance: string | undefined;
  /** Events up to this seq are already reflected by the gateway's last snapshot: history, not current state. */
  snapshotSeq = 0;
  readonly connectedAt = new Date();
  private readonly nonce = randomBytes(16).toString('hex');
  private alive = true;
  private ackScheduled = false;
  /** The ack that goes out when `batch` commits; later turns that write into the same batch move its seq. */
  private ackWaiting: { batch: Promise<void>; seq: number } | undefined;
  private received = 0;
  private duplicates = 0;
  /** The parts of a snapshot received so far; the registry changes only when the last one is in. */
  private partial: { seq: number; next: number; devices: DeviceInfoFrame[] } | undefined;
  private readonly handshakeTimer: NodeJS.Timeout;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private readonly handlers: Handlers = {
    hello: () => this.refuse('unexpected_frame', 'hello after the handshake', 'hello'),
    event: (frame) => this.onUpstream(frame),
    telemetry: (frame) => this.onUpstream(frame),
    command_status: (frame) => this.onUpstream(frame),
    snapshot: (frame) => this.onSnapshotPart(frame),
    refresh: (frame) => {
      this.received++;
      this.host.refresh(this, frame);
    },
    result: (frame) => {
      if (!this.host.result(this, frame)) this.host.log.debug({ id: frame.id }, 'result for no waiting command');
    },
    error: (frame) => {
      this.host.log.warn({ gateway: this.gateway, error: frame }, 'gateway refused a frame');
      const error =
        frame.code === 'unknown_command'
          ? new HttpError(404, 'unknown_command', frame.message)
          : new HttpError(502, 'gateway_error', `the gateway refused the command: ${frame.message}`);
      if (frame.ref !== undefined) this.host.failCommand(this, frame.ref, error);
    },
  };

  constructor(
    private readonly ws: WebSocket,
    readonly address: string,
    private readonly host: SessionHost,
  ) {
    ws.on('message', (data: RawFrame, isBinary) => this.onMessage(data, isBinary));
    ws.on('ping', () => (this.alive = true));
    ws.on('pong', () => (this.alive = true));
    ws.on('error', (err) => host.log.debug({ err, address }, 'gateway socket error'));
    ws.on('close', (code, reason) => this.onClose(code, reason.toString()));
    this.handshakeTimer = setTimeout(
      () => this.close(closeCodes.handshakeTimeout, `no hello within ${host.handshakeTimeoutMs} ms`),
      host.handshakeTimeoutMs,
    );
    this.send({ type: 'challenge', nonce: this.nonce, heartbeat: host.heartbeatSeconds });
  }

  send(frame: HubFrame): boolean {
    if (this.ws.readyState !== this.ws.OPEN) return false;
    this.ws.send(encodeFrame(frame));
    return true;
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }

  terminate(): void {
    this.ws.terminate();
  }

  info(): GatewayLinkInfo {
    return {
      id: this.gateway ?? '(handshake)',
      address: this.address,
      connected_at: this.connectedAt.toISOString(),
      received: this.received,
      duplicates: this.duplicates,
    };
  }

  private onMessage(data: RawFrame, isBinary: boolean): void {
    this.alive = true;
    const parsed = parseGatewayFrame(data, isBinary);
    if (!parsed.ok) {
      this.send(errorFrameFor(parsed.error));
      if (this.gateway === undefined) this.close(closeCodes.protocolError, `bad hello: ${parsed.error.message}`);
      else if (parsed.error.ref !== undefined) {
        const error = new HttpError(502, 'gateway_error', `the gateway's result was invalid: ${parsed.error.message}`);
        this.host.failCommand(this, parsed.error.ref, error);
      }
      return;
    }
    const frame = parsed.frame;
    if (this.gateway === undefined) {
      if (frame.type === 'hello') this.onHello(frame);
      else this.close(closeCodes.protocolError, `expected hello, got ${frame.type}`);
      return;
    }
    (this.handlers[frame.type] as (frame: GatewayFrame) => void)(frame);
  }

  private onHello(frame: GatewayFrameOf<'hello'>): void {
    const secret = this.host.secretOf(frame.gateway);
    if (secret === undefined) {
      this.close(closeCodes.badCredentials, `unknown gateway ${JSON.stringify(frame.gateway)}`.slice(0, 120));
      return;
    }
    if (!verifyHmac(this.nonce, secret, frame.hmac)) {
      this.close(closeCodes.badCredentials, `wrong HMAC for gateway ${JSON.stringify(frame.gateway)}`.slice(0, 120));
      return;
    }
    clearTimeout(this.handshakeTimer);
    this.gateway = frame.gateway;
    this.instance = frame.instance;
    if (this.host.duplicate(this)) {
      this.close(closeCodes.duplicateGateway, 'another gateway with this id is connected');
      return;
    }
    const lastSeq = this.host.authenticated(this);
    this.send({ type: 'welcome', lastSeq });
    this.heartbeatTimer = setInterval(() => this.heartbeat(), this.host.heartbeatSeconds * 1000);
  }

  /** Parts arrive in order on the one socket; one out of order starts nothing and is refused. */
  private onSnapshotPart(frame: GatewayFrameOf<'snapshot'>): void {
    const part = frame.part ?? 0;
    if (part === 0) this.partial = { seq: frame.seq ?? 0, next: 0, devices: [] };
    const partial = this.partial;
    if (partial === undefined || part !== partial.next) {
      this.partial = undefined;
      this.refuse('unexpected_frame', `snapshot part ${part} out of order`, 'snapshot');
      return;
    }
    for (const device of frame.devices) partial.devices.push(device);
    partial.next++;
    if (frame.more === true) return;
    this.partial = undefined;
    this.snapshotSeq = partial.seq;
    this.host.snapshot(this, partial.devices);
  }

  /** Missing two heartbeats in a row (nothing heard for a whole interval) means the link is dead. */
  private heartbeat(): void {
    if (!this.alive) {
      this.host.log.warn({ gateway: this.gateway }, 'gateway missed its heartbeat, dropping the link');
      this.ws.terminate();
      return;
    }
    this.alive = false;
    this.ws.ping();
  }

  private onUpstream(frame: EventFrame | TelemetryFrame | CommandStatusFrame): void {
    this.received++;
    if (this.host.take(this.gateway!, frame.seq)) this.host.upstream(this, frame);
    else this.duplicates++;
    this.scheduleAck();
  }

  /**
   * An ack tells the gateway to trim its outbox, so what it covers must be on disk first. Once per turn of the event
   * loop the frames taken are written into the open batch, and the ack goes out when that batch commits (within the
   * batch window, docs/architecture.md "How a write becomes durable"), one ack per commit with the last seq written
   * into it. A gateway's frames arrive a few per turn: a commit and an ack every turn were half of the hub's CPU per
   * event at 5,000 events/s (test/bench/hub-events.ts).
   */
  private scheduleAck(): void {
    if (this.ackScheduled) return;
    this.ackScheduled = true;
    setImmediate(() => {
      this.ackScheduled = false;
      // A closing link gets no ack; what it took is committed by the next commit or by the hub's stop().
      if (this.ws.readyState !== this.ws.OPEN) return;
      const seq = this.host.flush(this.gateway!);
      const batch = this.host.durable();
      if (this.ackWaiting?.batch === batch) {
        this.ackWaiting.seq = seq;
        return;
      }
      const waiting = (this.ackWaiting = { batch, seq });
      const settle = (): void => {
        if (this.ackWaiting === waiting) this.ackWaiting = undefined;
      };
      batch.then(() => {
        settle();
        this.send({ type: 'ack', seq: waiting.seq });
      }, settle);
    });
  }

  private refuse(code: 'unexpected_frame', message: string, ref: string): void {
    this.send(errorFrameFor({ code, message, ref }));
  }

  private onClose(code: number, reason: string): void {
    clearTimeout(this.handshakeTimer);
    clearInterval(this.heartbeatTimer);
    if (this.gateway !== undefined) this.host.log.info({ gateway: this.gateway, code, reason }, 'gateway disconnected');
    this.host.closed(this);
  }
}
