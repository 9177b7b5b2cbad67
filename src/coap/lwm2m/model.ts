/**
 * Data types of the resources a TLV payload cannot describe by itself (TLV carries bytes, not types: OMA-TS-
 * LightweightM2M-V1_0_2 §6.4.3 leaves the type to the Object definition). These are the OMA objects 0-7 and the
 * IPSO reusable resources of the OMA LwM2M registry (https://technical.openmobilealliance.org/OMNA/LwM2M/
 * LwM2MRegistry.html); a resource not listed here travels as `{"opaque": <base64>}`.
 */
export type ResourceType = 'string' | 'integer' | 'unsigned' | 'float' | 'boolean' | 'opaque' | 'time' | 'objlnk';

const S = 'string';
const I = 'integer';
const F = 'float';
const B = 'boolean';
const O = 'opaque';
const T = 'time';

/** Per object: resource id → type. */
const OBJECTS: Record<number, Record<number, ResourceType>> = {
  // LwM2M Security
  0: { 0: S, 1: B, 2: I, 3: O, 4: O, 5: O, 6: I, 7: O, 8: O, 9: S, 10: I, 11: I, 12: I },
  // LwM2M Server
  1: { 0: I, 1: I, 2: I, 3: I, 5: I, 6: B, 7: S, 9: B, 10: I, 11: I, 12: I, 13: I, 14: I, 15: I, 16: B, 17: O, 18: I },
  // Access Control
  2: { 0: I, 1: I, 2: I, 3: I },
  // Device
  3: {
    0: S,
    1: S,
    2: S,
    3: S,
    6: I,
    7: I,
    8: I,
    9: I,
    10: I,
    11: I,
    13: T,
    14: S,
    15: S,
    16: S,
    17: S,
    18: S,
    19: S,
    20: I,
    21: I,
    22: 'objlnk',
  },
  // Connectivity Monitoring
  4: { 0: I, 1: I, 2: I, 3: I, 4: S, 5: S, 6: I, 7: S, 8: I, 9: I, 10: I, 11: I, 12: I },
  // Firmware Update
  5: { 0: O, 1: S, 3: I, 5: I, 6: S, 7: S, 8: I, 9: I },
  // Location
  6: { 0: F, 1: F, 2: F, 3: F, 4: O, 5: T, 6: F },
  // Connectivity Statistics
  7: { 0: I, 1: I, 2: I, 3: I, 4: I, 5: I, 8: I },
};

/** IPSO reusable resources (any object 3200-3400 and beyond uses them with the same meaning). */
const REUSABLE: Record<number, ResourceType> = {
  5500: B,
  5501: I,
  5505: O,
  5601: F,
  5602: F,
  5603: F,
  5604: F,
  5700: F,
  5701: S,
  5750: S,
  5821: F,
  5850: B,
  5851: I,
  5852: I,
  5853: S,
  5900: F,
};

/** The type of `/objectId/x/resourceId`, or undefined when neither the objects nor the reusable resources know it. */
export function resourceType(objectId: number, resourceId: number): ResourceType | undefined {
  return OBJECTS[objectId]?.[resourceId] ?? REUSABLE[resourceId];
}
