// The harness's census agent for Node, loaded at startup of a server the harness starts
// (NODE_OPTIONS=--require this file, as sitecustomize is for Python). Stdlib only.
//
// It answers `GET /census` on a loopback port, only to a request carrying the harness's
// token, with the record the Python agent gives (harness/rundir/records.py Census):
//   handles:<type>               active handles and requests (process.getActiveResourcesInfo)
//   objects:<constructor>        live objects by constructor, from a V8 heap snapshot (V8
//                                collects garbage first, so what is counted is retained)
//   entries:<Owner.property>     entries of Maps, Sets, arrays and plain objects held by a
//   entries:<module.binding>     property of the server's own objects or a binding of its modules
//                                (<module>.(closure).<binding>: of a call's scope, one per call)
//   listeners:<emitter> on '<e>' listeners per event of the server's own EventEmitters
//                                (named as above), and of http / ws / socket.io servers
//   sockets:<namespace>          socket.io: sockets connected to each namespace
//   rooms:<namespace>            socket.io: rooms of each namespace, less each socket's own
//   room:<room>[ in <namespace>] socket.io: members of each of those rooms
// Node has one thread: a census stalls the event loop for as long as it takes, and says so
// (loop_ms). Map and Set entries whose key and value are both small integers hold no heap
// object and are not seen.
"use strict";

const AGENT_FILE = __filename;

function ownScript(path) {
  return typeof path === "string" && path.startsWith("/") && !path.includes("/node_modules/") &&
    path !== AGENT_FILE;
}

function moduleName(path) {
  const base = path.split("/").pop();
  return base.replace(/\.(c|m)?js$/, "");
}

// -- the heap snapshot, read as flat arrays ------------------------------------------------

class Snapshot {
  constructor(document) {
    const meta = document.snapshot.meta;
    this.nodes = document.nodes;
    this.edges = document.edges;
    this.strings = document.strings;
    this.nodeFields = meta.node_fields.length;
    this.edgeFields = meta.edge_fields.length;
    this.nodeTypes = meta.node_types[0];
    this.edgeTypes = meta.edge_types[0];
    this.edgeCountAt = meta.node_fields.indexOf("edge_count");
    this.count = this.nodes.length / this.nodeFields;
    const selfSizeAt = meta.node_fields.indexOf("self_size");
    this.liveBytes = 0;  // what the heap held after the snapshot's collection
    for (let k = selfSizeAt; selfSizeAt >= 0 && k < this.nodes.length; k += this.nodeFields) this.liveBytes += this.nodes[k];
    this.firstEdge = new Uint32Array(this.count + 1);
    for (let i = 0, e = 0; i < this.count; i++) {
      this.firstEdge[i] = e;
      e += this.nodes[i * this.nodeFields + this.edgeCountAt] * this.edgeFields;
      this.firstEdge[i + 1] = e;
    }
  }

  type(i) { return this.nodeTypes[this.nodes[i * this.nodeFields]]; }
  name(i) { return this.strings[this.nodes[i * this.nodeFields + 1]]; }

  // [edge type, edge name (a string, or a number for elements), target node]
  *out(i) {
    for (let k = this.firstEdge[i]; k < this.firstEdge[i + 1]; k += this.edgeFields) {
      const type = this.edgeTypes[this.edges[k]];
      const raw = this.edges[k + 1];
      const name = type === "element" || type === "hidden" ? raw : this.strings[raw];
      yield [type, name, this.edges[k + 2] / this.nodeFields];
    }
  }

  edge(i, wanted) {
    for (const [, name, to] of this.out(i)) if (name === wanted) return to;
    return -1;
  }

  // The file a closure was defined in, or "".
  script(closure) {
    const shared = this.edge(closure, "shared");
    if (shared < 0) return "";
    for (const [, name, to] of this.out(shared)) {
      if (name === "script_or_debug_info" || name === "script") return this.name(to);
    }
    return "";
  }

  // Entries of a container object, or -1 if it is none.
  entries(i) {
    if (this.type(i) !== "object") return -1;
    const kind = this.name(i);
    if (kind === "Map" || kind === "Set") {
      const table = this.edge(i, "table");
      if (table < 0) return 0;
      const slots = [];
      let low = Infinity;
      for (const [, name] of this.out(table)) {
        if (typeof name === "string" && /^\d+$/.test(name)) { slots.push(+name); if (+name < low) low = +name; }
      }
      const stride = kind === "Map" ? 3 : 2;  // key, value, chain; key, chain
      return new Set(slots.map((slot) => Math.floor((slot - low) / stride))).size;
    }
    let count = 0;
    if (kind === "Array") {
      for (const [type] of this.out(i)) if (type === "element") count++;
      return count;
    }
    if (kind === "Object") {
      for (const [type, name] of this.out(i)) if (type === "property" && name !== "__proto__") count++;
      return count;
    }
    return -1;
  }

