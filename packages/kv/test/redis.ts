// The real Redis the tests run against: its URL, whether it answers, and a prefix unique to
// each store so runs never see each other's keys.
import { Redis } from "ioredis"

export const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379"

const probe = async (): Promise<string | undefined> => {
  const client = new Redis(redisUrl, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
  client.on("error", () => {})
  try {
    await client.connect()
    await client.ping()
    return undefined
  } catch (error) {
    return `Redis at ${redisUrl.replace(/\/\/[^@/]*@/, "//***@")} is unavailable: ${(error as Error).message}`
  } finally {
    client.disconnect()
  }
}

/** Why the Redis tests cannot run here, or undefined. With CI=true a reason is a failure. */
export const unavailable = await probe()
if (unavailable !== undefined) {
  if (process.env.CI === "true") throw new Error(`kv tests need Redis: ${unavailable}`)
  console.warn(`skipping Redis kv tests: ${unavailable}`)
}

export const uniquePrefix = (label: string) =>
  `kvtel:${label}:${process.pid}:${Date.now().toString(36)}:${Math.floor(Math.random() * 1e6).toString(36)}:`
