// Preloaded into the Agents Playground (node --require): keep it on this machine.
// Every server it starts listens on 127.0.0.1 only and drops a connection from anywhere else; every outgoing
// connection to a host that is not loopback is refused (and written to stderr, so the test can report it).
"use strict";
const net = require("net");

const LOOPBACK = new Set(["127.0.0.1", "::1", "::ffff:127.0.0.1", "localhost"]);
const isLoopback = (host) => host === undefined || host === null || LOOPBACK.has(String(host)) || /^127\./.test(String(host));

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  // listen(port, host?, ...), listen({port, host}), listen(path) (a pipe: left alone)
  if (typeof args[0] === "object" && args[0] !== null && !Array.isArray(args[0])) {
    args[0] = { ...args[0], host: "127.0.0.1" };
  } else if (typeof args[0] === "number" || (typeof args[0] === "string" && /^\d+$/.test(args[0]))) {
    if (typeof args[1] === "string") args[1] = "127.0.0.1";
    else args.splice(1, 0, "127.0.0.1");
  }
  this.on("connection", (socket) => {
    if (!isLoopback(socket.remoteAddress)) {
      process.stderr.write(`[loopback] dropped a connection from ${socket.remoteAddress}\n`);
      socket.destroy();
    }
  });
  return listen.apply(this, args);
};

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  const options = typeof args[0] === "object" && args[0] !== null ? args[0] : { port: args[0], host: args[1] };
  if (options.path === undefined && !isLoopback(options.host)) {
    process.stderr.write(`[loopback] refused an outgoing connection to ${options.host}:${options.port}\n`);
    const error = Object.assign(new Error(`connect ECONNREFUSED ${options.host} (loopback only)`), {
      code: "ECONNREFUSED",
    });
    process.nextTick(() => this.destroy(error));
    return this;
  }
  return connect.apply(this, args);
};
