/**
 * Stand-ins for what our layers leave in an app's runtime without their work: as many services
 * of the bench's own as `Telemetry.layer` adds to the app's context. The platform copies a
 * request's context several times per request, so each service held costs every request.
 */
import { Telemetry } from "@effect-telemetry/core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"

/** Services in a runtime's context: every request's context starts as a copy of it. */
const servicesOf = async (layer: Layer.Layer<never>): Promise<number> => {
  const runtime = ManagedRuntime.make(layer)
  const size = (await runtime.runtime()).context.unsafeMap.size
  await runtime.dispose()
  return size
}

let oursServicesCount: Promise<number> | undefined

/** How many more services our layers leave in the app's context than a bare runtime (counted once). */
export const oursServices = (): Promise<number> =>
  oursServicesCount ??= (async () =>
    (await servicesOf(
      Telemetry.layer({
        serviceName: "bench-stand-ins",
        sampler: "always_off",
        prometheusServer: false
      }) as Layer.Layer<
        never
      >
    )) -
    (await servicesOf(Layer.empty)))()

/**
 * As many services of the bench's own as `count`: what each service in the app's context costs
 * a request (the router and each `provideService` copy the context), none of them used.
 */
export const services = (count: number): Layer.Layer<never> =>
  Layer.effectContext(Effect.sync(() => {
    let context = Context.empty()
    for (let i = 0; i < count; i++) context = Context.add(context, Context.GenericTag<never, number>(`bench/${i}`), i)
    return context as Context.Context<never>
  }))
