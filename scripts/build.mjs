#!/usr/bin/env node
// Builds every publishable package to its dist/ (ESM, .d.ts, source maps) with tsc, in
// dependency order: a package compiles against the .d.ts its dependencies just emitted, through
// their package.json exports, exactly as an app that installed them would.
import { execFileSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { join } from "node:path"

const root = new URL("..", import.meta.url).pathname
const packages = new Map()
for (const dir of readdirSync(join(root, "packages"))) {
  const manifest = JSON.parse(readFileSync(join(root, "packages", dir, "package.json"), "utf8"))
  if (manifest.private || !existsSync(join(root, "packages", dir, "tsconfig.build.json"))) continue
  packages.set(manifest.name, { dir, manifest })
}

const order = []
const visiting = new Set()
const visit = (name) => {
  if (order.includes(name)) return
  if (visiting.has(name)) throw new Error(`dependency cycle through ${name}`)
  visiting.add(name)
  const { manifest } = packages.get(name)
  for (const dep of Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies })) {
    if (packages.has(dep)) visit(dep)
  }
  visiting.delete(name)
  order.push(name)
}
for (const name of [...packages.keys()].sort()) visit(name)

const tsc = join(root, "node_modules", "typescript", "bin", "tsc")
for (const name of order) {
  const { dir } = packages.get(name)
  const started = Date.now()
  rmSync(join(root, "packages", dir, "dist"), { recursive: true, force: true })
  try {
    execFileSync(process.execPath, [tsc, "-p", join("packages", dir, "tsconfig.build.json")], {
      cwd: root,
      stdio: "inherit"
    })
  } catch {
    console.error(`build failed: ${name}`)
    process.exit(1)
  }
  console.log(`built ${name} (${Date.now() - started} ms)`)
}
