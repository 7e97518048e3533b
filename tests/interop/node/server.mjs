// connect-node server for coral.testing.v1.EchoService: the reference peer
// that coral's own test server (tests/support) is compared with. It serves
// Connect, gRPC and gRPC-Web (connectNodeAdapter enables all three) on one
// cleartext port, over HTTP/2 with prior knowledge (h2c) and HTTP/1.1.
//
// Env: HOST (127.0.0.1), PORT (0 = any free port), PORT_FILE (optional: the
// real port is written there once listening). Prints
// `listening on http://HOST:PORT` once listening. Stops on SIGTERM/SIGINT.
//
// Semantics (coral's test server does the same):
//   Echo   returns text/number/payload/tags, plus what the server saw:
//          protocol "connect" | "grpc" | "grpc_web", encoding "proto" | "json",
//          http_version "HTTP/1.1" | "HTTP/2", header_echo = "x-test-echo".
//   Fail   fails with the Connect code named by `code` (snake_case, e.g.
//          "not_found") and `message`. An unknown or empty name, or "ok",
//          gives invalid_argument.
//   Sleep  answers after `millis` ms with slept_millis = millis; the call's
//          deadline or cancellation cuts it short (deadline_exceeded /
//          canceled, as connect-node maps the abort).
//   Count  streams `count` messages (index 0.., payload of `payload_bytes`
//          bytes of 'x'), `interval_millis` apart (no wait before the first),
//          then ends with `fail_code` (message "count failed: <fail_code>")
//          when it is set.
import net from "node:net";
import http from "node:http";
import http2 from "node:http2";
import { renameSync, writeFileSync } from "node:fs";
import { Code, ConnectError, createContextKey, createContextValues } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { EchoService } from "./gen/coral/testing/v1/echo_pb.js";

const host = process.env.HOST ?? "127.0.0.1";
const port = Number(process.env.PORT ?? 0);
const portFile = process.env.PORT_FILE;

// Connect code names (snake_case, as on the wire) -> Code.
const CODES = {
  canceled: Code.Canceled,
  unknown: Code.Unknown,
  invalid_argument: Code.InvalidArgument,
  deadline_exceeded: Code.DeadlineExceeded,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  permission_denied: Code.PermissionDenied,
  resource_exhausted: Code.ResourceExhausted,
  failed_precondition: Code.FailedPrecondition,
  aborted: Code.Aborted,
  out_of_range: Code.OutOfRange,
  unimplemented: Code.Unimplemented,
  internal: Code.Internal,
  unavailable: Code.Unavailable,
  data_loss: Code.DataLoss,
  unauthenticated: Code.Unauthenticated,
};

function codeFromName(name) {
  const code = Object.hasOwn(CODES, name) ? CODES[name] : undefined;
  if (code === undefined) {
    throw new ConnectError(`unknown code name "${name}"`, Code.InvalidArgument);
  }
  return code;
}

// The HTTP version of the request, from the Node request object (the handler
// context does not carry it).
const kHttpVersion = createContextKey("", { description: "HTTP version" });

function protocolOf(ctx) {
  // connect-node names them "connect", "grpc", "grpc-web".
  return ctx.protocolName === "grpc-web" ? "grpc_web" : ctx.protocolName;
}

