import type { MqttConfig } from '../../src/config.js';
import type { Device, DeviceInfo, Registration, Store } from '../../src/store/index.js';
import type { DeviceDirectory } from './thingsboard.js';

/**
 * The names the platform knows devices by (README "Connect to ThingsBoard"): the registration's `ep`, `d/ep` when
 * it has a `d`, or the gateway's own id; a device with neither (discovered) goes by its id.
 */
export class DeviceNames implements DeviceDirectory {
  /** Names of devices since removed from the store: their last events and values still go out under them. */
  private readonly known = new Map<string, string>();
  private byName = new Map<string, string>();

  constructor(
    private readonly store: Store,
    private readonly rule: MqttConfig['deviceName'],
  ) {}

  nameOf(id: string): string {
    const device = this.store.devices.get(id);
    if (device === undefined) return this.known.get(id) ?? id;
    const name = this.compute(device);
    this.known.set(id, name);
    return name;
  }

  /** The name of the device an event describes (it may be gone from the store already). */
  nameOfInfo(info: DeviceInfo): string {
    const name = this.rule === 'id' || info.ep === null ? info.id : info.d === null ? info.ep : `${info.d}/${info.ep}`;
    this.known.set(info.id, name);
    return name;
  }

  /** Rebuilt from the store when a name is not found: devices register far more rarely than RPCs arrive. */
  idOf(name: string): string | undefined {
    const id = this.byName.get(name);
    if (id !== undefined && this.store.devices.get(id) !== undefined && this.nameOf(id) === name) return id;
    this.byName = new Map(this.store.devices.list().map((device) => [this.compute(device), device.id]));
    return this.byName.get(name);
  }

  registrationOf(id: string): Registration | undefined {
    return this.store.registrations.get(id);
  }

  private compute(device: Device): string {
    if (this.rule === 'id') return device.id;
    const ep = device.ep ?? this.store.registrations.get(device.id)?.ep;
    if (ep === undefined || ep === null) return device.id;
    return device.d === null ? ep : `${device.d}/${ep}`;
  }
}