  // [key node, value node] of each entry of a Map whose keys and values are heap objects.
  *pairs(i) {
    const table = this.edge(i, "table");
    if (table < 0) return;
    const slots = new Map();
    let low = Infinity;
    for (const [, name, to] of this.out(table)) {
      if (typeof name === "string" && /^\d+$/.test(name)) { slots.set(+name, to); if (+name < low) low = +name; }
    }
    for (const [slot, to] of slots) {
      if ((slot - low) % 3 === 0 && slots.has(slot + 1)) yield [to, slots.get(slot + 1)];
    }
  }

  // socket.io's view of a Namespace: its name, its sockets, and its rooms (room -> members),
  // less the room each socket has of its own; or null for any other object.
  namespace(i) {
    const nameNode = this.edge(i, "name");
    const adapter = this.edge(i, "adapter");
    const socketsMap = this.edge(i, "sockets");
    if (nameNode < 0 || adapter < 0 || socketsMap < 0 || this.type(nameNode) !== "string") return null;
    const own = new Set();
    for (const [key] of this.pairs(socketsMap)) own.add(this.name(key));
    const rooms = {};
    const roomsMap = this.edge(adapter, "rooms");
    if (roomsMap >= 0) {
      for (const [key, members] of this.pairs(roomsMap)) {
        const room = this.name(key);
        if (!own.has(room)) rooms[room] = Math.max(0, this.entries(members));
      }
    }
    return { name: this.name(nameNode), sockets: own.size, rooms };
  }

  // {event: listeners} of an EventEmitter, or null.
  listeners(i) {
    const events = this.edge(i, "_events");
    if (events < 0 || this.type(events) !== "object") return null;
    const out = {};
    for (const [type, name, to] of this.out(events)) {
      if (type !== "property" || name === "__proto__") continue;
      if (this.name(to) === "Array" && this.type(to) === "object") {
        let n = 0;
        for (const [edgeType] of this.out(to)) if (edgeType === "element") n++;
        out[name] = n;
      } else {
        out[name] = 1;
      }
    }
    return out;
  }
}

// -- the census ------------------------------------------------------------------------------

const LIBRARY_EMITTERS = new Set(["Server", "WebSocketServer", "Namespace"]);

// Node keeps up to 1000 spare HTTP parsers for new connections (_http_common's free list):
// it grows to the most connections ever open at once and stays there, like any pool. Spares
// are no connection's state, so they are not counted: what remains are the parsers in use.
function spareParsers() {
  try {
    const list = require("_http_common").parsers.list;
    return Array.isArray(list) ? list.length : 0;
  } catch (error) {
    return 0;
  }
}
let session = null;
// What the next snapshot will take, from what the last three took (their median, with their
// parse: one slowed by a busy machine does not refuse the next), allowing a quarter more for
// a heap that grew since; before the first, a prior per MB of used heap. A
// snapshot's time is not proportional to any heap size V8 reports: a fixed part dominates a
// small heap, and the used size counts garbage the snapshot's collection frees first (the
// last census's own parse, tens of MB on an idle server), so scaling a cost per MB refused
// censuses that would have taken a fifth of the budget. After REFUSALS_BEFORE_RETRY refusals
// in a row one is tried again, so a heap that shrank is seen again.
const PRIOR_MS_PER_MB = 80;
const GROWTH = 1.25;
const REFUSALS_BEFORE_RETRY = 5;
const took = [];  // ms, the last three snapshots
let refusals = 0;

