#!/usr/bin/env node
// Typechecks every ```ts / ```typescript block of every README.md the way a user meets it:
// each block is its own module in .tmp/readme-blocks/, compiled with the workspace's
// TypeScript under strict NodeNext settings (skipLibCheck off), and @effect-telemetry/*
// resolves through node_modules to the packages' built dist/*.d.ts, never to the sources the
// root tsconfig's `paths` point at. Run `npm run build` first.
//
// A block is skipped (and counted) when its info string says `skip-check` (```ts skip-check)
// or its first line is `// not compiled: <reason>`; keep that for fragments that cannot be
// complete. Exit 1 when a block fails or the program saw a package source instead of its dist.
import { execFileSync } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join, relative, sep } from "node:path"

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "")
const outDir = join(root, ".tmp", "readme-blocks")
const skipDirs = new Set(["node_modules", ".git", ".tmp", "dist", "coverage", ".scratch", ".profiles"])

const readmes = []
const walk = (dir) => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (!skipDirs.has(entry.name)) walk(join(dir, entry.name))
    } else if (entry.name === "README.md") {
      readmes.push(join(dir, entry.name))
    }
  }
}
walk(root)
readmes.sort()

// The built packages must be there: without dist/ the check would report missing modules
// instead of the blocks' own errors.
const missing = []
for (const dir of readdirSync(join(root, "packages"))) {
  const manifestPath = join(root, "packages", dir, "package.json")
  if (!existsSync(manifestPath)) continue
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8"))
  if (manifest.private) continue
  if (!existsSync(join(root, "packages", dir, "dist", "index.d.ts"))) missing.push(manifest.name)
}
if (missing.length > 0) {
  console.error(`not built: ${missing.join(", ")} (run npm run build first)`)
  process.exit(1)
}

