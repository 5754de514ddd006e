// A Node TLS server holding a ring's node48 export as its ticket keys:
// node node_ticket_server.js CERT KEY TICKET_KEY_FILE SESSION_ID_CONTEXT
// Prints "PORT <n>", answers every connection with "ok" and closes it.
const fs = require("fs");
const tls = require("tls");
const [cert, key, keys, sid] = process.argv.slice(2);
const server = tls.createServer({
  cert: fs.readFileSync(cert),
  key: fs.readFileSync(key),
  ticketKeys: fs.readFileSync(keys),
  sessionIdContext: sid,
}, (sock) => {
  sock.on("data", () => sock.end("HTTP/1.0 200 OK\r\n\r\nok\n"));
  sock.on("error", () => {});
});
server.listen(0, "127.0.0.1", () => {
  console.log("PORT " + server.address().port);
});
