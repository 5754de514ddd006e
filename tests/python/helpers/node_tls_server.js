// A Node TLS server with fixed ticket keys (setTicketKeys, 48 bytes:
// name16|hmac16|aes16): node node_tls_server.js CERT KEY HOST PORT KEYHEX
// Prints "PORT n" once listening; answers every connection with one line
// saying whether it resumed, then closes.
const tls = require('tls');
const fs = require('fs');
const [cert, key, host, port, keyhex] = process.argv.slice(2);
// Node's default sessionIdContext hashes process.argv, which differs per
// server here: a pool must set one (or nothing resumes across it).
const srv = tls.createServer({cert: fs.readFileSync(cert),
                              key: fs.readFileSync(key),
                              sessionIdContext: 'tlsresume-pool'}, (s) => {
  s.end('reused=' + s.isSessionReused() + '\n');
  s.on('error', () => {});
});
if (keyhex) srv.setTicketKeys(Buffer.from(keyhex, 'hex'));
// ROTATE_MS: a new random ticket key every so often (rotation to observe).
if (process.env.ROTATE_MS) {
  setInterval(() => srv.setTicketKeys(require('crypto').randomBytes(48)),
              Number(process.env.ROTATE_MS));
}
srv.on('tlsClientError', () => {});
srv.listen(Number(port), host, () => {
  console.log('PORT ' + srv.address().port);
});
