import { Telemetry, TelemetryOptionsError } from "@effect-telemetry/core"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"

const { TelemetryOptionsError: Error } = TelemetryOptionsError

const thrown = (f: () => unknown): unknown => {
  try {
    f()
  } catch (error) {
    return error
  }
  return undefined
}

describe("TelemetryOptionsError", () => {
  it("names the surface, the option, what it must be and the value given", () => {
    const error = new Error({ surface: "SqlTelemetry", option: "spans", expected: "a boolean", value: "yes" })
    expect(error._tag).toBe("TelemetryOptionsError")
    expect(error.message).toBe(`SqlTelemetry: option spans must be a boolean, got "yes"`)
    // values JSON would misprint are shown as they are
    expect(new Error({ surface: "S", option: "n", expected: "a positive integer", value: Number.NaN }).message)
      .toBe("S: option n must be a positive integer, got NaN")
    expect(new Error({ surface: "S", option: "f", expected: "a boolean", value: () => 1 }).message)
      .toBe("S: option f must be a boolean, got a function")
  })

  it("each check returns the value, the fallback for undefined, and throws the one error otherwise", () => {
    expect(TelemetryOptionsError.boolean("S", "spans", false, true)).toBe(false)
    expect(TelemetryOptionsError.boolean("S", "spans", undefined, true)).toBe(true)
    expect(TelemetryOptionsError.positiveInteger("S", "max", undefined, 5)).toBe(5)
    expect(TelemetryOptionsError.literal("S", "mode", "linked", ["child", "linked"], "child")).toBe("linked")
    expect(TelemetryOptionsError.nonEmptyString("S", "namespace", "cache", "default")).toBe("cache")
    expect(TelemetryOptionsError.stringArray("S", "headers", ["a"])).toEqual(["a"])

    const cases: ReadonlyArray<[() => unknown, string]> = [
      [() => TelemetryOptionsError.boolean("S", "spans", "yes", true), `S: option spans must be a boolean, got "yes"`],
      [
        () => TelemetryOptionsError.positiveInteger("S", "max", 0, 5),
        "S: option max must be a positive integer, got 0"
      ],
      [
        () => TelemetryOptionsError.positiveInteger("S", "max", 1.5, 5),
        "S: option max must be a positive integer, got 1.5"
      ],
      [
        () => TelemetryOptionsError.literal("S", "mode", "sibling", ["child", "linked"], "child"),
        `S: option mode must be one of "child", "linked", got "sibling"`
      ],
      [
        () => TelemetryOptionsError.nonEmptyString("S", "namespace", " ", "d"),
        `S: option namespace must be a non-empty string, got " "`
      ],
      [
        () => TelemetryOptionsError.stringArray("S", "headers", "a"),
        `S: option headers must be an array of strings, got "a"`
      ],
      [() => TelemetryOptionsError.func("S", "isError", 1), "S: option isError must be a function, got 1"]
    ]
    for (const [check, message] of cases) {
      const error = thrown(check)
      expect(TelemetryOptionsError.isTelemetryOptionsError(error)).toBe(true)
      expect((error as Error).message).toBe(message)
    }
  })

  it.effect("attempt turns the thrown error into the failure and keeps other throws as defects", () =>
    Effect.gen(function*() {
      const failed = yield* Effect.exit(
        TelemetryOptionsError.attempt(() => TelemetryOptionsError.boolean("S", "spans", 1, true))
      )
      expect(Exit.isFailure(failed) && Option.getOrUndefined(Cause.failureOption(failed.cause))?.option).toBe("spans")
      const died = yield* Effect.exit(TelemetryOptionsError.attempt(() => {
        throw new RangeError("not an option")
      }))
      expect(Exit.isFailure(died) && Cause.isDie(died.cause)).toBe(true)
    }))
})

describe("Telemetry entry points", () => {
  it("layer is a function taking one options object", () => {
    expect(typeof Telemetry.layer).toBe("function")
    expect(typeof Telemetry.layerConfig).toBe("function")
    expect(typeof Telemetry.layerSignals).toBe("function")
  })

  it.scoped("layerConfig reads its options from Effect Config", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(Telemetry.layerConfig({
        serviceName: Config.string("APP_NAME"),
        tracesExporter: Config.succeed("none" as const),
        metricsExporters: Config.succeed([]),
        prometheusServer: Config.succeed(false)
      })).pipe(Effect.withConfigProvider(ConfigProvider.fromJson({ APP_NAME: "from-config" })))
      const { config } = yield* Telemetry.Telemetry.pipe(Effect.provide(context))
      expect(config.serviceName).toBe("from-config")
    }))
})
