// A chat server on Node's standard library only: speaks the text turn as tiny_chat.py does,
// and answers the page's requests, so every behaviour of the default run works on it.
//
//     node tiny_chat.js PORT [--leak map] [--leak listener]
//
// Each client is registered in a Registry (`byId`, a Map by client id) and listens on a
// module-level EventEmitter `bus` for broadcasts; both are undone when it leaves, unless
// --leak map keeps its Registry entry, or --leak listener keeps its listener on `bus`.
"use strict";
const crypto = require("crypto");
const EventEmitter = require("events");
const http = require("http");

const LEAKS = process.argv.filter((arg, i) => process.argv[i - 1] === "--leak");
const ANSWERS = { "fetch-configs": "config-files", "fetch-history-list": "history-list",
                  "create-new-history": "new-history-created", "heartbeat": "heartbeat-ack" };

class Registry {
  constructor() { this.byId = new Map(); this.next = 0; }
  add(socket) { const id = `client-${this.next++}`; this.byId.set(id, { socket: null, joined: Date.now() }); return id; }
  remove(id) { if (!LEAKS.includes("map")) this.byId.delete(id); }
}

const registry = new Registry();
const bus = new EventEmitter();
bus.setMaxListeners(0);

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

function frame(opcode, payload) {
  const length = payload.length;
  const head = length < 126 ? Buffer.from([0x80 | opcode, length])
    : length < 65536 ? Buffer.from([0x80 | opcode, 126, length >> 8, length & 255])
    : Buffer.concat([Buffer.from([0x80 | opcode, 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(length)); return b; })()]);
  return Buffer.concat([head, payload]);
}

function send(socket, message) {
  if (!socket.destroyed) socket.write(frame(1, Buffer.from(JSON.stringify(message))));
}

function onText(socket, text) {
  let message;
  try { message = JSON.parse(text); } catch (error) { return; }
  if (ANSWERS[message.type]) return send(socket, { type: ANSWERS[message.type] });
  if (message.type !== "text-input") return;
  setTimeout(() => {
    send(socket, { type: "control", text: "conversation-chain-start" });
    send(socket, { type: "audio", audio: null, volumes: [], display_text: { text: "Hello from Node." } });
    send(socket, { type: "backend-synth-complete" });
    send(socket, { type: "control", text: "conversation-chain-end" });
  }, 5);
}

const server = http.createServer((request, response) => { response.writeHead(404); response.end(); });
server.on("upgrade", (request, socket) => {
  const accept = crypto.createHash("sha1").update(request.headers["sec-websocket-key"] + GUID).digest("base64");
  socket.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
               `Sec-WebSocket-Accept: ${accept}\r\n\r\n`);
  const id = registry.add(socket);
  const onBroadcast = (text) => send(socket, { type: "full-text", text });
  bus.on("broadcast", onBroadcast);
  let left = false;
  const leave = () => {
    if (left) return;
    left = true;
    registry.remove(id);
    if (!LEAKS.includes("listener")) bus.removeListener("broadcast", onBroadcast);
  };
  socket.on("close", leave);
  send(socket, { type: "full-text", text: "Connection established" });
  send(socket, { type: "set-model-and-conf", client_uid: id });
  send(socket, { type: "control", text: "start-mic" });
  let pending = Buffer.alloc(0);
  socket.on("data", (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    for (;;) {
      if (pending.length < 2) return;
      const opcode = pending[0] & 15;
      let length = pending[1] & 127;
      let offset = 2;
      if (length === 126) { if (pending.length < 4) return; length = pending.readUInt16BE(2); offset = 4; }
      else if (length === 127) { if (pending.length < 10) return; length = Number(pending.readBigUInt64BE(2)); offset = 10; }
      if (pending.length < offset + 4 + length) return;
      const mask = pending.subarray(offset, offset + 4);
      const payload = Buffer.from(pending.subarray(offset + 4, offset + 4 + length));
      for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i % 4];
      pending = pending.subarray(offset + 4 + length);
      if (opcode === 1) onText(socket, payload.toString());
      else if (opcode === 9) socket.write(frame(10, payload));
      else if (opcode === 8) { socket.end(frame(8, payload.subarray(0, 2))); return; }
    }
  });
  socket.on("end", () => socket.destroy());  // the client left without a close frame
  socket.on("error", () => socket.destroy());
});
server.listen(Number(process.argv[2]), "127.0.0.1");
