import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { freeTcpPort } from './ports.js';
import { waitFor } from './wait.js';

/** Debian's broker, installed by .ci/run; suites skip (saying why) where it is missing. */
export const MOSQUITTO = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((file) => fs.existsSync(file));

/** The broker's version line (`mosquitto version 2.0.11`), for test titles that name the peer. */
export function mosquittoVersion(): string {
  if (MOSQUITTO === undefined) return 'mosquitto (missing)';
  const out = spawnSync(MOSQUITTO, ['-h'], { encoding: 'utf8' });
  return /mosquitto version [\d.]+/.exec(`${out.stdout}${out.stderr}`)?.[0] ?? 'mosquitto';
}

/**
 * A real mosquitto on a free loopback port, with its persistence in `dir`: stop() (SIGTERM) saves the sessions
 * and queued messages, start() on the same object loads them again on the same port.
 */
export class Mosquitto {
  private child: ChildProcess | undefined;
  log = '';

  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  static async start(parent: string): Promise<Mosquitto> {
    const dir = path.join(parent, 'mosquitto');
    fs.mkdirSync(dir, { recursive: true });
    const broker = new Mosquitto(await freeTcpPort(), dir);
    await broker.start();
    return broker;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (MOSQUITTO === undefined) throw new Error('mosquitto is not installed');
    const conf = path.join(this.dir, 'mosquitto.conf');
    fs.writeFileSync(
      conf,
      [
        `listener ${this.port} 127.0.0.1`,
        'allow_anonymous true',
        // Started as root, mosquitto would drop to its own user and then fail to write its persistence file (its
        // `.db.new` in a directory of ours) now and then: it stays the user that started it.
        `user ${os.userInfo().username}`,
        'persistence true',
        `persistence_location ${this.dir}/`,
        'persistence_file mosquitto.db',
        // Nothing dropped by the broker's own limits during a test: queues bounded by the test, not by defaults.
        'max_queued_messages 0',
        // Latency as a deployment would have it (docs/scale-out.md): no Nagle delay on small messages.
        'set_tcp_nodelay true',
        'max_inflight_messages 0',
        'log_dest stderr',
        'log_type error',
        'log_type warning',
      ].join('\n') + '\n',
    );
    const child = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (chunk: Buffer) => (this.log += chunk.toString()));
    this.child = child;
    await waitFor(
      () => (child.exitCode !== null ? Promise.reject(new Error(`mosquitto exited: ${this.log}`)) : accepts(this.port)),
      {
        what: `mosquitto on port ${this.port}`,
      },
    );
  }

  /** SIGTERM: mosquitto closes every connection and writes its persistence file. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