// Extract the blocks. A fence may be indented (a block inside a list item); the indentation
// of the opening fence is removed from every line of the block.
const blocks = []
const files = new Map() // readme -> { checked, failed, skipped }
for (const readme of readmes) {
  const rel = relative(root, readme)
  const stats = { checked: 0, failed: 0, skipped: 0 }
  files.set(rel, stats)
  const lines = readFileSync(readme, "utf8").split("\n")
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)(.*)$/.exec(lines[i])
    if (!open) continue
    const [, indent, fence, lang, info] = open
    let end = i + 1
    while (
      end < lines.length && !(lines[end].trim().startsWith(fence) && lines[end].trim().replace(/[`~]/g, "") === "")
    ) end++
    const body = lines.slice(i + 1, end).map((
      line
    ) => (line.startsWith(indent) ? line.slice(indent.length) : line.trimStart()))
    const startLine = i + 2 // 1-based line of the block's first code line
    i = end
    if (lang !== "ts" && lang !== "typescript") continue
    if (/\bskip-check\b/.test(info) || /^\s*\/\/\s*not compiled:/.test(body[0] ?? "")) {
      stats.skipped++
      continue
    }
    const name = `${rel.replace(/README\.md$/, "").split(sep).filter(Boolean).join("_") || "root"}_L${startLine}.ts`
    blocks.push({ rel, startLine, indent: indent.length, name, body, errors: [] })
    stats.checked++
  }
}

rmSync(outDir, { recursive: true, force: true })
mkdirSync(outDir, { recursive: true })
// An ESM app: NodeNext reads "type" from the nearest package.json.
writeFileSync(
  join(outDir, "package.json"),
  JSON.stringify({ name: "readme-blocks", private: true, type: "module" }, null, 2) + "\n"
)
writeFileSync(
  join(outDir, "tsconfig.json"),
  JSON.stringify(
    {
      compilerOptions: {
        // No `lib`: the target's default libraries, DOM included, as `tsc --init` leaves it
        // (@effect/platform's .d.ts name DOM types such as Storage and Transferable).
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        moduleDetection: "force",
        // @types/node from the repository's node_modules (Node resolution walks up from here).
        types: ["node"],
        strict: true,
        exactOptionalPropertyTypes: true,
        noUncheckedIndexedAccess: true,
        verbatimModuleSyntax: true,
        isolatedModules: true,
        skipLibCheck: false,
        noEmit: true
      },
      files: blocks.map((block) => block.name)
    },
    null,
    2
  ) + "\n"
)
for (const block of blocks) writeFileSync(join(outDir, block.name), block.body.join("\n") + "\n")

let output = ""
let tscFailed = false
if (blocks.length > 0) {
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc")
  try {
    output = execFileSync(process.execPath, [
      tsc,
      "-p",
      join(outDir, "tsconfig.json"),
      "--pretty",
      "false",
      "--listFiles"
    ], {
      cwd: outDir,
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024
    })
  } catch (error) {
    tscFailed = true
    output = `${error.stdout ?? ""}${error.stderr ?? ""}`
  }
}

// Map each diagnostic back to its README line; continuation lines belong to the diagnostic above.
const byName = new Map(blocks.map((block) => [block.name, block]))
const otherErrors = []
const programFiles = []
let current = undefined
for (const line of output.split("\n")) {
  const diagnostic = /^(.*?)\((\d+),(\d+)\): (error|warning) (TS\d+: .*)$/.exec(line)
  if (diagnostic) {
    const [, file, row, col, , message] = diagnostic
    const block = byName.get(file.split("/").pop())
    if (block && !file.includes("node_modules")) {
      current = {
        at: `${block.rel}:${block.startLine + Number(row) - 1}:${Number(col) + block.indent}`,
        message: [message]
      }
      block.errors.push(current)
    } else {
      current = { at: `${relative(root, join(outDir, file))}:${row}:${col}`, message: [message] }
      otherErrors.push(current)
    }
  } else if (/^\s+\S/.test(line) && current) {
    current.message.push(line.trim())
  } else if (/^error TS\d+/.test(line)) {
    current = { at: "tsc", message: [line] }
    otherErrors.push(current)
  } else if (line.startsWith("/")) {
    current = undefined
    programFiles.push(line)
  }
}

// The point of the check is the published surface: fail if any package source got in.
const sources = programFiles.filter((file) => /\/packages\/[^/]+\/src\//.test(file))
const declarations = programFiles.filter((file) => /\/packages\/[^/]+\/dist\/.*\.d\.ts$/.test(file))

let failedBlocks = 0
for (const block of blocks) {
  if (block.errors.length > 0) {
    failedBlocks++
    files.get(block.rel).failed++
  }
}
let checked = 0
let skipped = 0
for (const [rel, stats] of files) {
  checked += stats.checked
  skipped += stats.skipped
  if (stats.checked + stats.skipped === 0) continue
  const skippedText = stats.skipped > 0 ? `, ${stats.skipped} skipped` : ""
  console.log(
    `${stats.failed > 0 ? "FAIL" : "ok  "} ${rel}: ${stats.checked} checked, ${stats.failed} failed${skippedText}`
  )
}
for (const block of blocks) {
  for (const error of block.errors) {
    console.log(`\n${error.at}: ${error.message[0]}`)
    for (const more of error.message.slice(1)) console.log(`  ${more}`)
  }
}
for (const error of otherErrors) {
  console.log(`\n${error.at}: ${error.message.join("\n  ")}`)
}
if (sources.length > 0) {
  console.log(
    `\nthe program read package sources instead of dist/:\n  ${
      sources.map((file) => relative(root, file)).join("\n  ")
    }`
  )
}
console.log(
  `\nREADME blocks: ${checked} checked, ${failedBlocks} failed, ${skipped} skipped (${readmes.length} README files; ` +
    `@effect-telemetry/* read from ${declarations.length} built .d.ts, ${sources.length} sources)`
)
if (tscFailed && failedBlocks === 0 && otherErrors.length === 0) console.log(output)
process.exit(failedBlocks > 0 || otherErrors.length > 0 || sources.length > 0 || tscFailed ? 1 : 0)