function typical() {
  const sorted = [...took].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function takeSnapshot(budgetMs) {
  const usedMb = Math.max(1, require("v8").getHeapStatistics().used_heap_size / 1e6);
  const expected = took.length ? GROWTH * typical() : PRIOR_MS_PER_MB * usedMb;
  if (expected > budgetMs && refusals < REFUSALS_BEFORE_RETRY) {
    refusals++;
    throw new Error(`heap snapshot not taken: it would take about ${(expected / 1000).toFixed(1)} s ` +
      `(${took.length ? `recent ones took ${(typical() / 1000).toFixed(1)} s` : "a first estimate"}; ` +
      `${usedMb.toFixed(0)} MB of heap in use), over the census budget of ${(budgetMs / 1000).toFixed(1)} s`);
  }
  refusals = 0;
  const started = Date.now();
  const inspector = require("inspector");
  if (session === null) {
    session = new inspector.Session();
    session.connect();
  }
  const chunks = [];
  const collect = (message) => chunks.push(message.params.chunk);
  session.on("HeapProfiler.addHeapSnapshotChunk", collect);
  let failure = null;
  try {
    // In-process, the inspector answers synchronously: the callbacks run inside post().
    session.post("HeapProfiler.takeHeapSnapshot", { reportProgress: false }, (error) => { failure = error; });
  } finally {
    session.removeListener("HeapProfiler.addHeapSnapshotChunk", collect);
  }
  if (failure) throw new Error(`heap snapshot failed: ${failure.message || failure}`);
  const snapshot = new Snapshot(JSON.parse(chunks.join("")));
  took.push(Date.now() - started);  // the snapshot and its parse: what the loop waits for
  if (took.length > 3) took.shift();
  return snapshot;
}

function add(groups, key, n) {
  if (n > 0) groups[key] = (groups[key] || 0) + n;
}

function census(budgetMs) {
  const started = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - started) / 1e6;
  const groups = {};
  const notes = ["Node has one thread: the event loop waited for each whole census (its loop_ms is its time)"];
  if (typeof process.getActiveResourcesInfo === "function") {
    const resources = process.getActiveResourcesInfo();
    // Less the socket of this very request (the agent's own server is unref'ed: not listed).
    const at = resources.indexOf("TCPSocketWrap");
    if (at >= 0) resources.splice(at, 1);
    for (const type of resources) add(groups, `handles:${type}`, 1);
  } else {
    notes.push(`Node ${process.version} has no process.getActiveResourcesInfo(): handles not counted`);
  }
  const snapshot = takeSnapshot(budgetMs - elapsed());
  const snapshotMs = elapsed();
  const own = new Set();  // constructors and functions defined in the server's own files
  const contexts = new Map();  // context node -> module name, for the server's own closures
  const objects = new Map();
  let walked = 0;
  let skipped = 0;
  for (let i = 0; i < snapshot.count; i++, walked++) {
    if ((i & 0xffff) === 0 && elapsed() > budgetMs) { skipped = snapshot.count - i; break; }
    const type = snapshot.type(i);
    if (type === "closure") {
      const path = snapshot.script(i);
      if (ownScript(path)) {
        if (snapshot.name(i)) own.add(snapshot.name(i));
        const context = snapshot.edge(i, "context");
        if (context >= 0 && !contexts.has(context)) contexts.set(context, moduleName(path));
      }
    } else if (type === "object") {
      const name = snapshot.name(i);
      if (name && !name.startsWith("system /")) objects.set(name, (objects.get(name) || 0) + 1);
    }
  }
  const spares = spareParsers();
  if (spares && objects.has("HTTPParser")) {
    objects.set("HTTPParser", Math.max(0, objects.get("HTTPParser") - spares));
    notes.push(`objects:HTTPParser counts parsers in use, less the ${spares} spares in Node's pool`);
  }
  for (const [name, n] of objects) add(groups, `objects:${name}`, n);
  const ownTypes = [...own].filter((name) => objects.has(name)).sort();
  const ownTypeSet = new Set(ownTypes);
  const named = (owner, property, target) => {
    const label = `${owner}.${property}`;
    const entries = snapshot.entries(target);
    if (entries >= 0) add(groups, `entries:${label}`, entries);
    const listeners = snapshot.listeners(target);
    if (listeners) for (const [event, n] of Object.entries(listeners)) add(groups, `listeners:${label} on '${event}'`, n);
  };
  for (const [context, module] of contexts) {  // bindings of the server's own scopes
    // A module's own scope, or one of a call inside it (a connection handler's), said as such.
    const owner = contexts.has(snapshot.edge(context, "previous")) ? `${module}.(closure)` : module;
    for (const [type, name, to] of snapshot.out(context)) if (type === "context") named(owner, name, to);
  }
  for (let i = 0; i < walked; i++) {  // properties of the server's own objects, and library servers
    if (snapshot.type(i) !== "object") continue;
    const name = snapshot.name(i);
    if (ownTypeSet.has(name)) {
      for (const [type, property, to] of snapshot.out(i)) {
        if (type === "property" && property !== "__proto__" && !property.startsWith("_")) named(name, property, to);
      }
    }
    if (ownTypeSet.has(name) || LIBRARY_EMITTERS.has(name)) {
      const listeners = snapshot.listeners(i);
      if (listeners) for (const [event, n] of Object.entries(listeners)) add(groups, `listeners:${name} on '${event}'`, n);
    }
    if (name === "Namespace") {  // socket.io: sockets, and the members of each room not a socket's own
      const nsp = snapshot.namespace(i);
      if (nsp) {
        const where = nsp.name === "/" ? "" : ` in ${nsp.name}`;
        add(groups, `sockets:${nsp.name}`, nsp.sockets);
        add(groups, `rooms:${nsp.name}`, Object.keys(nsp.rooms).length);
        for (const [room, n] of Object.entries(nsp.rooms)) add(groups, `room:${room}${where}`, n);
      }
    }
  }
  notes.push(`heap snapshot of ${(snapshot.liveBytes / 1e6).toFixed(1)} MB live in ${Math.round(snapshotMs)} ms`);
  if (skipped) notes.push(`stopped at its ${budgetMs} ms budget: ${skipped} of ${snapshot.count} heap nodes not walked`);
  const took = elapsed();
  return {
    groups, own_types: ownTypes, garbage: {}, garbage_total: 0, walked, skipped,
    took_ms: Math.round(took * 10) / 10,
    loop_ms: Math.round(took * 10) / 10,  // one thread: the loop waited for the whole census
    gc_ms: Math.round(snapshotMs * 10) / 10,  // the snapshot, with V8's collection before it
    notes,
  };
}

