/**
 * Generates docs/SIGNALS.md's span and metric tables from the surfaces' signal declarations
 * (`Signals.Catalogue`, exported as `signals` by each surface's entry module); the prose
 * around the tables is hand-written and kept.
 *
 *   npx tsx scripts/signals.ts          rewrite docs/SIGNALS.md
 *   npx tsx scripts/signals.ts --check  exit 1 when it is not what this generates
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

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const current = Fs.readFileSync(docPath, "utf8")
  const next = generate(current)
  if (process.argv.includes("--check")) {
    if (next !== current) {
      console.error("docs/SIGNALS.md is stale: run npx tsx scripts/signals.ts")
      process.exit(1)
    }
  } else if (next !== current) {
    Fs.writeFileSync(docPath, next)
    console.log("docs/SIGNALS.md regenerated")
  } else {
    console.log("docs/SIGNALS.md is up to date")
  }
}
