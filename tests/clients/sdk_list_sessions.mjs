// List sessions with opencode's own JS SDK (npm @opencode-ai/sdk), the way a script
// or an integration would: one client, one call, one JSON line on stdout.
//
// Environment:
//   OPENCODE_URL          base URL of opencode or of the gateway in front of it (required)
//   OPENCODE_TOKEN        the credential (required): an API token, or opencode's password
//   OPENCODE_AUTH_SCHEME  "bearer" (default): `Authorization: Bearer <token>`;
//                         "basic": `Authorization: Basic base64(<user>:<token>)`, what
//                         opencode itself understands
//   OPENCODE_USERNAME     the Basic username (default "opencode")
//   OPENCODE_DIRECTORY    optional: the SDK's `directory` option (sent as ?directory= on GET)
//   OPENCODE_SDK_DIR      where the SDK package is (default: .ci/work/node/node_modules/
//                         @opencode-ai/sdk in this repository, as .ci/install-sdk.sh puts it)
//
// Exit status: 0 when the list came back (2xx); 1 on an HTTP error, printing
// {"ok": false, "status": N, ...}; 2 when the server could not be reached or the
// environment is incomplete. The token is never printed.
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

const here = dirname(fileURLToPath(import.meta.url));
const sdkDir = resolve(
  process.env.OPENCODE_SDK_DIR ||
    join(here, "..", "..", ".ci", "work", "node", "node_modules", "@opencode-ai", "sdk"),
);
const baseUrl = process.env.OPENCODE_URL;
const token = process.env.OPENCODE_TOKEN;
const scheme = (process.env.OPENCODE_AUTH_SCHEME || "bearer").toLowerCase();
if (!baseUrl || !token || !["bearer", "basic"].includes(scheme)) {
  out({ ok: false, status: null, error: "set OPENCODE_URL and OPENCODE_TOKEN (scheme bearer|basic)" });
  process.exit(2);
}

let pkg;
try {
  pkg = JSON.parse(readFileSync(join(sdkDir, "package.json"), "utf8"));
} catch (err) {
  out({ ok: false, status: null, error: `@opencode-ai/sdk not found in ${sdkDir}: ${err.code || err}` });
  process.exit(2);
}
// The package is ESM-only ("exports" has an "import" condition and no "require"),
// so resolve its entry point from its own package.json.
const entry = pkg.exports?.["."]?.import ?? pkg.module ?? pkg.main;
const { createOpencodeClient } = await import(pathToFileURL(join(sdkDir, entry)).href);

const authorization =
  scheme === "bearer"
    ? `Bearer ${token}`
    : "Basic " +
      Buffer.from(`${process.env.OPENCODE_USERNAME || "opencode"}:${token}`).toString("base64");

const config = { baseUrl, headers: { Authorization: authorization } };
if (process.env.OPENCODE_DIRECTORY) config.directory = process.env.OPENCODE_DIRECTORY;
const client = createOpencodeClient(config);

let result;
try {
  result = await client.session.list();
} catch (err) {
  out({ ok: false, status: null, sdk: pkg.version, error: `request failed: ${err?.cause?.code || err?.message || err}` });
  process.exit(2);
}
const status = result.response?.status ?? null;
if (result.error !== undefined || !result.response?.ok) {
  out({ ok: false, status, sdk: pkg.version, error: result.error ?? null });
  process.exit(1);
}
const sessions = Array.isArray(result.data) ? result.data : [];
out({
  ok: true,
  status,
  sdk: pkg.version,
  count: sessions.length,
  sessions: sessions.map((s) => ({ id: s.id, title: s.title, directory: s.directory })),
});
