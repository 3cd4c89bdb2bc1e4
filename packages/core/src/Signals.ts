/**
 * A surface's signal declaration: every span and metric it emits, declared once next to its
 * instruments, from which docs/SIGNALS.md's tables are generated (`npx tsx scripts/signals.ts`)
 * and checked (`packages/demo/test/SignalsDoc.test.ts`).
 *
 * A metric's name, kind, unit and description come from its `Instrument`; the declaration adds
 * what the instrument does not know: its attributes and what it means. Rendering is plain
 * string work, so a script can build the catalogue.
 *
 * @example
 * ```ts
 * import { Instrument, Signals } from "@effect-telemetry/core"
 *
 * const jobs = Instrument.counter({ name: "jobs.done", unit: "{job}", description: "Jobs done." })
 *
 * export const signals = Signals.make({
 *   surface: "jobs",
 *   spans: [{ name: "job {job.name}", ours: true, kind: "Internal", attributes: "`job.name`", meaning: "One job." }],
 *   metrics: [{ instrument: jobs, ours: true, attributes: "always `job.name`", meaning: "Jobs done." }]
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as FunctionTelemetry from "./FunctionTelemetry.js"
import type * as Instrument from "./Instrument.js"
import * as internalSignals from "./internal/signals.js"
import * as Logging from "./Logging.js"
import { exposedName } from "./PrometheusMetrics.js"

/** @since 0.1.0 @category models */
export type SpanKind = "Internal" | "Server" | "Client" | "Producer" | "Consumer"

/** One span name (a pattern such as `{db.operation.name} {db.collection.name}`). @since 0.1.0 @category models */
export interface SpanSignal {
  /** The name, or its pattern with `{attribute}` placeholders. */
  readonly name: string
  /** Further wording of the name cell after the pattern, such as an example. */
  readonly nameNote?: string | undefined
  /** Not an OpenTelemetry semantic-convention name. */
  readonly ours?: boolean | undefined
  readonly kind: SpanKind
  /** Markdown: the attributes it carries. */
  readonly attributes: string
  /** Markdown: when it starts and ends, its status, its parent. */
  readonly meaning: string
}

/** One metric: its instrument plus what the instrument does not say. @since 0.1.0 @category models */
export interface MetricSignal {
  readonly instrument: { readonly descriptor: Instrument.Descriptor }
  /** Not an OpenTelemetry semantic-convention name. */
  readonly ours?: boolean | undefined
  /** Markdown: its attributes ("always" ones first). */
  readonly attributes: string
  /** Markdown: what a point means; defaults to the instrument's description. */
  readonly meaning?: string | undefined
}

/** Every signal of one surface. @since 0.1.0 @category models */
export interface Catalogue {
  /** The marker name in docs/SIGNALS.md: `<!-- signals:{surface} -->`. */
  readonly surface: string
  readonly spans: ReadonlyArray<SpanSignal>
  readonly metrics: ReadonlyArray<MetricSignal>
}

/** Declares a surface's signals (identity, for the type). @since 0.1.0 @category constructors */
export const make = (catalogue: Catalogue): Catalogue => catalogue

const kindLabel: Record<Instrument.Kind, string> = {
  counter: "counter",
  upDownCounter: "up-down counter",
  gauge: "gauge",
  histogram: "histogram"
}

const ours = (flag: boolean | undefined) => (flag === true ? " *(ours)*" : "")

const spanTable = (spans: ReadonlyArray<SpanSignal>): string =>
  [
    "| Span | Kind | Attributes | Status and meaning |",
    "| --- | --- | --- | --- |",
    ...spans.map((span) =>
      `| \`${span.name}\`${span.nameNote === undefined ? "" : ` ${span.nameNote}`}${
        ours(span.ours)
      } | ${span.kind} | ${span.attributes} | ${span.meaning} |`
    )
  ].join("\n")

const metricTable = (metrics: ReadonlyArray<MetricSignal>): string =>
  [
    "| Metric | Kind | Unit | Attributes | Meaning | Prometheus |",
    "| --- | --- | --- | --- | --- | --- |",
    ...metrics.map(({ attributes, instrument: { descriptor }, meaning, ours: flag }) =>
      `| \`${descriptor.name}\`${ours(flag)} | ${kindLabel[descriptor.kind]} | ${
        descriptor.unit === "" ? "" : `\`${descriptor.unit}\``
      } | ${attributes} | ${meaning ?? descriptor.description} | \`${exposedName(descriptor)}\` |`
    )
  ].join("\n")

/**
 * The markdown table of a catalogue's spans or of its metrics.
 *
 * @since 0.1.0
 * @category rendering
 */
export const render = (catalogue: Catalogue, part: "spans" | "metrics"): string =>
  part === "spans" ? spanTable(catalogue.spans) : metricTable(catalogue.metrics)

/**
 * `doc` with each catalogue's tables regenerated: the text between
 * `<!-- signals:{surface}:spans -->` and `<!-- /signals:{surface}:spans -->` (and the same with
 * `metrics`) is replaced by {@link render}, the prose around them kept. Throws with the
 * markers that are missing for a non-empty part, so a renamed section cannot silently keep
 * stale tables.
 *
 * @since 0.1.0
 * @category rendering
 */
export const apply = (doc: string, catalogues: ReadonlyArray<Catalogue>): string => {
  let out = doc
  const missing: Array<string> = []
  for (const catalogue of catalogues) {
    for (const part of ["spans", "metrics"] as const) {
      if (catalogue[part].length === 0) continue
      const open = `<!-- signals:${catalogue.surface}:${part} -->`
      const close = `<!-- /signals:${catalogue.surface}:${part} -->`
      const start = out.indexOf(open)
      const end = out.indexOf(close)
      if (start === -1 || end < start) {
        missing.push(`${catalogue.surface}:${part}`)
        continue
      }
      out = `${out.slice(0, start + open.length)}\n${render(catalogue, part)}\n${out.slice(end)}`
    }
  }
  if (missing.length > 0) throw new Error(`Signals.apply: no markers for ${missing.join(", ")}`)
  return out
}

/**
 * Core's own catalogues, in the order of docs/SIGNALS.md's Core section: traced functions
 * (`FunctionTelemetry.signals`), the Tracer layer's span delivery counters (`sdk`) and the logs
 * layer's metrics (`Logging.signals`). Effect's runtime metrics are declared by Effect, not
 * here.
 *
 * @since 0.2.0
 * @category catalogues
 */
export const core: ReadonlyArray<Catalogue> = [FunctionTelemetry.signals, internalSignals.sdk, Logging.signals]
