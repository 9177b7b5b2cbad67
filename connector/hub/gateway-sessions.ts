import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import {
  closeCodes,
  type CancelFrame,
  type CommandFrame,
  type CommandStatusFrame,
  type DeviceInfoFrame,
  type EventFrame,
  type GatewayFrameOf,
  type TelemetryFrame,
} from '../protocol/index.js';
import type { CommandRecords } from './command-records.js';
import type { PendingCommands } from './commands.js';
import type { DeviceRegistry } from './device-registry.js';
import { GatewaySession, type GatewayLinkInfo, type SessionHost } from './gateway-session.js';
import { HttpError } from './http-io.js';
import { hubEventOf } from './hub-events.js';
import type { SeqLedger } from './seq-ledger.js';

export interface GatewaySessionsDeps {
  log: Logger;
  heartbeatSeconds: number;
  handshakeTimeoutMs: number;
  secrets: ReadonlyMap<string, string>;
  ledger: SeqLedger;
  registry: DeviceRegistry;
  pending: PendingCommands;
  records: CommandRecords;
  publish: (name: string, data: unknown) => void;
  /** Resolves once everything written so far is on disk. */
  durable: () => Promise<void>;
}

/** The gateways' WebSocket route: one live session per gateway id, a newer one replacing the older. */
export class GatewaySessions implements SessionHost {
  readonly log: Logger;
  readonly heartbeatSeconds: number;
  readonly handshakeTimeoutMs: number;
  private readonly live = new Map<string, GatewaySession>();
  private readonly all = new Set<GatewaySession>();
  private duplicateCount = 0;

  constructor(private readonly deps: GatewaySessionsDeps) {
    this.log = deps.log;
    this.heartbeatSeconds = deps.heartbeatSeconds;
    this.handshakeTimeoutMs = deps.handshakeTimeoutMs;
  }

  attach(ws: WebSocket, address: string): void {
    this.all.add(new GatewaySession(ws, address, this));
  }

  isConnected(gateway: string): boolean {
    return this.live.has(gateway);
  }

  /**
   * Sends a command (or a queued command's cancellation) to `gateway` and waits for its outcome: the `result`,
   * or for a queued command and a cancel the `command_status` the gateway answers with (503 when not connected).
   */
  async command(
    gateway: string,
    frame: CommandFrame | CancelFrame,
    waitMs: number,
  ): ReturnType<PendingCommands['wait']> {
    const session = this.live.get(gateway);
    if (session === undefined || !session.send(frame)) {
      return { ok: false, error: new HttpError(503, 'gateway_disconnected', `gateway ${gateway} is not connected`) };
    }
    return this.deps.pending.wait(frame.id, session.key, waitMs);
  }

  /** Gateways connected now. */
  get connectedCount(): number {
    return this.live.size;
  }

  /** Upstream frames dropped as resends since the hub started (for metrics). */
  duplicates(): number {
    return this.duplicateCount;
  }

  info(): GatewayLinkInfo[] {
    return [...this.live.values()].map((session) => session.info());
  }

  closeAll(code: number, reason: string): void {
    for (const session of this.all) session.close(code, reason);
  }

  terminateAll(): void {
    for (const session of this.all) session.terminate();
  }

  // ---- SessionHost ----

  secretOf(gateway: string): string | undefined {
    return this.deps.secrets.get(gateway);
  }

  authenticated(session: GatewaySession): number {
    const gateway = session.gateway!;
    const older = this.live.get(gateway);
    this.live.set(gateway, session);
    if (older !== undefined) {
      this.log.warn({ gateway, older: older.address, newer: session.address }, 'gateway session replaced');
      this.failCommands(older, 'the gateway reconnected');
      older.close(closeCodes.replaced, 'replaced by a newer session of the same gateway');
    }
    // Another store is another seq stream (a wiped database, or the other of two gateways sharing an id):
    // its seqs start again, and the ledger must not drop them as resends of the old stream's.
    if (this.deps.ledger.switchInstance(gateway, session.instance)) {
      this.log.warn({ gateway, instance: session.instance }, 'gateway store changed: a new seq stream starts');
    }
    this.deps.ledger.connected(gateway, session.connectedAt.getTime());
    this.log.info({ gateway, address: session.address }, 'gateway connected');
    this.deps.publish('gateway.connected', { gateway, address: session.address });
    return this.deps.ledger.get(gateway);
  }

  closed(session: GatewaySession): void {
    this.all.delete(session);
    const gateway = session.gateway;
    if (gateway === undefined) return;
    this.failCommands(session, 'the gateway disconnected');
    if (this.live.get(gateway) !== session) return;
    this.live.delete(gateway);
    this.deps.publish('gateway.disconnected', { gateway });
  }

  take(gateway: string, seq: number): boolean {
    const taken = this.deps.ledger.take(gateway, seq);
    if (!taken) this.duplicateCount++;
    return taken;
  }

  lastSeq(gateway: string): number {
    return this.deps.ledger.get(gateway);
  }

  refresh(session: GatewaySession, frame: GatewayFrameOf<'refresh'>): void {
    this.deps.registry.refresh(session.gateway!, frame.devices);
  }

  upstream(session: GatewaySession, frame: EventFrame | TelemetryFrame | CommandStatusFrame): void {
    const gateway = session.gateway!;
    if (frame.type === 'command_status') return this.commandStatus(session, frame);
    if (frame.type === 'telemetry') this.deps.registry.touch(frame.device, frame.ts);
    else if (frame.seq > session.snapshotSeq) {
      if (frame.name === 'device.removed') this.deps.registry.remove(frame.device.id);
      else this.deps.registry.upsert(gateway, frame.device);
    }
    const { name, data } = hubEventOf(gateway, frame);
    this.deps.publish(name, data);
  }

  /** Records a queued command's move, answers whoever waits on it, and announces a finished one (`command.result`). */
  private commandStatus(session: GatewaySession, frame: CommandStatusFrame): void {
    const record = this.deps.records.apply(session.gateway!, frame);
    this.deps.pending.settleStatus(session.key, frame);
    if (frame.status !== 'queued' && frame.status !== 'sent') this.deps.publish('command.result', record);
  }

  snapshot(session: GatewaySession, devices: DeviceInfoFrame[]): void {
    this.deps.registry.replaceGateway(session.gateway!, devices);
  }

  /**
   * Only a session of the same store may replace a live one (a gateway reconnecting over a half-open socket).
   * A gateway that predates `hello.instance` says nothing and replaces as before.
   */
  duplicate(session: GatewaySession): boolean {
    const gateway = session.gateway!;
    const live = this.live.get(gateway);
    if (live === undefined || session.instance === undefined || live.instance === undefined) return false;
    if (live.instance === session.instance) return false;
    this.log.warn(
      { gateway, connected: live.address, refused: session.address, instance: session.instance, live: live.instance },
      'gateway refused: another gateway with the same id (another store) is connected; give each gateway its own id',
    );
    return true;
  }

  result(session: GatewaySession, frame: GatewayFrameOf<'result'>): boolean {
    return this.deps.pending.settle(session.key, frame);
  }

  failCommand(session: GatewaySession, id: string, error: HttpError): void {
    this.deps.pending.fail(id, session.key, error);
  }

  flush(gateway: string): number {
    this.deps.ledger.flush();
    this.deps.registry.flush();
    return this.deps.ledger.get(gateway);
  }

  durable(): Promise<void> {
    return this.deps.durable();
  }

  private failCommands(session: GatewaySession, why: string): void {
    const error = new HttpError(503, 'gateway_disconnected', `${why} before the device answered`);
    this.deps.pending.failSession(session.key, error);
  }
}
