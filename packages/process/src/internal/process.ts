import { Attributes, Instrument, Instrumentation, TelemetryOptionsError } from "@effect-telemetry/core"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Tracer from "effect/Tracer"
import * as Semconv from "./semconv.js"

/** @internal */
export const started = Instrument.counter({
  name: Semconv.METRIC_PROCESS_STARTED,
  unit: "{process}",
  description: "Background processes started, by process.name."
})

/** @internal */
export const terminated = Instrument.counter({
  name: Semconv.METRIC_PROCESS_TERMINATED,
  unit: "{process}",
  description: "Background processes ended, by process.name and result (completed, error, interrupted)."
})

/** @internal */
export const active = Instrument.upDownCounter({
  name: Semconv.METRIC_PROCESS_ACTIVE,
  unit: "{process}",
  description: "Background processes running now, by process.name."
})

/** @internal */
export const duration = Instrument.histogram({
  name: Semconv.METRIC_PROCESS_DURATION,
  unit: "s",
  description: "Lifetime of a background process (or of one scheduled run), by process.name and result."
})

/** @internal */
export type Trace = "child" | "linked"

/** @internal */
export interface Options {
  readonly attributes?: Record<string, unknown> | undefined
  readonly trace?: Trace | undefined
}

/** @internal */
export type Result = "completed" | "error" | "interrupted"

/** @internal */
export const resultOf = (exit: Exit.Exit<unknown, unknown>): Result =>
  Exit.isSuccess(exit) ? "completed" : Exit.isInterrupted(exit) ? "interrupted" : "error"

/** @internal */
export const checkName = (name: unknown): string => {
  // A blank name would merge every process into one series and one span name; refuse it early.
  if (typeof name !== "string" || name.trim() === "") {
    throw new TelemetryOptionsError.TelemetryOptionsError({
      surface: "ProcessTelemetry",
      option: "name",
      expected: "a non-empty string",
      value: name
    })
  }
  return name
}

/** The spawner's span, if any: the parent of a child run, the link of a linked one. */
const spawner = Effect.option(Effect.currentParentSpan)

/**
 * One run: a `process {name}` span over the whole of `self` and the four metrics. The
 * counting sits inside an uninterruptible region so `started` and `terminated` always pair and
 * `active` always returns.
 *
 * @internal
 */
export const run = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  name: string,
  options: Options | undefined,
  extraAttributes: Record<string, unknown> | undefined,
  parent: Option.Option<Tracer.AnySpan> | undefined
): Effect.Effect<A, E, R> => {
  const metricAttributes = { [Semconv.ATTR_PROCESS_NAME]: name }
  const attributes = { [Semconv.ATTR_PROCESS_NAME]: name, ...options?.attributes, ...extraAttributes }
  const operation = Instrumentation.operation<A, E>({
    span: {
      name: `${Semconv.SPAN_PROCESS_PREFIX} ${name}`,
      kind: "internal",
      attributes,
      // `parent` given: a linked run, a new trace pointing at the spawner.
      ...(parent === undefined ? {} : {
        root: true,
        links: Option.match(parent, {
          onNone: (): Array<Tracer.SpanLink> => [],
          onSome: (span): Array<Tracer.SpanLink> => [{ _tag: "SpanLink", span, attributes: {} }]
        })
      })
    },
    count: terminated,
    duration,
    attributes: (exit) => Attributes.extend(metricAttributes, { [Semconv.ATTR_RESULT]: resultOf(exit) }),
    onEnd: () => active.unsafeAdd(-1, metricAttributes)
  })
  return Effect.uninterruptibleMask((restore) =>
    Effect.suspend(() => {
      started.unsafeAdd(1, metricAttributes)
      active.unsafeAdd(1, metricAttributes)
      return operation(restore(self))
    })
  )
}

/** @internal */
export const instrument = <A, E, R>(self: Effect.Effect<A, E, R>, name: string, options?: Options) => {
  checkName(name)
  if (options?.trace !== undefined) {
    TelemetryOptionsError.literal("ProcessTelemetry", "trace", options.trace, ["child", "linked"], "child")
  }
  return options?.trace === "linked"
    ? Effect.flatMap(spawner, (parent) => run(self, name, options, undefined, parent))
    : run(self, name, options, undefined, undefined)
}

/**
 * Each run of `self` is one process run; by default a linked one (see the module docs for why).
 *
 * @internal
 */
export const perRun = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  name: string,
  options: Options | undefined,
  loop: (once: Effect.Effect<A, E, R>) => Effect.Effect<any, any, any>
) => {
  checkName(name)
  if (options?.trace !== undefined) {
    TelemetryOptionsError.literal("ProcessTelemetry", "trace", options.trace, ["child", "linked"], "child")
  }
  return Effect.flatMap(spawner, (parent) => {
    let count = 0
    const once = Effect.suspend(() => {
      count += 1
      return run(
        self,
        name,
        options,
        { [Semconv.ATTR_PROCESS_RUN]: count },
        options?.trace === "child" ? undefined : parent
      )
    })
    return loop(once)
  })
}
