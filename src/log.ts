import pino, { type Logger } from 'pino';

export type { Logger };

export interface LogOptions {
  level?: string;
  /** Force human-readable output; by default it is chosen when stdout is a terminal. */
  pretty?: boolean;
}

/** One JSON line per event; pretty-printed for people at a terminal (pino-pretty as a transport). */
export function createLogger(options: LogOptions = {}): Logger {
  const level = options.level ?? process.env.LOG_LEVEL ?? 'info';
  const pretty = options.pretty ?? prettyByDefault();
  if (pretty) {
    return pino({
      level,
      transport: {
        target: 'pino-pretty',
        options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' },
      },
    });
  }
  return pino({ level, base: { pid: process.pid } });
}

/** People read the log at a terminal; anything else (a journal, a file, a pipe) gets JSON lines. */
export function prettyByDefault(): boolean {
  return process.stdout.isTTY === true;
}

/** A logger that drops everything: for tests and benchmarks that assert on behaviour, not logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
