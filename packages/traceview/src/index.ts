/**
 * @since 0.1.0
 */

/** The in-process trace viewer: a bounded buffer of recent traces served as HTML pages. @since 0.1.0 */
export * as TraceView from "./TraceView.js"
