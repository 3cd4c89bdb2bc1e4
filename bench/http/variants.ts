/**
 * The variants `server.ts` serves, in one place for the server script and the drivers that
 * start it (`http.ts`, `http-socket-instructions.ts`): the script starts a server when run, so
 * the drivers cannot import its list from it.
 */

/** The Effect 3 app with each telemetry stack the socket part times. */
export const timed = ["off", "platform-native", "span-floor", "effect-otel", "ours", "ours-unsampled"] as const

/**
 * The bare router with what a telemetry stack leaves in the runtime and nothing else (a tracer
 * and a logger; as many services as our layers add): counted, not timed.
 */
export const decomposition = ["off-refs", "off-services"] as const

export const all = [...timed, ...decomposition] as const
export type Variant = (typeof all)[number]
