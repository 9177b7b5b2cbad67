import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CoapClient } from '../../src/coap/client.js';
import { parseConfig, type ObserverConfig } from '../../src/config.js';
import { EventBus, type Telemetry } from '../../src/events.js';
import { silentLogger } from '../../src/log.js';
import { Store, type Device } from '../../src/store/index.js';
import type { Link } from '../../src/coap/link-format.js';
import { Observer } from '../../observer/index.js';
import { registerInStore } from './registration.js';

/** A store in a temp file, a bus recording telemetry, a real client, and the Observer over them. */
export class ObserverFixture {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coregate-observer-'));
  readonly store = new Store({ file: path.join(this.dir, 'gateway.db') });
  readonly bus = new EventBus();
  readonly client = new CoapClient({ log: silentLogger(), bind: '127.0.0.1' });
  readonly telemetry: Telemetry[] = [];
  readonly observer: Observer;

  constructor(observerConfig: Partial<ObserverConfig> = {}) {
    const config = parseConfig({ observer: observerConfig }).observer;
    this.observer = new Observer({
      store: this.store,
      bus: this.bus,
      log: silentLogger(),
      config,
      client: this.client,
    });
    this.bus.on('telemetry', (t) => this.telemetry.push(t));
  }

  /** What the RD does on a registration: device + registration in the store, then the event. */
  register(ep: string, address: { host: string; port: number }, links: Link[], emit = true): Device {
    const device = registerInStore(this.store, ep, address, links);
    if (emit) this.bus.emit('device.registered', { device: this.store.info(device) });
    return device;
  }

  /** What the Pinger does when a device stops or starts answering. */
  setStatus(deviceId: string, status: 'online' | 'offline'): void {
    const device = this.store.devices.setStatus(deviceId, status);
    if (device)
      this.bus.emit(status === 'online' ? 'device.online' : 'device.offline', { device: this.store.info(device) });
  }

  /** What the RD does on a deletion (RFC 9176 §5.3.2). */
  remove(deviceId: string): void {
    const device = this.store.devices.get(deviceId)!;
    const info = this.store.info(device);
    this.store.removeDevice(deviceId);
    this.bus.emit('device.removed', { device: info, reason: 'deleted' });
  }

  values(deviceId: string, path: string): unknown[] {
    return this.telemetry.filter((t) => t.device === deviceId && t.path === path).map((t) => t.value);
  }

  async close(): Promise<void> {
    await this.observer.stop();
    await this.client.close();
    this.store.close();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
