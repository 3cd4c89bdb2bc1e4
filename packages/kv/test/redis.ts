// The real Redis the tests run against: its URL, whether it answers, and a prefix unique to
// each store so runs never see each other's keys.
import { TestServices } from "@effect-telemetry/testing"
import { Redis } from "ioredis"

export const redisUrl = TestServices.redisUrl

/** Why the Redis tests cannot run here, or undefined. With CI=true a reason is a failure. */
export const unavailable = TestServices.required(
  "Redis kv",
  await TestServices.probe("Redis", redisUrl, async () => {
    const client = new Redis(redisUrl, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
    client.on("error", () => {})
    try {
      await client.connect()
      await client.ping()
    } finally {
      client.disconnect()
    }
  })
)

export const uniquePrefix = (label: string) => `${TestServices.uniqueName(`kvtel:${label}`, ":")}:`
