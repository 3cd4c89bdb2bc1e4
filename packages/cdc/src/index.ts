/**
 * @since 0.1.0
 */

/** The change stream: `stream`, `process`, `run`. @since 0.1.0 */
export * as Cdc from "./Cdc.js"

/** Typed changes and committed transactions. @since 0.1.0 */
export * as CdcChange from "./CdcChange.js"

/** The typed error of a change stream. @since 0.1.0 */
export * as CdcError from "./CdcError.js"

/** The metrics and span of the change stream. @since 0.1.0 */
export * as CdcTelemetry from "./CdcTelemetry.js"
