/**
 * Generates the span and metric tables of docs/SIGNALS.md and of the package READMEs listed in
 * `targets` from the signal declarations (`Signals.Catalogue`, exported as `signals` by each
 * surface's entry module, core's in `Signals.core`), so a signal is described in one place;
 * the prose around the tables is hand-written and kept.
 *
 *   npx tsx scripts/signals.ts          rewrite the files that are stale
 *   npx tsx scripts/signals.ts --check  exit 1 when one is not what this generates
 *
 * packages/demo/test/SignalsDoc.test.ts runs the same generation and fails with the diff.
 */
import { CdcTelemetry } from "@effect-telemetry/cdc"
import { Signals } from "@effect-telemetry/core"
import { HttpClientTelemetry, HttpServerTelemetry } from "@effect-telemetry/http"
import { KvTelemetry } from "@effect-telemetry/kv"
import { ProcessTelemetry } from "@effect-telemetry/process"
import { QueueTelemetry } from "@effect-telemetry/queue"
import { SqlTelemetry } from "@effect-telemetry/sql"
import { WorkflowTelemetry } from "@effect-telemetry/workflow"
import * as Fs from "node:fs"
import { fileURLToPath, pathToFileURL } from "node:url"

/** Every catalogue, in the order of docs/SIGNALS.md (core's own first). */
export const catalogues: ReadonlyArray<Signals.Catalogue> = [
  ...Signals.core,
  HttpServerTelemetry.signals,
  HttpClientTelemetry.signals,
  ProcessTelemetry.signals,
  SqlTelemetry.signals,
  KvTelemetry.signals,
  QueueTelemetry.signals,
  CdcTelemetry.signals,
  WorkflowTelemetry.signals
]

export const docPath = fileURLToPath(new URL("../docs/SIGNALS.md", import.meta.url))

/** docs/SIGNALS.md as the declarations make it. */
export const generate = (doc: string): string => Signals.apply(doc, catalogues)

/** A generated file: its path from the repository root and the catalogues whose tables it holds. */
export interface Target {
  readonly path: string
  readonly catalogues: ReadonlyArray<Signals.Catalogue>
  /** Only these tables (default both): the HTTP README describes its spans attribute by attribute. */
  readonly parts?: ReadonlyArray<"spans" | "metrics"> | undefined
}

/** Every file with generated tables: the catalogue page and the READMEs converted so far. */
export const targets: ReadonlyArray<Target> = [
  { path: "docs/SIGNALS.md", catalogues },
  {
    path: "packages/http/README.md",
    catalogues: [HttpServerTelemetry.signals, HttpClientTelemetry.signals],
    parts: ["metrics"]
  },
  { path: "packages/process/README.md", catalogues: [ProcessTelemetry.signals] },
  { path: "packages/sql/README.md", catalogues: [SqlTelemetry.signals] },
  { path: "packages/kv/README.md", catalogues: [KvTelemetry.signals] },
  { path: "packages/queue/README.md", catalogues: [QueueTelemetry.signals] },
  { path: "packages/cdc/README.md", catalogues: [CdcTelemetry.signals] },
  { path: "packages/workflow/README.md", catalogues: [WorkflowTelemetry.signals] }
]

/** The absolute path of a target. */
export const pathOf = (target: Target): string => fileURLToPath(new URL(`../${target.path}`, import.meta.url))

/** A target's text as the declarations make it. */
export const generateTarget = (target: Target, text: string): string =>
  Signals.apply(
    text,
    target.parts === undefined ? target.catalogues : target.catalogues.map((catalogue) => ({
      ...catalogue,
      spans: target.parts!.includes("spans") ? catalogue.spans : [],
      metrics: target.parts!.includes("metrics") ? catalogue.metrics : []
    }))
  )

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const check = process.argv.includes("--check")
  let stale = false
  for (const target of targets) {
    const current = Fs.readFileSync(pathOf(target), "utf8")
    const next = generateTarget(target, current)
    if (next === current) {
      if (!check) console.log(`${target.path} is up to date`)
    } else if (check) {
      console.error(`${target.path} is stale: run npx tsx scripts/signals.ts`)
      stale = true
    } else {
      Fs.writeFileSync(pathOf(target), next)
      console.log(`${target.path} regenerated`)
    }
  }
  if (stale) process.exit(1)
}
