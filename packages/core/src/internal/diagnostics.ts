/**
 * Where warnings from hot paths go. Metric updates run outside any Effect, so they cannot
 * log through the fiber's logger; the telemetry layer installs a sink that forwards to the
 * application's Effect logger, and until then warnings go to `console.warn`.
 */
export type WarningSink = (message: string) => void

let sink: WarningSink = (message) => console.warn(`[effect-telemetry] ${message}`)

/** @internal */
export const warn = (message: string): void => sink(message)

/** @internal */
export const setSink = (next: WarningSink): WarningSink => {
  const previous = sink
  sink = next
  return previous
}
