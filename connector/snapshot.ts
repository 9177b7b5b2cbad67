import type { Device, DeviceInfo } from '../src/store/index.js';
import { SNAPSHOT_PART_BYTES, type SnapshotFrame } from './protocol/index.js';

/**
 * The gateway's devices as `snapshot` frames of at most SNAPSHOT_PART_BYTES of devices each (docs/protocol.md
 * "snapshot"). One frame held 3,000 devices in 1.23 MB, over the hub's 1 MiB frame limit, and a gateway with
 * more devices never reached the platform. `seq` is the same in every part: the outbox's last seq when it was taken.
 */
export function* snapshotParts(
  seq: number,
  devices: readonly Device[],
  infoOf: (device: Device) => DeviceInfo,
): Generator<SnapshotFrame> {
  let part = 0;
  let batch: DeviceInfo[] = [];
  let bytes = 0;
  for (const device of devices) {
    const info = infoOf(device);
    // JSON length counts UTF-16 units; a device's text is mostly ASCII, and the part bound leaves room anyway.
    const size = JSON.stringify(info).length + 1;
    if (batch.length > 0 && bytes + size > SNAPSHOT_PART_BYTES) {
      yield { type: 'snapshot', seq, part: part++, more: true, devices: batch };
      batch = [];
      bytes = 0;
    }
    batch.push(info);
    bytes += size;
  }
  yield { type: 'snapshot', seq, part, more: false, devices: batch };
}
