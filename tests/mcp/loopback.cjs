// Preloaded into MCP peers the tests start (node --require): a server told
// to listen on a bare port binds 127.0.0.1 instead of every interface, so
// tests never expose anything beyond this machine.
"use strict";
const net = require("node:net");
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (first, ...rest) {
  const barePort = typeof first === "number" || (typeof first === "string" && /^\d+$/.test(first));
  if (barePort) {
    const callback = rest.find((a) => typeof a === "function");
    return listen.call(this, { port: Number(first), host: "127.0.0.1" }, callback);
  }
  if (first && typeof first === "object" && first.port !== undefined && !first.host) {
    return listen.call(this, { ...first, host: "127.0.0.1" }, ...rest);
  }
  return listen.call(this, first, ...rest);
};
