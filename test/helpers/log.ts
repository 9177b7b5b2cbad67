import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

export interface LogRecord {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** A logger that keeps its records, for checking what was logged and how often. */
export function recordingLogger(level = 'debug'): { log: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) records.push(JSON.parse(line) as LogRecord);
      done();
    },
  });
  return { log: pino({ level }, sink), records };
}
