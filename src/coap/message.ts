import { generate, parse } from 'coap-packet';
import type { CoapOption } from './options.js';

/** RFC 7252 §3 message types. */
export type MessageType = 'CON' | 'NON' | 'ACK' | 'RST';

/** One CoAP message as the endpoint sends and receives it; `code` in dotted form (`0.00` is Empty). */
export interface Message {
  type: MessageType;
  code: string;
  messageId: number;
  token: Buffer;
  options: CoapOption[];
  payload: Buffer;
}

const METHOD_CODES: Record<string, string> = {
  GET: '0.01',
  POST: '0.02',
  PUT: '0.03',
  DELETE: '0.04',
  FETCH: '0.05',
  PATCH: '0.06',
  iPATCH: '0.07',
};

/** `GET` → `0.01`; dotted codes pass through. */
export function methodCode(method: string): string {
  return METHOD_CODES[method] ?? method;
}

export const EMPTY_CODE = '0.00';
export const isEmpty = (message: Message): boolean => message.code === EMPTY_CODE;
/** Class 0 with a non-zero detail is a request (RFC 7252 §12.1). */
export const isRequest = (message: Message): boolean => message.code.startsWith('0.') && !isEmpty(message);
export const isResponse = (message: Message): boolean => !message.code.startsWith('0.');

export function encodeMessage(message: Message): Buffer {
  return generate(
    {
      confirmable: message.type === 'CON',
      ack: message.type === 'ACK',
      reset: message.type === 'RST',
      code: message.code,
      messageId: message.messageId,
      token: message.token,
      options: message.options.map((option) => ({ name: String(option.number), value: option.value })),
      payload: message.payload,
    },
    // RFC 7252 §4.6: the datagram must fit the path; callers keep payloads within one block.
    65507,
  );
}

const OPTION_NUMBERS: Record<string, number> = {
  'If-Match': 1,
  'Uri-Host': 3,
  ETag: 4,
  'If-None-Match': 5,
  Observe: 6,
  'Uri-Port': 7,
  'Location-Path': 8,
  OSCORE: 9,
  'Uri-Path': 11,
  'Content-Format': 12,
  'Max-Age': 14,
  'Uri-Query': 15,
  'Hop-Limit': 16,
  Accept: 17,
  'Q-Block1': 19,
  'Location-Query': 20,
  Block2: 23,
  Block1: 27,
  Size2: 28,
  'Q-Block2': 31,
  'Proxy-Uri': 35,
  'Proxy-Scheme': 39,
  Size1: 60,
  'No-Response': 258,
  'OCF-Accept-Content-Format-Version': 2049,
  'OCF-Content-Format-Version': 2053,
};

/** Parses a datagram; throws on anything that is not a well-formed CoAP message (RFC 7252 §3). */
export function decodeMessage(datagram: Buffer): Message {
  if (datagram.length < 4) throw new Error('datagram shorter than a CoAP header');
  const packet = parse(datagram);
  const type: MessageType = packet.confirmable ? 'CON' : packet.ack ? 'ACK' : packet.reset ? 'RST' : 'NON';
  return {
    type,
    code: packet.code,
    messageId: packet.messageId,
    token: packet.token,
    // coap-packet names the options it knows; map them back to numbers.
    options: packet.options.map((option) => ({
      number: typeof option.name === 'number' ? option.name : (OPTION_NUMBERS[option.name] ?? Number(option.name)),
      value: option.value,
    })),
    payload: packet.payload,
  };
}