// -- the endpoint ------------------------------------------------------------------------------

function forgetEnvironment() {
  // Children of the server start without the agent.
  for (const name of ["HARNESS_CENSUS_TOKEN", "HARNESS_CENSUS_FILE", "HARNESS_CENSUS_ALLOC"]) delete process.env[name];
  const options = (process.env.NODE_OPTIONS || "").replace(/--require[= ]("[^"]*harness_census\.js"|\S*harness_census\.js)/, "").trim();
  if (options) process.env.NODE_OPTIONS = options;
  else delete process.env.NODE_OPTIONS;
}

function announce(path, document) {
  if (!path) return;
  const fs = require("fs");
  const partial = `${path}.${process.pid}.tmp`;
  fs.writeFileSync(partial, JSON.stringify(document));
  fs.renameSync(partial, path);
}

const ANNOUNCE_FILE = process.env.HARNESS_CENSUS_FILE || "";

function start() {
  const token = process.env.HARNESS_CENSUS_TOKEN || "";
  const path = ANNOUNCE_FILE;
  if (!token) return;
  forgetEnvironment();
  const major = Number(process.versions.node.split(".")[0]);
  if (major < 18) {
    announce(path, { pid: process.pid, error: `Node ${process.version}: the census needs Node 18+` });
    return;
  }
  const http = require("http");
  const server = http.createServer((request, response) => {
    const answer = (code, document) => {
      const body = JSON.stringify(document);
      response.writeHead(code, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
      response.end(body);
    };
    const url = new URL(request.url, "http://127.0.0.1");
    if (url.pathname !== "/census") return answer(404, { error: "not found" });
    if (request.headers["x-census-token"] !== token) return answer(403, { error: "bad token" });
    const budget = Math.min(30, Math.max(0.1, Number(url.searchParams.get("budget") || "2")));
    if (!Number.isFinite(budget)) return answer(400, { error: "budget is not a number" });
    try {
      answer(200, census(budget * 1000));
    } catch (error) {
      answer(500, { error: `${error.name || "Error"}: ${error.message}` });
    }
  });
  server.listen(0, "127.0.0.1", () => {
    announce(path, { pid: process.pid, port: server.address().port, node: process.version, alloc: false });
  });
  server.unref();  // the agent never keeps a server alive that would otherwise exit
}

try {
  if (require("worker_threads").isMainThread) start();
} catch (error) {  // never break the server: the harness reports the census as off
  try {
    announce(ANNOUNCE_FILE, { pid: process.pid, error: `agent failed: ${error.message}` });
  } catch (ignored) { /* nothing more to do */ }
}