function encodingOf(ctx) {
  // POST: application/json, application/connect+json, application/grpc+json,
  // application/grpc-web+json (optionally with ";charset=..."). Connect GET
  // carries the codec in the `encoding` query parameter instead.
  if (ctx.requestMethod === "GET") {
    const enc = new URL(ctx.url, "http://x").searchParams.get("encoding");
    return enc === "json" ? "json" : "proto";
  }
  const ct = (ctx.requestHeader.get("content-type") ?? "").toLowerCase();
  return /^application\/([a-z-]+\+)?json(;|$)/.test(ct.split(" ").join("")) ? "json" : "proto";
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function routes(router) {
  router.service(EchoService, {
    echo(req, ctx) {
      return {
        text: req.text,
        number: req.number,
        payload: req.payload,
        tags: req.tags,
        protocol: protocolOf(ctx),
        encoding: encodingOf(ctx),
        httpVersion: ctx.values.get(kHttpVersion),
        headerEcho: ctx.requestHeader.get("x-test-echo") ?? "",
      };
    },
    fail(req) {
      throw new ConnectError(req.message, codeFromName(req.code));
    },
    async sleep(req, ctx) {
      await sleep(req.millis, ctx.signal);
      return { sleptMillis: req.millis };
    },
    async *count(req, ctx) {
      const failCode = req.failCode === "" ? undefined : codeFromName(req.failCode);
      const payload = new Uint8Array(req.payloadBytes).fill(0x78); // 'x'
      for (let i = 0; i < req.count; i++) {
        if (i > 0 && req.intervalMillis > 0) await sleep(req.intervalMillis, ctx.signal);
        yield { index: i, payload };
      }
      if (failCode !== undefined) {
        throw new ConnectError(`count failed: ${req.failCode}`, failCode);
      }
    },
  });
}

const handler = connectNodeAdapter({
  routes,
  contextValues(req) {
    // Node reports "1.1" or "2.0".
    const v = req.httpVersion === "2.0" ? "HTTP/2" : `HTTP/${req.httpVersion}`;
    return createContextValues().set(kHttpVersion, v);
  },
});

// connect-node builds the request URL from :authority (or Host) and throws,
// taking the whole process down, when that does not parse. Node's own http2
// client (and so connect-node's HTTP/2 transports) sends IPv6 authorities
// without brackets ("::1:8080"), so bracket those, and answer anything else
// that still throws with a 400 instead of crashing.
function robust(req, res) {
  const key = req.headers[":authority"] !== undefined ? ":authority" : "host";
  const a = req.headers[key];
  if (typeof a === "string" && !a.startsWith("[") && a.indexOf(":") !== a.lastIndexOf(":")) {
    const i = a.lastIndexOf(":");
    req.headers[key] = `[${a.slice(0, i)}]:${a.slice(i + 1)}`;
  }
  try {
    handler(req, res);
  } catch (e) {
    console.error(`bad request: ${e.message}`);
    if (!res.headersSent) {
      res.writeHead(400, { "content-type": "text/plain" });
    }
    res.end();
  }
}
const h2 = http2.createServer({}, robust);
const h1 = http.createServer(robust);
h1.keepAliveTimeout = 65_000;

// One port for both: a connection that starts with the HTTP/2 client preface
// goes to the http2 server, anything else to the HTTP/1.1 server.
const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
const sockets = new Set();
const front = net.createServer((sock) => {
  sockets.add(sock);
  sock.on("close", () => sockets.delete(sock));
  sock.on("error", () => {});
  let buf = Buffer.alloc(0);
  const onData = (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    const n = Math.min(buf.length, PREFACE.length);
    const isH2 = buf.subarray(0, n).equals(PREFACE.subarray(0, n));
    if (isH2 && buf.length < PREFACE.length) return; // need more bytes
    sock.removeListener("data", onData);
    sock.pause();
    sock.unshift(buf);
    if (isH2) {
      // Http2Session reads the unshifted bytes itself; resuming the socket
      // here would emit them to nobody and lose the preface.
      h2.emit("connection", sock);
    } else {
      h1.emit("connection", sock);
      sock.resume();
    }
  };
  sock.on("data", onData);
});

front.listen(port, host, () => {
  const real = front.address().port;
  const shown = host.includes(":") ? `[${host}]` : host;
  if (portFile) {
    // Write then rename, so that a reader never sees a partial file.
    writeFileSync(`${portFile}.tmp`, `${real}\n`);
    renameSync(`${portFile}.tmp`, portFile);
  }
  console.log(`listening on http://${shown}:${real}`);
});
front.on("error", (e) => {
  console.error(`server error: ${e.message}`);
  process.exit(1);
});

function stop(sig) {
  front.close();
  h1.close();
  h2.close();
  for (const s of sockets) s.destroy();
  console.log(`stopped (${sig})`);
  process.exit(0);
}
process.on("SIGTERM", () => stop("SIGTERM"));
process.on("SIGINT", () => stop("SIGINT"));
