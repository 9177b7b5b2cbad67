export { decodeTlv, encodeTlv } from './tlv.js';
export { decodeLwm2mJson, encodeLwm2mJson } from './lwm2m-json.js';
export { senmlFromResources } from './senml-resources.js';
export { parseLwm2mPath, formatLwm2mPath, isUnder, type Lwm2mPath } from './path.js';
export { Lwm2mFormatError, type Lwm2mResources, type Lwm2mValue } from './value.js';
export { resourceType, type ResourceType } from './model.js';
