/**
 * Preloaded into the demo by the soak part (`--import`): on the parent's "heap" message, two
 * forced collections (the child runs with `--expose-gc`), then the heap and RSS back over IPC.
 * The channel is unref'd so it never keeps the demo alive on its own.
 */
process.channel?.unref()
process.on("message", (message) => {
  if (message !== "heap") return
  const collect = (globalThis as { gc?: () => void }).gc
  collect?.()
  collect?.()
  const usage = process.memoryUsage()
  process.send?.({ heapUsed: usage.heapUsed, rss: usage.rss, collected: collect !== undefined })
})
