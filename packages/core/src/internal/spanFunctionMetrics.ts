import type * as Exit from "effect/Exit"
import * as EffectTracer from "effect/Tracer"
import type * as Instrument from "../Instrument.js"
import * as Semconv from "../Semconv.js"

/** Which span names get function metrics: exact names, `prefix.*` globs, patterns or a predicate. @internal */
export type NameFilter = ReadonlyArray<string | RegExp> | ((name: string) => boolean)

/** @internal */
export const matcherOf = (include: NameFilter): (name: string) => boolean => {
  if (typeof include === "function") return include
  const exact = new Set<string>()
  const prefixes: Array<string> = []
  const patterns: Array<RegExp> = []
  for (const entry of include) {
    if (typeof entry !== "string") patterns.push(entry)
    else if (entry.endsWith("*")) prefixes.push(entry.slice(0, -1))
    else exact.add(entry)
  }
  return (name) => exact.has(name) || prefixes.some((p) => name.startsWith(p)) || patterns.some((p) => p.test(name))
}

/** @internal */
export interface Instruments {
  readonly calls: Instrument.Counter
  readonly duration: Instrument.Histogram
  readonly active: Instrument.UpDownCounter
}

const resultOf = (exit: Exit.Exit<unknown, unknown>): string =>
  exit._tag === "Success" ? "ok" : isInterruptedOnly(exit.cause) ? "interrupted" : "error"

// Cause.isInterruptedOnly without importing Cause's module graph on this path: an Interrupt,
// or a Sequential/Parallel of interrupts only.
const isInterruptedOnly = (cause: unknown): boolean => {
  const c = cause as { _tag: string; left?: unknown; right?: unknown }
  switch (c._tag) {
    case "Interrupt":
      return true
    case "Sequential":
    case "Parallel":
      return isInterruptedOnly(c.left) && isInterruptedOnly(c.right)
    case "Empty":
      return true
    default:
      return false
  }
}

/**
 * A tracer that records the function metrics of the Internal spans it starts whose names pass
 * `matches`, then hands every span to `tracer` unchanged. The span object is the underlying
 * tracer's own (surfaces look for their tracer's span class): only its `end` is wrapped, and
 * only for the spans that match. Spans of `Telemetry.fn`, which records its own metrics, are
 * recognised by their `function` attribute and not counted twice.
 *
 * @internal
 */
export const wrapTracer = (
  tracer: EffectTracer.Tracer,
  matches: (name: string) => boolean,
  instruments: Instruments
): EffectTracer.Tracer => {
  const wrapped: EffectTracer.Tracer = EffectTracer.make({
    context: tracer.context,
    span(name, parent, context, links, startTime, kind, options) {
      const span = tracer.span(name, parent, context, links, startTime, kind, options)
      // The wrapped tracer swaps its per-operation hook when an OTel context manager appears
      // (see internal/tracer.ts): follow it, without a call per operation.
      if (wrapped.context !== tracer.context) {
        ;(wrapped as { context: EffectTracer.Tracer["context"] }).context = tracer.context
      }
      if (kind !== "internal" || !matches(name)) return span
      const attributes = { [Semconv.ATTR_FUNCTION_NAME]: name }
      instruments.active.unsafeAdd(1, attributes)
      const end = span.end
      span.end = function(endTime: bigint, exit: Exit.Exit<unknown, unknown>) {
        instruments.active.unsafeAdd(-1, attributes)
        if (!span.attributes.has(Semconv.ATTR_FUNCTION_NAME)) {
          instruments.duration.unsafeRecord(Number(endTime - startTime) / 1e9, attributes)
          instruments.calls.unsafeAdd(1, { [Semconv.ATTR_FUNCTION_NAME]: name, [Semconv.ATTR_RESULT]: resultOf(exit) })
        }
        end.call(span, endTime, exit)
      }
      return span
    }
  })
  return wrapped
}
