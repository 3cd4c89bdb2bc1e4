/**
 * docs/SIGNALS.md is the catalogue of every span and metric; the code is the truth. It lives in
 * the demo, the one package that depends on every surface (in core it made core depend on all
 * of them). Every
 * surface package is imported so its module-level instruments are declared, then each
 * declared instrument must have a metric row with its kind, unit and the Prometheus name the
 * exporter itself derives, every metric row must name a declared instrument, and every span
 * name in `Semconv` (and the CDC span's) must open a span row.
 */
// Imported for their declarations: each surface declares its instruments at module load.
import "@effect-telemetry/http"
import "@effect-telemetry/kv"
import "@effect-telemetry/process"
import "@effect-telemetry/queue"
import "@effect-telemetry/sql"
import "@effect-telemetry/traceview"
import "@effect-telemetry/workflow"
import { CdcTelemetry } from "@effect-telemetry/cdc"
import { Instrument, PrometheusMetrics, Semconv } from "@effect-telemetry/core"
import { describe, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import { fileURLToPath } from "node:url"

const doc = Fs.readFileSync(fileURLToPath(new URL("../../../docs/SIGNALS.md", import.meta.url)), "utf8")

interface Table {
  readonly header: ReadonlyArray<string>
  readonly rows: ReadonlyArray<ReadonlyArray<string>>
}

/** Cells split on unescaped pipes, so `ok \| error` stays one cell. */
const cellsOf = (line: string): Array<string> =>
  line.trim().replace(/^\|/, "").replace(/\|$/, "").split(/(?<!\\)\|/).map((cell) => cell.trim())

const tables: ReadonlyArray<Table> = (() => {
  const out: Array<{ header: Array<string>; rows: Array<Array<string>> }> = []
  const lines = doc.split("\n")
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.startsWith("|") || !/^\|\s*-{3}/.test(lines[i + 1] ?? "")) continue
    const table = { header: cellsOf(lines[i]!), rows: [] as Array<Array<string>> }
    for (i += 2; i < lines.length && lines[i]!.startsWith("|"); i++) table.rows.push(cellsOf(lines[i]!))
    out.push(table)
  }
  return out
})()

const rowsUnder = (first: string): Array<ReadonlyArray<string>> =>
  tables.filter((t) => t.header[0] === first).flatMap((t) => t.rows)

/** The first code span of a cell: the name, without `*(ours)*` or examples. */
const nameOf = (cell: string): string | undefined => /`([^`]+)`/.exec(cell)?.[1]

const kindLabel: Record<Instrument.Kind, string> = {
  counter: "counter",
  upDownCounter: "up-down counter",
  gauge: "gauge",
  histogram: "histogram"
}

const metricRows = rowsUnder("Metric")
const spanRows = rowsUnder("Span")

describe("docs/SIGNALS.md", () => {
  it("lists every declared instrument with its kind, unit and Prometheus name", () => {
    const problems: Array<string> = []
    for (const descriptor of Instrument.declared()) {
      const row = metricRows.find((cells) => nameOf(cells[0]!) === descriptor.name)
      if (row === undefined) {
        problems.push(`${descriptor.name}: no metric row`)
        continue
      }
      const [, kind, unit, , , prometheus] = row
      const exposed = PrometheusMetrics.exposedName(descriptor)
      if (kind !== kindLabel[descriptor.kind]) {
        problems.push(`${descriptor.name}: kind "${kind}", declared ${kindLabel[descriptor.kind]}`)
      }
      if (unit !== (descriptor.unit === "" ? "" : `\`${descriptor.unit}\``)) {
        problems.push(`${descriptor.name}: unit ${unit}, declared \`${descriptor.unit}\``)
      }
      if (!prometheus?.includes(`\`${exposed}\``)) {
        problems.push(`${descriptor.name}: Prometheus ${prometheus}, exposed as \`${exposed}\``)
      }
    }
    expect(problems).toEqual([])
  })

  // Also proves the imports above declared something: a surface that declared nothing would
  // leave its rows here.
  it("lists no metric the code does not declare", () => {
    const stale = metricRows.map((cells) => nameOf(cells[0]!)).filter((name) =>
      name === undefined || Instrument.descriptorOf(name) === undefined
    )
    expect(stale).toEqual([])
  })

  it("lists every span name in Semconv, and the CDC span", () => {
    const spanNames = [
      ...Object.entries(Semconv).filter(([key]) => key.startsWith("SPAN_")).map(([, value]) => value as string),
      // Named in CdcTelemetry rather than Semconv: `cdc process {slot}`.
      CdcTelemetry.spanName("{slot}")
    ]
    const missing = spanNames.filter((name) =>
      !spanRows.some((cells) => {
        const pattern = nameOf(cells[0]!)
        return pattern === name || pattern?.startsWith(`${name} `)
      })
    )
    expect(missing).toEqual([])
  })

  it("has a table of contents entry for every section", () => {
    const sections = [...doc.matchAll(/^## (.+)$/gm)].map((m) => m[1]!)
    const anchor = (title: string) => title.toLowerCase().replace(/[^a-z0-9 -]/g, "").replace(/ /g, "-")
    expect(sections.filter((title) => !doc.includes(`](#${anchor(title)})`))).toEqual([])
  })
})
