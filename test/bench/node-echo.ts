import dgram from 'node:dgram';

/**
 * The floor under any Node.js CoAP server on this machine: a bare `dgram` socket that answers every confirmable
 * request with an empty 2.05 ACK (same message id and token), parsing nothing else. Run as a child process by
 * the gateway bench (`node node-echo.js HOST PORT`); it exits when its parent goes.
 */

const [host = '127.0.0.1', port = '0'] = process.argv.slice(2);
const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
socket.on('message', (data, remote) => {
  if (data.length < 4 || data[0]! >> 6 !== 1 || ((data[0]! >> 4) & 0x3) !== 0) return;
  const tokenLength = data[0]! & 0x0f;
  const reply = Buffer.from(data.subarray(0, 4 + tokenLength));
  // RFC 7252 §3: version 1, type ACK (2), the same token length; code 2.05; the message id stays.
  reply[0] = 0x60 | tokenLength;
  reply[1] = 0x45;
  socket.send(reply, remote.port, remote.address);
});
socket.bind(Number(port), host);
process.on('disconnect', () => process.exit(0));
