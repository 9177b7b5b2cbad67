import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import {
  closeCodes,
  encodeFrame,
  parseGatewayFrame,
  verifyHmac,
  WS_MAX_PAYLOAD_BYTES,
  type ErrorFrame,
  type EventFrame,
  type GatewayFrame,
  type HubFrame,
  type ResultFrame,
  type SnapshotFrame,
  type TelemetryFrame,
} from '../../connector/protocol/index.js';

export interface HubPeerOptions {
  secrets: Record<string, string>;
  heartbeat?: number;
  /** Ack every upstream frame as it arrives (default true). */
  autoAck?: boolean;
  /** The last seq this peer says it holds, per gateway, when it welcomes (default: the highest it took). */
  lastSeq?: number;
}

/**
 * A real WebSocket peer playing the hub's side of the protocol (connector/protocol/), for testing the
 * gateway's connector until and besides the real hub: challenge, HMAC check, welcome, seq dedup, acks.
 */
export class HubPeer {
  readonly server: WebSocketServer;
  /** Upstream frames taken (duplicates by seq dropped), in arrival order. */
  readonly taken: (EventFrame | TelemetryFrame)[] = [];
  readonly duplicates: (EventFrame | TelemetryFrame)[] = [];
  readonly snapshots: SnapshotFrame[] = [];
  readonly results: ResultFrame[] = [];
  readonly errors: ErrorFrame[] = [];
  /** Every frame that failed the protocol's validation. */
  readonly invalid: string[] = [];
  readonly closes: { code: number; reason: string }[] = [];
  sockets: WebSocket[] = [];
  connections = 0;
  private highest = 0;

  private constructor(private readonly options: HubPeerOptions) {
    this.server = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: WS_MAX_PAYLOAD_BYTES });
    this.server.on('connection', (socket) => this.accept(socket));
  }

  static async start(options: HubPeerOptions): Promise<HubPeer> {
    const peer = new HubPeer(options);
    if (peer.server.address() === null) await new Promise((resolve) => peer.server.once('listening', resolve));
    return peer;
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}/gateway`;
  }

  /** The socket of the authenticated session, if any. */
  get session(): WebSocket | undefined {
    return this.sockets.find((s) => s.readyState === WebSocket.OPEN && (s as Authed).authed);
  }

  send(frame: HubFrame | Record<string, unknown>, socket = this.session): void {
    socket?.send(JSON.stringify(frame));
  }

  sendRaw(data: string | Buffer, binary = false, socket = this.session): void {
    socket?.send(data, { binary });
  }

  ack(seq: number): void {
    this.send({ type: 'ack', seq });
  }

  /** Drops every socket at once (like a hub crash). */
  crash(): void {
    for (const socket of this.sockets) socket.terminate();
  }

  close(): Promise<void> {
    this.crash();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: WebSocket): void {
    this.connections++;
    this.sockets.push(socket);
    const nonce = randomBytes(16).toString('hex');
    socket.on('close', (code, reason) => this.closes.push({ code, reason: reason.toString() }));
    socket.on('message', (data, isBinary) => {
      const parsed = parseGatewayFrame(data as Buffer, isBinary);
      if (!parsed.ok) {
        this.invalid.push(parsed.error.message);
        return;
      }
      this.receive(socket as Authed, nonce, parsed.frame);
    });
    socket.send(encodeFrame({ type: 'challenge', nonce, heartbeat: this.options.heartbeat ?? 15 }));
  }

  private receive(socket: Authed, nonce: string, frame: GatewayFrame): void {
    switch (frame.type) {
      case 'hello': {
        const secret = this.options.secrets[frame.gateway];
        if (secret === undefined || !verifyHmac(nonce, secret, frame.hmac)) {
          socket.close(closeCodes.badCredentials, 'bad gateway credentials');
          return;
        }
        socket.authed = true;
        socket.send(encodeFrame({ type: 'welcome', lastSeq: this.options.lastSeq ?? this.highest }));
        return;
      }
      case 'event':
      case 'telemetry':
        if (frame.seq <= this.highest) this.duplicates.push(frame);
        else {
          this.highest = frame.seq;
          this.taken.push(frame);
        }
        if (this.options.autoAck ?? true) socket.send(encodeFrame({ type: 'ack', seq: this.highest }));
        return;
      case 'snapshot':
        this.snapshots.push(frame);
        return;
      case 'result':
        this.results.push(frame);
        return;
      case 'error':
        this.errors.push(frame);
        return;
    }
  }
}

type Authed = WebSocket & { authed?: boolean };
