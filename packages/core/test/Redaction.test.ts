import { Redaction } from "@effect-telemetry/core"
import { describe, expect, it } from "@effect/vitest"

const sensitive = new Set(["token", "sig"])

describe("Redaction.credentialsInText", () => {
  it("replaces user and password of a connection string", () => {
    expect(Redaction.credentialsInText("redis://app:s3cret@cache:6379/0")).toBe("redis://REDACTED@cache:6379/0")
    expect(Redaction.credentialsInText("amqp://guest@mq:5672")).toBe("amqp://REDACTED@mq:5672")
    expect(Redaction.credentialsInText("redis://:onlypass@cache")).toBe("redis://REDACTED@cache")
  })

  it("a password holding @ : / or % escapes leaves nothing of itself behind", () => {
    for (const password of ["p@ss", "p:a:ss", "pa/ss", "p%40ss%2F", "a@b:c/d%e", "1234@x", "::@@"]) {
      const redacted = Redaction.credentialsInText(`postgres://user:${password}@db.internal:5432/app`)
      expect(redacted).toBe("postgres://REDACTED@db.internal:5432/app")
    }
  })

  it("every URL in the text is redacted, the text around them kept", () => {
    expect(
      Redaction.credentialsInText("psql postgres://a:1@h1/db --mirror=redis://b:2@h2:6379, amqps://c:3@h3 done")
    ).toBe("psql postgres://REDACTED@h1/db --mirror=redis://REDACTED@h2:6379, amqps://REDACTED@h3 done")
  })

  it("text with no user info is returned unchanged", () => {
    for (
      const text of [
        "redis://127.0.0.1:6379",
        "https://registry.npmjs.org/@types/node",
        "https://registry.npmjs.org:443/@types/node",
        "https://example.com/users?email=a@b.example",
        "https://example.com:8443/x?to=a@b.example#c@d",
        "mail a@b.example about //x@y",
        "ls -la /tmp",
        ""
      ]
    ) {
      expect(Redaction.credentialsInText(text)).toBe(text)
    }
  })

  it("IPv6 hosts are kept, with or without user info", () => {
    expect(Redaction.credentialsInText("postgres://u:p@[::1]:5432/db")).toBe("postgres://REDACTED@[::1]:5432/db")
    expect(Redaction.credentialsInText("postgres://u:p@ss@[2001:db8::1]/db")).toBe(
      "postgres://REDACTED@[2001:db8::1]/db"
    )
    expect(Redaction.credentialsInText("http://[::1]:8080/@scope/pkg")).toBe("http://[::1]:8080/@scope/pkg")
    expect(Redaction.credentialsInText("http://[fe80::1%25eth0]:80/")).toBe("http://[fe80::1%25eth0]:80/")
  })

  it("long hostile text takes linear time, not the quadratic backtracking a naive pattern needs", () => {
    for (const text of ["a".repeat(100_000), ":a://b:c/".repeat(12_000), "x://u:" + "c".repeat(100_000)]) {
      const started = performance.now()
      Redaction.credentialsInText(text)
      expect(performance.now() - started).toBeLessThan(1_000)
    }
  })
})

describe("Redaction.query", () => {
  it("replaces sensitive values, compares decoded names case-insensitively, keeps the rest as sent", () => {
    expect(Redaction.query("?token=abc&page=2", sensitive)).toBe("token=REDACTED&page=2")
    expect(Redaction.query("TOKEN=abc&%74oken=def&q=a%20b&flag", sensitive)).toBe(
      "TOKEN=REDACTED&%74oken=REDACTED&q=a%20b&flag"
    )
    expect(Redaction.query("%E0%A4%A=1&sig=x", sensitive)).toBe("%E0%A4%A=1&sig=REDACTED")
  })

  it("an empty query is undefined", () => {
    expect(Redaction.query("", sensitive)).toBeUndefined()
    expect(Redaction.query("?", sensitive)).toBeUndefined()
  })
})

describe("Redaction.url", () => {
  it("user info becomes REDACTED:REDACTED and sensitive query values REDACTED", () => {
    expect(Redaction.url(new URL("https://u:p%40ss@api.example.com/x?sig=abc&a=1#frag"), sensitive)).toBe(
      "https://REDACTED:REDACTED@api.example.com/x?sig=REDACTED&a=1#frag"
    )
    expect(Redaction.url(new URL("https://u@api.example.com/"), sensitive)).toBe(
      "https://REDACTED:REDACTED@api.example.com/"
    )
  })

  it("a URL without credentials is unchanged, its query not re-encoded", () => {
    expect(Redaction.url(new URL("http://[::1]:8080/a?q=a+b&x=%2F"), sensitive)).toBe("http://[::1]:8080/a?q=a+b&x=%2F")
    expect(Redaction.url(new URL("https://example.com/#top"), sensitive)).toBe("https://example.com/#top")
  })
})
