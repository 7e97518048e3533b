// connect-node client for coral.testing.v1.EchoService at BASE_URL, over
// every transport connect-node has: Connect (HTTP/2 and HTTP/1.1, binary and
// JSON), gRPC (HTTP/2) and gRPC-Web (HTTP/2 and HTTP/1.1, binary).
//
// Env: BASE_URL (http://127.0.0.1:8080; may carry a path prefix),
//      ONLY (optional, comma-separated variant names, e.g. "connect-h2-proto,grpc-h2"),
//      CALL_TIMEOUT_MS (10000, per call), TOTAL_TIMEOUT_MS (60000, whole run).
// Prints one "ok   <name>" / "FAIL <name>: <why>" line per check and ends
// with "N passed, M failed"; exits 1 if anything failed or the run timed out.
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { EchoService } from "./gen/coral/testing/v1/echo_pb.js";

const baseUrl = (process.env.BASE_URL ?? "http://127.0.0.1:8080").replace(/\/+$/, "");
const callTimeoutMs = Number(process.env.CALL_TIMEOUT_MS ?? 10_000);
const totalTimeoutMs = Number(process.env.TOTAL_TIMEOUT_MS ?? 60_000);
const only = (process.env.ONLY ?? "").split(",").map((s) => s.trim()).filter(Boolean);

let passed = 0;
let failed = 0;
let current = "(none)";

// Never hang: whatever is still running after the overall timeout fails.
setTimeout(() => {
  failed++;
  console.log(`FAIL ${current}: run took longer than ${totalTimeoutMs} ms`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(1);
}, totalTimeoutMs).unref();

// name, expected protocol / encoding / HTTP version as the server reports
// them, and the transport.
const variants = [
  ["connect-h2-proto", "connect", "proto", "HTTP/2",
    () => createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true })],
  ["connect-h2-json", "connect", "json", "HTTP/2",
    () => createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: false })],
  ["connect-h1-proto", "connect", "proto", "HTTP/1.1",
    () => createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true })],
  ["connect-h1-json", "connect", "json", "HTTP/1.1",
    () => createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false })],
  ["grpc-h2", "grpc", "proto", "HTTP/2",
    () => createGrpcTransport({ baseUrl })],
  ["grpcweb-h2", "grpc_web", "proto", "HTTP/2",
    () => createGrpcWebTransport({ baseUrl, httpVersion: "2" })],
  ["grpcweb-h1", "grpc_web", "proto", "HTTP/1.1",
    () => createGrpcWebTransport({ baseUrl, httpVersion: "1.1" })],
].filter(([name]) => only.length === 0 || only.includes(name));

if (variants.length === 0) {
  console.log(`FAIL setup: ONLY="${process.env.ONLY}" matches no variant`);
  console.log("0 passed, 1 failed");
  process.exit(1);
}

async function check(name, fn) {
  current = name;
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    const why = e instanceof ConnectError ? `ConnectError ${Code[e.code]}: ${e.rawMessage}` : String(e?.message ?? e);
    console.log(`FAIL ${name}: ${why}`);
  }
}

function expectEq(what, got, want) {
  const g = typeof got === "bigint" ? `${got}n` : JSON.stringify(got);
  const w = typeof want === "bigint" ? `${want}n` : JSON.stringify(want);
  if (g !== w) throw new Error(`${what}: got ${g}, want ${w}`);
}

// Checks that `e` is a ConnectError with `code` (and `message`, if given).
function expectError(e, code, message) {
  if (!(e instanceof ConnectError)) throw new Error(`want ConnectError ${Code[code]}, got ${e}`);
  if (e.code !== code) throw new Error(`code: got ${Code[e.code]}, want ${Code[code]} (message "${e.rawMessage}")`);
  if (message !== undefined) expectEq("error message", e.rawMessage, message);
}

const opts = () => ({ timeoutMs: callTimeoutMs });

for (const [name, protocol, encoding, httpVersion, makeTransport] of variants) {
  const client = createClient(EchoService, makeTransport());

  await check(`${name} Echo`, async () => {
    const payload = new Uint8Array([0, 1, 2, 0xff, 0x80]);
    const res = await client.echo(
      { text: "hello, reef ✓", number: -1234567890123n, payload, tags: ["a", "", "c"] },
      { ...opts(), headers: { "x-test-echo": `echo-${name}` } },
    );
    expectEq("text", res.text, "hello, reef ✓");
    expectEq("number", res.number, -1234567890123n);
    expectEq("payload", Array.from(res.payload), Array.from(payload));
    expectEq("tags", res.tags, ["a", "", "c"]);
    expectEq("protocol", res.protocol, protocol);
    expectEq("encoding", res.encoding, encoding);
    expectEq("http_version", res.httpVersion, httpVersion);
    expectEq("header_echo", res.headerEcho, `echo-${name}`);
  });

  await check(`${name} Count 3`, async () => {
    const got = [];
    for await (const m of client.count({ count: 3, payloadBytes: 4 }, opts())) {
      expectEq(`payload of message ${got.length}`, new TextDecoder().decode(m.payload), "xxxx");
      got.push(m.index);
    }
    expectEq("indexes", got, [0, 1, 2]);
  });

  await check(`${name} Fail not_found`, async () => {
    try {
      await client.fail({ code: "not_found", message: "no such reef" }, opts());
    } catch (e) {
      return expectError(e, Code.NotFound, "no such reef");
    }
    throw new Error("call succeeded, want NotFound");
  });

  await check(`${name} Count 2 then aborted`, async () => {
    const got = [];
    try {
      for await (const m of client.count({ count: 2, failCode: "aborted" }, opts())) got.push(m.index);
    } catch (e) {
      expectError(e, Code.Aborted);
      return expectEq("indexes before the error", got, [0, 1]);
    }
    throw new Error(`stream ended without error after ${got.length} messages, want Aborted`);
  });
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
