import type { Logger } from 'pino';
import type { WebSocket } from 'ws';

/** PiCloud's /socket/info: every interval, the hub's connections and subscriptions as one JSON message. */
export class InfoSocket {
  private readonly sockets = new Set<WebSocket>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly log: Logger,
    private readonly intervalMs: number,
    private readonly snapshot: () => object,
  ) {}

  /** The first message goes out at once, so a client need not wait a whole interval. */
  attach(ws: WebSocket): void {
    this.sockets.add(ws);
    ws.on('close', () => this.sockets.delete(ws));
    ws.on('error', (err) => this.log.debug({ err }, 'info socket error'));
    ws.send(JSON.stringify(this.snapshot()));
    this.timer ??= setInterval(() => this.push(), this.intervalMs);
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    for (const ws of this.sockets) ws.terminate();
    this.sockets.clear();
  }

  private push(): void {
    if (this.sockets.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    const message = JSON.stringify(this.snapshot());
    for (const ws of this.sockets) if (ws.readyState === ws.OPEN) ws.send(message);
  }
}
