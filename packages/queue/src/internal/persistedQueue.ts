import { Propagation, TelemetryOptionsError } from "@effect-telemetry/core"
import * as PersistedQueue from "@effect/experimental/PersistedQueue"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as AST from "effect/SchemaAST"
import * as Scope from "effect/Scope"
import type { Options } from "../PersistedQueueTelemetry.js"
import * as Messaging from "./messaging.js"
import * as Semconv from "./semconv.js"

/**
 * The property an object element carries its trace context in. A reader's schema ignores it as
 * an excess property, so an uninstrumented consumer decodes the element unchanged.
 *
 * @internal
 */
export const TRACE_KEY = "~effect-telemetry/trace"

/** The marker key of an envelope (the format before the inline context); its value is the version. @internal */
export const ENVELOPE_KEY = "~effect-telemetry/envelope"

/** @internal */
export interface Envelope {
  readonly [ENVELOPE_KEY]: 1
  readonly headers: Record<string, string>
  readonly element: unknown
}

/** @internal */
export const isEnvelope = (u: unknown): u is Envelope =>
  typeof u === "object" && u !== null && (u as Record<string, unknown>)[ENVELOPE_KEY] === 1

/** @internal */
export const wrap = (headers: Record<string, string>, element: unknown): Envelope => ({
  [ENVELOPE_KEY]: 1,
  headers,
  element
})

const isPlainObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u) && !(u instanceof Uint8Array)

/**
 * The headers and element of a stored element: the context of an object element carried under
 * {@link TRACE_KEY} (taken out of the element), of an envelope (still read: elements offered by
 * an older version, or under `nonObjectElements: "envelope"`), or none for a plain element.
 *
 * @internal
 */
export const unwrap = (stored: unknown): { readonly headers: Record<string, string>; readonly element: unknown } => {
  if (isEnvelope(stored)) return { headers: Messaging.carrierOf(stored.headers), element: stored.element }
  if (isPlainObject(stored) && Object.hasOwn(stored, TRACE_KEY)) {
    const { [TRACE_KEY]: carrier, ...element } = stored
    return { headers: Messaging.carrierOf(carrier as Record<string, unknown> | undefined), element }
  }
  return { headers: {}, element: stored }
}

/**
 * Whether every value the schema encodes to is an object literal that decodes to the same value
 * with one more property: a struct or class (or a union of them) without index signatures,
 * nowhere annotated to reject or keep excess properties.
 *
 * @internal
 */
export const carriesInline = (ast: AST.AST, depth = 0): boolean => {
  if (depth > 32) return false
  const parseOptions = Option.getOrUndefined(AST.getParseOptionsAnnotation(ast))
  if (parseOptions?.onExcessProperty !== undefined && parseOptions.onExcessProperty !== "ignore") return false
  switch (ast._tag) {
    case "TypeLiteral":
      return ast.indexSignatures.length === 0
    case "Transformation":
    case "Refinement":
      return carriesInline(ast.from, depth + 1)
    case "Suspend":
      return carriesInline(ast.f(), depth + 1)
    case "Union":
      return ast.types.every((member) => carriesInline(member, depth + 1))
    default:
      return false
  }
}

/**
 * What the store receives: the encoded element, with the context inline when the schema allows
 * it, in an envelope when asked to for other elements, else as is (no context travels).
 */
const stored = (
  inline: boolean,
  nonObject: "plain" | "envelope",
  headers: Record<string, string>,
  element: unknown
): unknown => {
  if (Object.keys(headers).length === 0) return element
  if (inline && isPlainObject(element) && !Object.hasOwn(element, TRACE_KEY)) {
    return { ...element, [TRACE_KEY]: headers }
  }
  return nonObject === "envelope" ? wrap(headers, element) : element
}

const factory = (nonObject: "plain" | "envelope") =>
  Effect.gen(function*() {
    const store = yield* PersistedQueue.PersistedQueueStore
    return PersistedQueue.PersistedQueueFactory.of({
      make<A, I, R>(options: { readonly name: string; readonly schema: Schema.Schema<A, I, R> }) {
        const encodeUnknown = Schema.encodeUnknown(options.schema)
        const decodeUnknown = Schema.decodeUnknown(options.schema)
        const inline = carriesInline(options.schema.ast)
        const system = Semconv.MESSAGING_SYSTEM_PERSISTED_QUEUE
        const send = Messaging.sender({ system, destination: options.name, operationName: "offer" })
        return Effect.succeed<PersistedQueue.PersistedQueue<A, R>>({
          [PersistedQueue.TypeId]: PersistedQueue.TypeId,
          offer: (value, opts) =>
            Effect.suspend(() => {
              const id = opts?.id ?? crypto.randomUUID()
              return send(
                (headers) =>
                  Effect.flatMap(encodeUnknown(value), (element) =>
                    Effect.as(
                      store.offer({
                        name: options.name,
                        id,
                        element: stored(inline, nonObject, headers, element),
                        isCustomId: opts?.id !== undefined
                      }),
                      id
                    )),
                id
              )
            }),
          take: (f, opts) =>
            Effect.uninterruptibleMask((restore) =>
              Effect.gen(function*() {
                const scope = yield* Scope.make()
                const item = yield* store.take({ name: options.name, maxAttempts: opts?.maxAttempts ?? 10 }).pipe(
                  Scope.extend(scope),
                  restore,
                  Effect.onExit((exit) => Exit.isFailure(exit) ? Scope.close(scope, exit) : Effect.void)
                )
                const { element, headers } = unwrap(item.element)
                return yield* Messaging.process(
                  {
                    system,
                    destination: options.name,
                    operationName: "take",
                    messageId: item.id,
                    parent: Propagation.extract(headers),
                    attributes: { [Semconv.ATTR_MESSAGING_DELIVERY_ATTEMPT]: item.attempts + 1 }
                  },
                  decodeUnknown(element).pipe(
                    Effect.flatMap((value) => f(value, { id: item.id, attempts: item.attempts })),
                    restore
                  ),
                  // Closing the store's scope is the settlement: complete, retry or fail the item.
                  (exit) => Scope.close(scope, exit)
                )
              })
            )
        })
      }
    })
  })

/** @internal */
export const makeFactory = factory("plain")

/** @internal */
export const makeFactoryWith = (options?: Options) =>
  Effect.flatMap(
    TelemetryOptionsError.attempt(() =>
      TelemetryOptionsError.literal(
        "PersistedQueueTelemetry",
        "nonObjectElements",
        options?.nonObjectElements,
        ["plain", "envelope"],
        "plain"
      )
    ),
    factory
  )
