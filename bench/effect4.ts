/**
 * Effect 4 for the `http` part's peer rows: Node 22 and effect 4.1.5 with
 * @effect/platform-node 4.1.5, installed outside the workspace (bench/.scratch/effect4), and
 * the server script (bench/http/effect4-server.mjs) copied beside that install so that its
 * `effect` is Effect 4, not the workspace's Effect 3.
 */
import { copyFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { node22, scratchPackages } from "./lib/install.js"
import type { Installed } from "./lib/install.js"

/** The pinned versions the rows are measured with. */
export const EFFECT4_PACKAGES = { effect: "4.1.5", "@effect/platform-node": "4.1.5" } as const

const dir = fileURLToPath(new URL("./.scratch/effect4/", import.meta.url))
const source = fileURLToPath(new URL("./http/effect4-server.mjs", import.meta.url))

/** What runs an Effect 4 server: `node` `script` `<variant>` `<port>`. */
export interface Effect4 {
  readonly node: string
  readonly script: string
}

/** Installs (or finds) Node 22 and Effect 4; the reason when either cannot be had. */
export const prepare = async (): Promise<Installed<Effect4>> => {
  const node = await node22()
  if (!node.ok) return node
  const packages = await scratchPackages(dir, EFFECT4_PACKAGES)
  if (!packages.ok) return packages
  const script = join(dir, "effect4-server.mjs")
  copyFileSync(source, script)
  return { ok: true, value: { node: node.value, script } }
}
