/**
 * TLS and mTLS from the environment, for OTLP/HTTP and OTLP/gRPC alike, against a receiver on
 * loopback serving a certificate of a throwaway CA made with openssl for this run: a trusted
 * server delivers; a server whose certificate chains to another CA fails with a certificate
 * error in the delivery report (spans failed, none exported); a server requiring a client
 * certificate accepts the one named by `OTEL_EXPORTER_OTLP_CLIENT_KEY`/`_CLIENT_CERTIFICATE`
 * and refuses an exporter without one.
 */
import { OtlpReceiver } from "@effect-telemetry/testing"
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import { exportWith } from "./fixtures/exportWith.js"
import { makePki } from "./fixtures/tls.js"

const pki = makePki()
afterAll(() => pki.remove())

const pem = (file: string) => Fs.readFileSync(file)
const server = { cert: pem(pki.serverCert), key: pem(pki.serverKey) }
const untrusted = { cert: pem(pki.otherServerCert), key: pem(pki.otherServerKey) }
const mutual = { ...server, ca: pem(pki.caCert), requireClientCertificate: true }

for (const protocol of ["http", "grpc"] as const) {
  describe(`TLS over OTLP/${protocol === "http" ? "HTTP" : "gRPC"}`, () => {
    const envFor = (receiver: OtlpReceiver.OtlpReceiver, extra: Record<string, string> = {}) => ({
      OTEL_EXPORTER_OTLP_PROTOCOL: protocol === "http" ? "http/protobuf" : "grpc",
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_METRICS_EXPORTER: "none",
      // gRPC retries UNAVAILABLE (a failed handshake) until the export timeout: keep it short.
      OTEL_EXPORTER_OTLP_TIMEOUT: "1500",
      ...extra
    })

    it.scopedLive("a server certificate of the CA in OTEL_EXPORTER_OTLP_CERTIFICATE: delivered", () =>
      Effect.gen(function*() {
        const receiver = yield* OtlpReceiver.make({ protocol, tls: server })
        expect(receiver.url).toMatch(/^https:\/\/localhost:\d+$/)
        const { stats, warnings } = yield* exportWith(
          envFor(receiver, { OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: pki.caCert }),
          6
        )
        expect(warnings).toEqual([])
        expect(stats).toMatchObject({ exported: 6, failed: 0, abandoned: 0 })
        expect(receiver.spanCount()).toBe(6)
      }))

    it.scopedLive("a server certificate of another CA: a certificate error, spans failed", () =>
      Effect.gen(function*() {
        const receiver = yield* OtlpReceiver.make({ protocol, tls: untrusted })
        const { stats } = yield* exportWith(envFor(receiver, { OTEL_EXPORTER_OTLP_CERTIFICATE: pki.caCert }), 6)
        expect(stats.exported).toBe(0)
        expect(stats.failed + stats.abandoned).toBe(6)
        expect(stats.lastError).toMatch(/certificate/i)
        expect(receiver.spanCount()).toBe(0)
      }))

    it.scopedLive("a server requiring a client certificate: delivered with the client's key and certificate", () =>
      Effect.gen(function*() {
        const receiver = yield* OtlpReceiver.make({ protocol, tls: mutual })
        const { stats, warnings } = yield* exportWith(
          envFor(receiver, {
            OTEL_EXPORTER_OTLP_CERTIFICATE: pki.caCert,
            OTEL_EXPORTER_OTLP_CLIENT_KEY: pki.clientKey,
            OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: pki.clientCert
          }),
          6
        )
        expect(warnings).toEqual([])
        expect(stats).toMatchObject({ exported: 6, failed: 0, abandoned: 0 })
        expect(receiver.spanCount()).toBe(6)
      }))

    it.scopedLive("a server requiring a client certificate: refused without one, spans failed", () =>
      Effect.gen(function*() {
        const receiver = yield* OtlpReceiver.make({ protocol, tls: mutual })
        const { stats } = yield* exportWith(envFor(receiver, { OTEL_EXPORTER_OTLP_CERTIFICATE: pki.caCert }), 6)
        expect(stats.exported).toBe(0)
        expect(stats.failed + stats.abandoned).toBe(6)
        // The server's TLS alert, as OpenSSL words it.
        expect(stats.lastError).toMatch(/certificate required/)
        expect(receiver.spanCount()).toBe(0)
      }))

    it.scopedLive("a client key without its certificate, given in code (unchecked): exports fail saying why", () =>
      Effect.gen(function*() {
        const receiver = yield* OtlpReceiver.make({ protocol, tls: mutual })
        const { stats } = yield* exportWith(envFor(receiver), 2, {
          otlpTraces: {
            protocol: protocol === "http" ? "http/protobuf" : "grpc",
            url: protocol === "http" ? receiver.endpoints.traces : receiver.url,
            certificate: pki.caCert,
            clientKey: pki.clientKey
          }
        })
        expect(stats.exported).toBe(0)
        expect(stats.failed + stats.abandoned).toBe(2)
        // gRPC refuses to build such credentials; HTTPS sends no client certificate and is refused.
        expect(stats.lastError).toMatch(
          protocol === "grpc" ? /cannot open the OTLP\/gRPC channel.*certificate chain/ : /certificate required/
        )
        expect(receiver.spanCount()).toBe(0)
      }))

    it.scopedLive("an unreadable certificate file is warned about and the system CAs used: not trusted", () =>
      Effect.gen(function*() {
        const receiver = yield* OtlpReceiver.make({ protocol, tls: server })
        const { stats, warnings } = yield* exportWith(
          envFor(receiver, { OTEL_EXPORTER_OTLP_CERTIFICATE: `${pki.dir}/missing.pem` }),
          2
        )
        expect(warnings.join("\n")).toContain("OTEL_EXPORTER_OTLP_CERTIFICATE")
        expect(warnings.join("\n")).toContain("cannot read the file (ENOENT)")
        expect(stats.exported).toBe(0)
        expect(stats.lastError).toMatch(/certificate/i)
      }))
  })
}
