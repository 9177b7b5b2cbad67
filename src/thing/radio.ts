import type { Socket } from 'node:dgram';

/** What a sleepy thing's radio saw: every datagram that reached it, and those it dropped while asleep. */
export interface RadioStats {
  datagrams: number;
  /** Empty CONs (RFC 7252 §4.3 pings), whether awake or asleep. */
  pings: number;
  dropped: number;
}

/**
 * A battery device's radio: off between awake windows. While off, every datagram that arrives is dropped
 * unseen and nothing is sent (a sleeping radio neither hears nor speaks). Sits under the whole socket, so the
 * server and the registration agent alike see only what arrives while it is on.
 */
export class Radio {
  readonly stats: RadioStats = { datagrams: 0, pings: 0, dropped: 0 };
  private on = true;

  constructor(socket: Socket) {
    const emit = socket.emit.bind(socket) as (event: string | symbol, ...args: unknown[]) => boolean;
    socket.emit = ((event: string | symbol, ...args: unknown[]) => {
      if (event !== 'message') return emit(event, ...args);
      const datagram = args[0] as Buffer;
      this.stats.datagrams++;
      if (isPing(datagram)) this.stats.pings++;
      if (!this.on) {
        this.stats.dropped++;
        return false;
      }
      return emit(event, ...args);
    }) as Socket['emit'];
    const send = socket.send.bind(socket) as (...args: unknown[]) => void;
    socket.send = ((...args: unknown[]) => {
      if (this.on) send(...args);
    }) as Socket['send'];
  }

  get awake(): boolean {
    return this.on;
  }

  set(on: boolean): void {
    this.on = on;
  }
}

/** An empty Confirmable message: 4 bytes, type CON, code 0.00. */
function isPing(datagram: Buffer): boolean {
  return datagram.length === 4 && ((datagram[0]! >> 4) & 0x3) === 0 && datagram[1] === 0;
}
