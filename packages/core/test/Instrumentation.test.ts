import { Attributes, Instrument, Instrumentation, TelemetryOptionsError } from "@effect-telemetry/core"
import { TestTelemetry } from "@effect-telemetry/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"

class Timeout extends Data.TaggedError("Timeout")<{}> {}
class BrokenPipe extends Error {
  override name = "BrokenPipe"
}

const duration = Instrument.histogram({ name: "test.kit.operation.duration", unit: "s" })
const operations = Instrument.counter({ name: "test.kit.operations", unit: "{operation}" })

const base = { "kit.operation": "fetch" }
const ok = Attributes.extend(base, { "kit.result": "ok" })

const fetch = (spans: boolean) =>
  Instrumentation.operation<string, Timeout>({
    span: spans ? { name: "fetch thing", kind: "client", attributes: base } : undefined,
    duration,
    count: operations,
    attributes: (_exit, errorType) =>
      errorType === undefined ? ok : Attributes.extend(base, { "kit.result": "error", "error.type": errorType })
  })

describe("Instrumentation.errorTypeOfCause", () => {
  it("names a failure by its tag, a defect by its class, an interruption `interrupted`", () => {
    expect(Instrumentation.errorTypeOfCause(Cause.fail(new Timeout()))).toBe("Timeout")
    expect(Instrumentation.errorTypeOfCause(Cause.die(new BrokenPipe()))).toBe("BrokenPipe")
    expect(Instrumentation.errorTypeOfCause(Cause.die("a string"))).toBe("_OTHER")
    expect(Instrumentation.errorTypeOfCause(Cause.interrupt(FiberId.none))).toBe(Instrumentation.ERROR_TYPE_INTERRUPTED)
    expect(Instrumentation.ERROR_TYPE_INTERRUPTED).toBe("interrupted")
  })

  it("a failure beside an interruption is the failure; the surface's classification applies to failures only", () => {
    const both = Cause.parallel(Cause.interrupt(FiberId.none), Cause.fail(new Timeout()))
    expect(Instrumentation.errorTypeOfCause(both)).toBe("Timeout")
    expect(Instrumentation.errorTypeOfCause(Cause.fail(new Timeout()), () => "57014")).toBe("57014")
    expect(Instrumentation.errorTypeOfCause(Cause.die(new BrokenPipe()), () => "57014")).toBe("BrokenPipe")
    expect(Instrumentation.errorTypeOfExit(Exit.succeed(1))).toBeUndefined()
  })
})

describe("Instrumentation.operation", () => {
  it.live("a success is one span and one ok point; the effect's own spans are its children", () =>
    Effect.gen(function*() {
      const result = yield* fetch(true)(Effect.succeed("thing").pipe(Effect.withSpan("inner")))
      expect(result).toBe("thing")
      const span = yield* TestTelemetry.spanNamed("fetch thing")
      const inner = yield* TestTelemetry.spanNamed("inner")
      expect(TestTelemetry.kindOf(span)).toBe("client")
      expect(span.attributes["kit.operation"]).toBe("fetch")
      expect(TestTelemetry.parentSpanId(inner)).toBe(span.spanContext().spanId)
      expect(yield* TestTelemetry.metricValue("test.kit.operations", ok)).toBe(1)
      const point = yield* TestTelemetry.metricPoint("test.kit.operation.duration", ok)
      expect(point.value).toMatchObject({ count: 1 })
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.live("a failure has the same error.type on the span and the metrics", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(fetch(true)(Effect.fail(new Timeout())))
      expect(Exit.isFailure(exit)).toBe(true)
      const span = yield* TestTelemetry.spanNamed("fetch thing")
      expect(TestTelemetry.statusOf(span)).toBe("error")
      expect(span.attributes["error.type"]).toBe("Timeout")
      expect(
        yield* TestTelemetry.metricValue(
          "test.kit.operations",
          Attributes.extend(base, { "kit.result": "error", "error.type": "Timeout" })
        )
      )
        .toBe(1)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.live("an interruption is counted `interrupted` and leaves the span without error.type", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(fetch(true)(Effect.never))
      yield* Effect.sleep("5 millis")
      yield* Fiber.interrupt(fiber)
      const span = yield* TestTelemetry.spanNamed("fetch thing")
      expect(span.attributes["error.type"]).toBeUndefined()
      expect(TestTelemetry.statusOf(span)).toBe("unset")
      expect(
        yield* TestTelemetry.metricValue(
          "test.kit.operations",
          Attributes.extend(base, { "kit.result": "error", "error.type": "interrupted" })
        )
      )
        .toBe(1)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.live("without a span, and with the tracer disabled, the metrics are still recorded", () =>
    Effect.gen(function*() {
      yield* fetch(false)(Effect.succeed("a"))
      yield* fetch(true)(Effect.succeed("b")).pipe(Effect.withTracerEnabled(false))
      expect(yield* TestTelemetry.spans).toHaveLength(0)
      expect(yield* TestTelemetry.metricValue("test.kit.operations", ok)).toBe(2)
    }).pipe(Effect.provide(TestTelemetry.layer())))
})

class Greeter extends Context.Tag("test/Greeter")<Greeter, { readonly greet: (name: string) => string }>() {}

const loud = (greeter: Greeter["Type"], options?: { readonly suffix?: string }): Greeter["Type"] => {
  const suffix = TelemetryOptionsError.nonEmptyString("Loud", "suffix", options?.suffix, "!")
  return { greet: (name) => greeter.greet(name).toUpperCase() + suffix }
}

describe("Instrumentation.decorate", () => {
  const below = Layer.succeed(Greeter, { greet: (name) => `hello ${name}` })

  it.effect("replaces the service below it with the wrapped one", () =>
    Effect.gen(function*() {
      const greeter = yield* Greeter
      expect(greeter.greet("ada")).toBe("HELLO ADA?")
    }).pipe(Effect.provide(Instrumentation.decorate(Greeter, loud)({ suffix: "?" }).pipe(Layer.provide(below)))))

  it.effect("a bad option is the layer's TelemetryOptionsError, not a throw", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Layer.build(Instrumentation.decorate(Greeter, loud)({ suffix: " " }).pipe(Layer.provide(below)))
      )
      expect(error.message).toBe("Loud: option suffix must be a non-empty string, got \" \"")
    }).pipe(Effect.scoped))

  it.effect("decorateConfig: a value that reads but is not allowed is a TelemetryOptionsError too", () =>
    Effect.gen(function*() {
      const layer = Instrumentation.decorateConfig(Greeter, loud)({ suffix: Config.string("SUFFIX") })
      const provide = (suffix: string) =>
        Layer.build(layer.pipe(Layer.provide(below))).pipe(
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["SUFFIX", suffix]])))
        )
      const greeter = Context.get(yield* provide("."), Greeter)
      expect(greeter.greet("ada")).toBe("HELLO ADA.")
      const error = yield* Effect.flip(provide(" "))
      expect(TelemetryOptionsError.isTelemetryOptionsError(error)).toBe(true)
    }).pipe(Effect.scoped))
})
