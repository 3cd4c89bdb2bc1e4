/**
 * The instrumented KeyValueStore: each method of the wrapped store is timed and counted once,
 * whatever the backend, because the wrapper only ever calls the public methods of the store it
 * is given. A SchemaStore is built on the wrapped store's own `forSchema` and instrumented the
 * same way, so its `get` (read and decode) is one `get`, not a `get` plus a decode.
 */
import { Attributes, Instrumentation, Tracing } from "@effect-telemetry/core"
import * as KeyValueStore from "@effect/platform/KeyValueStore"
import type * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Schema from "effect/Schema"
import * as metrics from "./metrics.js"
import * as Semconv from "./semconv.js"

/** @internal */
export interface Options {
  readonly namespace: string
  readonly spans: boolean
}

/** @internal */
export type Operation = "get" | "set" | "remove" | "has" | "clear" | "size" | "modify"

type Result = "ok" | "not_found" | "error"

// A platform SystemError's reason (`PermissionDenied`, `NotFound`) says more than its tag.
const errorTypeOf = (error: unknown): string => {
  if (typeof error === "object" && error !== null && (error as { _tag?: unknown })._tag === "SystemError") {
    const reason = (error as { reason?: unknown }).reason
    if (typeof reason === "string") return reason
  }
  return Tracing.errorTypeOf(error)
}

const isNone = (o: Option.Option<unknown>) => Option.isNone(o)

const OPERATIONS: ReadonlyArray<Operation> = ["get", "set", "remove", "has", "clear", "size", "modify"]

/** @internal */
export const makeInstrument = (options: Options) => {
  // Built once per store: a cache lookup should not allocate its attribute sets per call.
  const operations = new Map(OPERATIONS.map((operation) => {
    const base = { [Semconv.ATTR_KV_NAMESPACE]: options.namespace, [Semconv.ATTR_KV_OPERATION]: operation }
    const ok = Attributes.extend(base, { [Semconv.ATTR_KV_RESULT]: "ok" as Result })
    const notFound = Attributes.extend(base, { [Semconv.ATTR_KV_RESULT]: "not_found" as Result })
    const failed = (errorType: string) =>
      Attributes.extend(base, { [Semconv.ATTR_KV_RESULT]: "error" as Result, [Semconv.ATTR_ERROR_TYPE]: errorType })
    const timed = (missing: ((a: any) => boolean) | undefined) =>
      Instrumentation.operation<any, unknown>({
        span: options.spans
          ? { name: `${operation} ${options.namespace}`, kind: "internal", attributes: base }
          : undefined,
        duration: metrics.operationDuration,
        count: metrics.operations,
        errorType: errorTypeOf,
        attributes: (exit, errorType) =>
          errorType !== undefined
            ? failed(errorType)
            : missing !== undefined && Exit.isSuccess(exit) && missing(exit.value)
            ? notFound
            : ok
      })
    return [operation, { plain: timed(undefined), lookup: timed(isNone) }] as const
  }))
  return <A, E, R>(
    operation: Operation,
    effect: Effect.Effect<A, E, R>,
    /** Whether a successful value means the key was missing (the only such test is `isNone`). */
    missing?: (a: A) => boolean
  ): Effect.Effect<A, E, R> => {
    const timed = operations.get(operation)!
    return (missing === undefined ? timed.plain : timed.lookup)(effect) as Effect.Effect<A, E, R>
  }
}

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
