/**
 * The configuration read through Effect's `Config` (so a test or an application can provide
 * its own `ConfigProvider`), and its issues logged. Parsing, validation and fallbacks are in
 * env.ts, which needs no Effect.
 *
 * @internal
 */
import * as Arr from "effect/Array"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { Overrides, Resolved } from "../TelemetryConfig.js"
import * as Env from "./env.js"

// What TelemetryConfig.ts and the tests have always taken from here.
export {
  /** @internal */
  fromOverrides,
  /** @internal */
  variables
} from "./env.js"

// -----------------------------------------------------------------------------
// effects
// -----------------------------------------------------------------------------

// One variable at a time, each optional and each unable to fail: a provider error on one
// variable must not cost the others (the spec: configuration never crashes the program).
const readEnv: Effect.Effect<Env.Env> = Effect.map(
  Effect.forEach(Env.variables, (name) =>
    Config.option(Config.string(name)).pipe(
      Effect.map(
        Option.flatMap((value) => Option.map(Option.fromNullable(Env.present(value)), (v) => [name, v] as const))
      ),
      Effect.orElseSucceed(Option.none)
    )),
  (entries) => new Map(Arr.getSomes(entries))
)

/** @internal */
export const load = (overrides?: Overrides): Effect.Effect<Resolved> =>
  Effect.map(readEnv, (env) => Env.resolve(env, overrides))

/** @internal */
export const reportIssues = (config: Resolved): Effect.Effect<void> =>
  Effect.forEach(config.issues, (issue) => Effect.logWarning(Env.formatIssue(issue)), { discard: true })

/** @internal */
export const loadAndReport = (overrides?: Overrides): Effect.Effect<Resolved> =>
  Effect.tap(load(overrides), reportIssues)

// -----------------------------------------------------------------------------
// the trace view's switch
// -----------------------------------------------------------------------------

const readOne = (name: string): Effect.Effect<string | undefined> =>
  Config.option(Config.string(name)).pipe(
    Effect.map((value) => Env.present(Option.getOrUndefined(value))),
    Effect.orElseSucceed(() => undefined)
  )

/** Reads `EFFECT_TELEMETRY_TRACEVIEW` and `NODE_ENV`, warns once per issue, never fails. @internal */
export const loadTraceView: Effect.Effect<boolean> = Effect.gen(function*() {
  const resolved = Env.resolveTraceView(yield* readOne("EFFECT_TELEMETRY_TRACEVIEW"), yield* readOne("NODE_ENV"))
  yield* Effect.forEach(resolved.issues, (issue) => Effect.logWarning(Env.formatIssue(issue)), { discard: true })
  return resolved.enabled
})
