#!/usr/bin/env node
// Keeps every publishable package.json in one shape (the shape of Effect's own packages:
// dist/ with types, subpath exports per public module, caret peers), and checks it in CI.
//   node scripts/manifests.mjs          rewrite the generated fields
//   node scripts/manifests.mjs --check  fail when a manifest differs from what this script writes
//
// Generated: exports and typesVersions (one subpath per top-level module of src/, nothing from
// internal/), main/types, files, sideEffects, engines, license, repository, publishConfig.
// Dependencies, peers and their ranges stay hand-written: knip checks those against the imports.
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"

const root = new URL("..", import.meta.url).pathname
const check = process.argv.includes("--check")

// ESM only: a CommonJS build beside it would let one app load core twice (once through
// `require`, once through `import`), each copy with its own instrument registry and delivery
// accounting, so metrics declared in one copy would never be exported by the other. Node
// >= 20.19 and >= 22.12 `require()` these ES modules directly (tested by the consumer test).
const entry = (name) => ({ types: `./dist/${name}.d.ts`, default: `./dist/${name}.js` })

let stale = 0
for (const dir of readdirSync(join(root, "packages")).sort()) {
  const file = join(root, "packages", dir, "package.json")
  const original = readFileSync(file, "utf8")
  const manifest = JSON.parse(original)
  if (manifest.private) continue
  const modules = readdirSync(join(root, "packages", dir, "src"))
    .filter((f) => f.endsWith(".ts") && f !== "index.ts")
    .map((f) => f.slice(0, -3))
    .sort()
  const exports = { "./package.json": "./package.json", ".": entry("index") }
  for (const m of modules) exports[`./${m}`] = entry(m)
  const typesVersions = { "*": Object.fromEntries(modules.map((m) => [m, [`./dist/${m}.d.ts`]])) }
  const {
    name,
    version,
    description,
    type: _type,
    license: _license,
    repository: _repository,
    homepage: _homepage,
    sideEffects: _sideEffects,
    engines: _engines,
    main: _main,
    types: _types,
    exports: _exports,
    typesVersions: _typesVersions,
    files: _files,
    publishConfig: _publishConfig,
    scripts,
    ...rest
  } = manifest
  const next = {
    name,
    version,
    description,
    license: "MIT",
    repository: {
      type: "git",
      url: "git+https://github.com/effect-telemetry/effect-telemetry.git",
      directory: `packages/${dir}`
    },
    type: "module",
    sideEffects: [],
    engines: { node: "^20.19.0 || >=22.12.0" },
    files: ["dist", "src", "README.md", "LICENSE"],
    main: "./dist/index.js",
    types: "./dist/index.d.ts",
    exports,
    typesVersions,
    publishConfig: { access: "public" },
    ...(scripts ? { scripts } : {}),
    ...rest
  }
  const text = JSON.stringify(next, null, 2) + "\n"
  if (text !== original) {
    stale++
    if (check) console.error(`${file}: not in the generated shape; run node scripts/manifests.mjs`)
    else writeFileSync(file, text)
  }
}
if (check && stale > 0) process.exit(1)
