// A Socket.IO chat on Node, the shape of many realtime apps:
//
//     node examples/node_socketio_chat/server.js PORT [--leak]
//
// A client connects (namespace /) and gets a "ready" event. It emits "message" {text} and
// gets the reply as "token" events, then "done"; "stop" cuts a reply short; "ping" is
// answered with "pong". Each socket joins the "lobby" room, and the server records the
// user's presence there under the user's own id (presence.add: a room membership for a
// user, not a socket, as apps that show who is online do); and it listens on the shared
// `bus` for announcements. When the socket leaves, the fixed server removes the presence
// and the listener; --leak never makes the user leave the lobby, nor the listener go.
// /metrics gives the lobby's size. profile.toml (the Python example's) speaks to it.
"use strict";
const http = require("http");
const EventEmitter = require("events");
const { Server } = require("socket.io");

const PORT = Number(process.argv[2]);
const LEAK = process.argv.includes("--leak");
const REPLY = "Sure. Here is a short answer, streamed one word at a time, as a model would.";
const bus = new EventEmitter();
bus.setMaxListeners(0);
let users = 0;

const server = http.createServer((request, response) => {
  if (request.url === "/metrics") {
    const lobby = io.of("/").adapter.rooms.get("lobby");
    response.writeHead(200, { "Content-Type": "text/plain" });
    response.end(`# TYPE node_socketio_lobby gauge\nnode_socketio_lobby ${lobby ? lobby.size : 0}\n`);
    return;
  }
  response.writeHead(404);
  response.end();
});
const io = new Server(server, { cors: { origin: "*" } });

io.on("connection", (socket) => {
  const user = `user-${++users}`;
  const nsp = io.of("/");
  socket.join("lobby");
  nsp.adapter.addAll(user, new Set(["lobby"]));  // the user's presence in the lobby
  const announce = (text) => socket.emit("announcement", { text });
  bus.on("announce", announce);
  let reply = null;
  socket.emit("ready", { user });

  socket.on("message", () => {
    const words = REPLY.split(" ");
    let i = 0;
    const next = () => {
      if (i < words.length) {
        socket.emit("token", { text: words[i++] + " " });
        reply = setTimeout(next, 2);
      } else {
        reply = null;
        socket.emit("done", {});
      }
    };
    reply = setTimeout(next, 2);
  });
  socket.on("stop", () => { clearTimeout(reply); reply = null; });
  socket.on("ping", () => socket.emit("pong", {}));
  socket.on("disconnect", () => {
    clearTimeout(reply);
    if (!LEAK) {
      nsp.adapter.delAll(user);
      bus.off("announce", announce);
    }
  });
});

server.listen(PORT, "127.0.0.1");
