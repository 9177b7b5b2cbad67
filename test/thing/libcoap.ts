import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { generate, parse, type ParsedPacket } from 'coap-packet';

/** Runs libcoap's `coap-client-notls` (an independent CoAP implementation) and returns what it printed. */
export function coapClient(args: string[], timeoutMs = 15_000): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      'coap-client-notls',
      ['-B', '10', ...args],
      { timeout: timeoutMs, encoding: 'utf8' },
      (err, stdout, stderr) =>
        err
          ? reject(new Error(`coap-client-notls ${args.join(' ')}: ${err.message}\n${stderr}`))
          : resolve({ stdout, stderr }),
    );
  });
}

/** Sends one raw datagram and resolves with the first answer, or undefined after `waitMs`. */
export function exchangeRaw(
  port: number,
  packet: Parameters<typeof generate>[0],
  waitMs = 1000,
): Promise<ParsedPacket | undefined> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    const timer = setTimeout(() => finish(undefined), waitMs);
    const finish = (answer: ParsedPacket | undefined): void => {
      clearTimeout(timer);
      socket.close();
      resolve(answer);
    };
    socket.on('message', (msg) => finish(parse(msg)));
    socket.send(generate(packet), port, '127.0.0.1');
  });
}

/** A CoAP ping (RFC 7252 §4.3): empty CON; a live endpoint answers Reset. */
export async function pingRaw(port: number, waitMs = 3000): Promise<boolean> {
  const messageId = Math.floor(Math.random() * 0xffff);
  const answer = await exchangeRaw(
    port,
    { code: '0.00', confirmable: true, messageId, token: Buffer.alloc(0) },
    waitMs,
  );
  return answer?.reset === true && answer.messageId === messageId;
}
