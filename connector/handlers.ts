import type { Logger } from '../src/log.js';
import type { CommandRunner } from './commands.js';
import {
  hmacOf,
  type FrameProblem,
  type GatewayFrame,
  type HubFrame,
  type HubFrameOf,
  type HubFrameType,
  type ResultFrame,
} from './protocol/index.js';
import type { Upstream } from './upstream.js';

/** What a handler may see and do of the link its frame came in on. */
export interface Session {
  readonly phase: 'authenticating' | 'online';
  /** The hub's challenge has been answered. */
  readonly challenged: boolean;
  readonly gatewayId: string;
  /** The gateway store's id (`hello.instance`). */
  readonly instance: string;
  readonly secret: string;
  readonly upstream: Upstream;
  readonly commands: CommandRunner;
  readonly log: Logger;
  send(frame: GatewayFrame): boolean;
  /** Sends a command's result on whichever link is online when it is ready (maybe a newer one). */
  reply(result: ResultFrame): void;
  refuse(problem: FrameProblem): void;
  /** The challenge is answered: remember the hub's heartbeat hint. */
  answered(heartbeatSeconds: number): void;
  /** The hub welcomed us: it holds everything up to `lastSeq`. */
  welcomed(lastSeq: number): void;
}

type Handler<T extends HubFrameType> = (session: Session, frame: HubFrameOf<T>) => void;

function unexpected(session: Session, frame: HubFrame): void {
  const ref = frame.type === 'command' ? frame.id : frame.type;
  session.refuse({ code: 'unexpected_frame', message: `"${frame.type}" is not expected while ${session.phase}`, ref });
}

/** One handler per frame type (mqtt.js's `handlers/`), each checking the frame fits the link's phase. */
export const handlers: { [T in HubFrameType]: Handler<T> } = {
  challenge(session, frame) {
    if (session.phase !== 'authenticating' || session.challenged) return unexpected(session, frame);
    session.send({
      type: 'hello',
      gateway: session.gatewayId,
      hmac: hmacOf(frame.nonce, session.secret),
      instance: session.instance,
    });
    session.answered(frame.heartbeat);
  },

  welcome(session, frame) {
    if (session.phase !== 'authenticating' || !session.challenged) return unexpected(session, frame);
    session.welcomed(frame.lastSeq);
  },

  ack(session, frame) {
    if (session.phase !== 'online') return unexpected(session, frame);
    session.upstream.ack(frame.seq);
  },

  command(session, frame) {
    if (session.phase !== 'online') return unexpected(session, frame);
    session.commands.handle(frame, (result) => session.reply(result));
  },

  error(session, frame) {
    session.log.warn({ code: frame.code, ref: frame.ref }, `platform refused a frame: ${frame.message}`);
  },
};

/** Dispatches a parsed frame to its handler. */
export function dispatch(session: Session, frame: HubFrame): void {
  (handlers[frame.type] as Handler<HubFrameType>)(session, frame as never);
}
