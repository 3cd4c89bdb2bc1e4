/**
 * The instrumented KeyValueStore: each method of the wrapped store is timed and counted once,
 * whatever the backend, because the wrapper only ever calls the public methods of the store it
 * is given. A SchemaStore is built on the wrapped store's own `forSchema` and instrumented the
 * same way, so its `get` (read and decode) is one `get`, not a `get` plus a decode.
 */
import { Attributes, Semconv, Tracing } from "@effect-telemetry/core"
import * as KeyValueStore from "@effect/platform/KeyValueStore"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Schema from "effect/Schema"
import * as metrics from "./metrics.js"

/** @internal */
export interface Options {
  readonly namespace: string
  readonly spans: boolean
}

/** @internal */
export type Operation = "get" | "set" | "remove" | "has" | "clear" | "size" | "modify"

type Result = "ok" | "not_found" | "error"

const errorTypeOfCause = (cause: Cause.Cause<unknown>): string => {
  if (Cause.isInterruptedOnly(cause)) return "interrupted"
  const failure = Cause.failureOption(cause)
  const error = Option.isSome(failure) ? failure.value : Option.getOrUndefined(Cause.dieOption(cause))
  // A platform SystemError's reason (`PermissionDenied`, `NotFound`) says more than its tag.
  if (typeof error === "object" && error !== null && (error as { _tag?: unknown })._tag === "SystemError") {
    const reason = (error as { reason?: unknown }).reason
    if (typeof reason === "string") return reason
  }
  return Tracing.errorTypeOf(error)
}

const OPERATIONS: ReadonlyArray<Operation> = ["get", "set", "remove", "has", "clear", "size", "modify"]

/** @internal */
export const makeInstrument = (options: Options) => {
  // Attribute sets are built once per store: a cache lookup should not allocate them per call.
  const sets = new Map(OPERATIONS.map((operation) => {
    const base = { [Semconv.ATTR_KV_NAMESPACE]: options.namespace, [Semconv.ATTR_KV_OPERATION]: operation }
    return [operation, {
      base,
      ok: Attributes.extend(base, { [Semconv.ATTR_KV_RESULT]: "ok" as Result }),
      notFound: Attributes.extend(base, { [Semconv.ATTR_KV_RESULT]: "not_found" as Result }),
      spanName: `${operation} ${options.namespace}`
    }] as const
  }))
  return <A, E, R>(
    operation: Operation,
    effect: Effect.Effect<A, E, R>,
    /** Whether a successful value means the key was missing. */
    missing?: (a: A) => boolean
  ): Effect.Effect<A, E, R> => {
    const set = sets.get(operation)!
    const timed = Effect.suspend(() => {
      const started = performance.now()
      return Effect.onExit(effect, (exit) =>
        Effect.suspend(() => {
          const errorType = Exit.isFailure(exit) ? errorTypeOfCause(exit.cause) : undefined
          const attributes = errorType === undefined
            ? (Exit.isSuccess(exit) && missing !== undefined && missing(exit.value) ? set.notFound : set.ok)
            : Attributes.extend(set.base, { [Semconv.ATTR_KV_RESULT]: "error", [Semconv.ATTR_ERROR_TYPE]: errorType })
          metrics.operationDuration.unsafeRecord((performance.now() - started) / 1000, attributes)
          metrics.operations.unsafeAdd(1, attributes)
          // The span's error.type is the metric's (a SystemError's reason, not its tag): the
          // tracer keeps an error.type already set, so one failure has one name everywhere.
          return options.spans && errorType !== undefined && errorType !== "interrupted"
            ? Effect.annotateCurrentSpan(Semconv.ATTR_ERROR_TYPE, errorType)
            : Effect.void
        }))
    })
    if (!options.spans) return timed
    return Effect.withSpan(timed, set.spanName, { kind: "internal", attributes: set.base, captureStackTrace: false })
  }
}

const isNone = (o: Option.Option<unknown>) => Option.isNone(o)

type Shared = "get" | "set" | "remove" | "clear" | "size" | "has" | "isEmpty" | "modify"

/** The operations a store and its schema stores both have, only their value types differ. */
const instrumentShared = <S extends Pick<KeyValueStore.SchemaStore<any, any>, Shared>>(
  store: S,
  instrument: ReturnType<typeof makeInstrument>
): Pick<S, Shared> => {
  const shared: Pick<KeyValueStore.SchemaStore<any, any>, Shared> = {
    get: (key) => instrument("get", store.get(key), isNone),
    set: (key, value) => instrument("set", store.set(key, value)),
    remove: (key) => instrument("remove", store.remove(key)),
    clear: instrument("clear", store.clear),
    size: instrument("size", store.size),
    has: (key) => instrument("has", store.has(key)),
    // `isEmpty` is a size question; a separate value would be an eighth operation to alert on.
    isEmpty: instrument("size", store.isEmpty),
    modify: (key, f) => instrument("modify", store.modify(key, f), isNone)
  }
  // Each operation returns what the same operation of `store` returns.
  return shared as Pick<S, Shared>
}

/** @internal */
export const make = (store: KeyValueStore.KeyValueStore, options: Options): KeyValueStore.KeyValueStore => {
  const instrument = makeInstrument(options)
  const instrumented: KeyValueStore.KeyValueStore = KeyValueStore.make({
    ...instrumentShared(store, instrument),
    getUint8Array: (key) => instrument("get", store.getUint8Array(key), isNone),
    modifyUint8Array: (key, f) => instrument("modify", store.modifyUint8Array(key, f), isNone),
    forSchema: <A, I, SR>(schema: Schema.Schema<A, I, SR>) => makeSchemaStore(store.forSchema(schema), instrument)
  })
  return instrumented
}

const makeSchemaStore = <A, R>(
  store: KeyValueStore.SchemaStore<A, R>,
  instrument: ReturnType<typeof makeInstrument>
): KeyValueStore.SchemaStore<A, R> => ({ ...store, ...instrumentShared(store, instrument) })
