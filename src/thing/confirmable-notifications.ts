import type { Socket } from 'node:dgram';
import type { Server } from 'coap';
import { useBeforeHandling } from './server-adapters.js';

/** RFC 7252 §4.8.2: MAX_TRANSMIT_WAIT with the default parameters (seconds). */
export const MAX_TRANSMIT_WAIT_MS = 93_000;

interface Pending {
  observer: string;
  timer: NodeJS.Timeout;
}

/**
 * RFC 7641 §4.5: a client that rejects a confirmable notification with a Reset, or does not acknowledge one
 * within the retransmission window, is no longer interested, and the server removes it from its observers.
 * The `coap` package gives up only when its cache keeps the exchange, and its cache counts every datagram as
 * the 8 KB pool it was cut from: a busy thing forgot its exchanges first and never dropped a client that went
 * away. After three gateway crash-restarts, things notified every dead observation ever made (3-4x the CPU).
 *
 * This watches the thing's own socket: each confirmable response it sends (a notification) is remembered by
 * its message id until an ACK or RST for that id arrives; `gone(observer)` is called on a Reset, or when no
 * ACK came within `timeoutMs`. `observer` is `address:port#token`, the thing's key for an observation.
 */
export function watchConfirmableNotifications(
  server: Server,
  socket: Socket,
  timeoutMs: number,
  gone: (observer: string) => void,
): () => void {
  const pending = new Map<string, Pending>();
  const send = socket.send.bind(socket) as (...args: unknown[]) => void;
  socket.send = ((...args: unknown[]) => {
    const [datagram, , , port, address] = args as [Buffer, number, number, number, string];
    if (Buffer.isBuffer(datagram) && typeof port === 'number' && typeof address === 'string') {
      sent(datagram, `${address}:${port}`);
    }
    send(...args);
  }) as Socket['send'];

  function sent(datagram: Buffer, peer: string): void {
    // RFC 7252 §3: type CON is 0; a response has code class 2-5 (byte 1 >= 0x40).
    if (datagram.length < 4 || ((datagram[0]! >> 4) & 3) !== 0 || datagram[1]! < 0x40) return;
    const id = `${peer}/${datagram.readUInt16BE(2)}`;
    if (pending.has(id)) return; // a retransmission: same message id, same deadline
    const token = datagram.subarray(4, 4 + (datagram[0]! & 0x0f)).toString('hex');
    const observer = `${peer}#${token}`;
    const timer = setTimeout(() => {
      pending.delete(id);
      gone(observer);
    }, timeoutMs);
    timer.unref();
    pending.set(id, { observer, timer });
  }

  useBeforeHandling(server, (request, next) => {
    const packet = request.packet;
    if (packet !== undefined && (packet.ack || packet.reset)) {
      const id = `${request.rsinfo.address}:${request.rsinfo.port}/${packet.messageId}`;
      const entry = pending.get(id);
      if (entry !== undefined) {
        clearTimeout(entry.timer);
        pending.delete(id);
        if (packet.reset) gone(entry.observer);
      }
    }
    next(null);
  });

  return () => {
    for (const { timer } of pending.values()) clearTimeout(timer);
    pending.clear();
  };
}
