// autocannon 9 ships no typings; only the fields the HTTP benchmark reads are declared.
declare module "autocannon" {
  interface Options {
    readonly url: string
    readonly connections?: number
    readonly pipelining?: number
    readonly duration?: number
    /** Stop after this many requests instead of after `duration`. */
    readonly amount?: number
    /** Seconds a request may take before it counts as a timeout. */
    readonly timeout?: number
    readonly headers?: Record<string, string>
  }
  interface Histogram {
    readonly average: number
    readonly p50: number
    readonly p99: number
    readonly total: number
  }
  interface Result {
    readonly requests: Histogram
    readonly latency: Histogram
    readonly errors: number
    readonly timeouts: number
    readonly non2xx: number
    readonly duration: number
  }
  function autocannon(options: Options): Promise<Result>
  export default autocannon
}
