import type { Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import WebSocket from 'ws';
import type { Logger } from '../src/log.js';
import {
  encodeFrame,
  errorFrameFor,
  parseHubFrame,
  WS_MAX_PAYLOAD_BYTES,
  type GatewayFrame,
  type HubFrame,
} from './protocol/index.js';

/** How a wss:// link checks the hub (the embedded hub pins its own certificate); empty: the system's CAs. */
export type LinkTls = Pick<ConnectionOptions, 'ca' | 'checkServerIdentity'>;

export interface LinkListener {
  open(): void;
  frame(frame: HubFrame): void;
  close(code: number, reason: string): void;
}

/**
 * One WebSocket to the hub (ws's `websocket.js`): it frames and parses, keeps the link alive, and
 * answers a frame it cannot parse with an `error` naming the problem; the link stays up.
 * What the frames mean is the Connector's business.
 */
export class Link {
  private readonly socket: WebSocket;
  /** The TCP (or TLS) connection under the WebSocket, once upgraded: what a turn's frames are corked on. */
  private connection: Socket | undefined;
  private corked = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private pongPending = false;
  private closed = false;
  private lastError = '';

  constructor(
    url: string,
    private readonly listener: LinkListener,
    private readonly log: Logger,
    tls: LinkTls = {},
  ) {
    // ws hands these to tls.connect, whose checkServerIdentity (RFC 6125 style: an Error or undefined) ws' own
    // typings describe in an older form.
    const options = { maxPayload: WS_MAX_PAYLOAD_BYTES, perMessageDeflate: false, ...tls } as WebSocket.ClientOptions;
    this.socket = new WebSocket(url, options);
    this.socket.on('upgrade', (response) => (this.connection = response.socket));
    this.socket.on('open', () => listener.open());
    this.socket.on('message', (data, isBinary) => this.receive(data, isBinary));
    this.socket.on('pong', () => (this.pongPending = false));
    // 'close' always follows 'error' in ws; the error only explains it (refused, DNS, HTTP 404 on upgrade).
    this.socket.on('error', (err) => {
      this.lastError = err.message;
      this.log.debug({ err: err.message }, 'platform link error');
    });
    this.socket.on('close', (code, reason) => this.onClose(code, reason.toString()));
  }

  get open(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  /** Sends one frame; false when the socket is no longer open (the frame stays wherever it came from). */
  send(frame: GatewayFrame): boolean {
    if (!this.open) return false;
    this.corkForThisTurn();
    this.socket.send(encodeFrame(frame));
    return true;
  }

  /**
   * The frames sent in one turn (an outbox page, a commit's worth of events) leave in one write: ws writes each
   * frame on its own, and a syscall per frame was a seventh of the gateway's CPU while devices registered. Node's
   * own recipe (https://nodejs.org/api/stream.html#writablecork): cork, and uncork on the next tick.
   */
  private corkForThisTurn(): void {
    const connection = this.connection;
    if (connection === undefined || this.corked) return;
    this.corked = true;
    connection.cork();
    process.nextTick(() => {
      this.corked = false;
      connection.uncork();
    });
  }

  /**
   * WebSocket ping every `seconds` (the hub's hint); a ping still unanswered at the next beat means the
   * path is dead even if TCP has not noticed (RFC 6455 §5.5.2), so the socket is terminated.
   */
  startHeartbeat(seconds: number): void {
    this.stopHeartbeat();
    this.pongPending = false;
    this.heartbeat = setInterval(() => {
      if (this.pongPending) {
        this.log.warn({ seconds }, 'platform link missed a pong; terminating it');
        this.terminate();
        return;
      }
      this.pongPending = true;
      this.socket.ping();
    }, seconds * 1000);
  }

  close(code: number, reason: string): void {
    this.stopHeartbeat();
    if (this.socket.readyState === WebSocket.CONNECTING) this.socket.terminate();
    else this.socket.close(code, reason);
  }

  terminate(): void {
    this.stopHeartbeat();
    this.socket.terminate();
  }

  private receive(data: WebSocket.RawData, isBinary: boolean): void {
    const parsed = parseHubFrame(data, isBinary);
    if (!parsed.ok) {
      this.log.warn({ problem: parsed.error }, 'refused a frame from the platform');
      this.send(errorFrameFor(parsed.error));
      return;
    }
    this.listener.frame(parsed.frame);
  }

  private stopHeartbeat(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  private onClose(code: number, reason: string): void {
    this.stopHeartbeat();
    if (this.closed) return;
    this.closed = true;
    this.listener.close(code, reason || this.lastError);
  }
}
