// Lint and format, as Effect's own repository (v3 branch) does: eslint's and typescript-eslint's
// recommended rules, and dprint's TypeScript formatter run as the `@effect/dprint` rule, so
// `eslint --fix` formats too. The formatter is a wasm module from npm (@dprint/typescript, a
// dependency of @effect/eslint-plugin): nothing is downloaded at run time.
import * as effectEslint from "@effect/eslint-plugin"
import js from "@eslint/js"
import globals from "globals"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import tseslint from "typescript-eslint"

// Portable modules: logic that needs no Effect (OTEL_* parsing, names, redaction, OTLP
// encoding, SQL text analysis, pgoutput decoding, the trace view's store and HTML), kept apart
// from the Effect glue so a line for another Effect major can share these files unchanged.
// A portable module imports only: other portable modules (types from any module of ours),
// node: builtins, @opentelemetry/* and the Effect-free packages below. List a new one here
// (docs/ADDING-A-SURFACE.md, "Portable modules"); the rules further down enforce the imports.
const portableModules = [
  "packages/core/src/Attributes.ts",
  "packages/core/src/Redaction.ts",
  "packages/core/src/Semconv.ts",
  "packages/core/src/internal/attributes.ts",
  "packages/core/src/internal/diagnostics.ts",
  "packages/core/src/internal/env.ts",
  "packages/core/src/internal/export.ts",
  "packages/core/src/internal/grpcTransport.ts",
  "packages/core/src/internal/otlpTraceEncoder.ts",
  "packages/cdc/src/internal/confirmation.ts",
  "packages/cdc/src/internal/lsn.ts",
  "packages/cdc/src/internal/pgoutput.ts",
  "packages/cdc/src/internal/semconv.ts",
  "packages/cdc/src/internal/sqlstate.ts",
  "packages/kv/src/internal/semconv.ts",
  "packages/sql/src/internal/query.ts",
  "packages/traceview/src/internal/html.ts",
  "packages/traceview/src/internal/store.ts",
  "packages/traceview/src/internal/template.ts"
]

// Packages a portable module may import besides node: and @opentelemetry/*: none of them
// loads Effect (@grpc/grpc-js is core's optional peer, loaded on demand for OTLP/gRPC;
// pg-logical-replication parses pgoutput for cdc).
const portablePackages = ["@grpc/grpc-js", "pg-logical-replication"]

const root = Path.dirname(fileURLToPath(import.meta.url))

// The few glob forms the list uses: `*` within one path segment, `**` across segments.
const globToRegExp = (glob) =>
  new RegExp(
    "^" +
      glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*\*\/|\*/g, (m) => (m === "*" ? "[^/]*" : "(?:.*/)?")) +
      "$"
  )
const portableRegExps = portableModules.map(globToRegExp)
const isPortable = (file) => {
  const relative = Path.relative(root, file).split(Path.sep).join("/")
  return portableRegExps.some((re) => re.test(relative))
}

// The module a specifier names: a relative one resolved from the importing file (`.js` is the
// `.ts` source), `@effect-telemetry/<pkg>/<Module>` the package's public module; undefined for
// any other package.
const sourceFileOf = (specifier, importer) => {
  if (specifier.startsWith(".")) {
    return Path.resolve(Path.dirname(importer), specifier).replace(/\.js$/, ".ts")
  }
  const ours = /^@effect-telemetry\/([^/]+)(?:\/(.+))?$/.exec(specifier)
  if (ours) return Path.join(root, "packages", ours[1], "src", `${ours[2] ?? "index"}.ts`)
  return undefined
}

const restricted = /^(?:effect(?:\/.*)?|@effect\/.*|@effect-telemetry\/[^/]+)$/

const isTypeOnly = (node) =>
  node.importKind === "type" ||
  node.exportKind === "type" ||
  (node.type === "ImportDeclaration" &&
    node.specifiers.length > 0 &&
    node.specifiers.every((s) => s.importKind === "type"))

// no-restricted-imports names packages; this rule also follows our own modules (relative and
// `@effect-telemetry/<pkg>/<Module>`) and dynamic `import()`.
const portableImports = {
  meta: {
    type: "problem",
    docs: { description: "A portable module imports only portable modules, node:, @opentelemetry/*" },
    schema: []
  },
  create(context) {
    const check = (node, source, typeOnly) => {
      if (source === null || source.type !== "Literal" || typeof source.value !== "string") return
      const specifier = source.value
      if (specifier.startsWith("node:") || specifier.startsWith("@opentelemetry/")) return
      // no-restricted-imports already reports a static import of these, with its message.
      if (node.type !== "ImportExpression" && restricted.test(specifier)) return
      const file = sourceFileOf(specifier, context.filename)
      if (file === undefined) {
        if (portablePackages.includes(specifier)) return
        context.report({
          node: source,
          message: `A portable module imports no package but node:, @opentelemetry/* and ${
            portablePackages.join(", ")
          }: "${specifier}" (list Effect-free ones in eslint.config.mjs)`
        })
        return
      }
      // A type import leaves nothing at run time; our own types are shared by either line.
      if (typeOnly && specifier.startsWith(".")) return
      if (!isPortable(file)) {
        context.report({
          node: source,
          message: `A portable module imports only portable modules: "${specifier}" is Effect glue ` +
            `(portableModules in eslint.config.mjs)`
        })
      }
    }
    return {
      ImportDeclaration: (node) => check(node, node.source, isTypeOnly(node)),
      ExportNamedDeclaration: (node) => check(node, node.source ?? null, isTypeOnly(node)),
      ExportAllDeclaration: (node) => check(node, node.source, isTypeOnly(node)),
      ImportExpression: (node) => check(node, node.source, false)
    }
  }
}

export default tseslint.config(
  {
    ignores: [
      "**/node_modules/",
      "**/dist/",
      "**/build/",
      "**/coverage/",
      "**/.tmp/",
      "bench/.scratch/",
      "bench/.profiles/",
      "**/*.md"
    ]
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...effectEslint.configs.dprint,
  {
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: { ...globals.node }
    },
    linterOptions: {
      reportUnusedDisableDirectives: "error"
    },
    rules: {
      // Effect's settings (eslint.config.mjs of Effect-TS/effect, v3).
      "no-fallthrough": "off",
      "no-irregular-whitespace": "off",
      "object-shorthand": "error",
      "prefer-destructuring": "off",
      "sort-imports": "off",
      // Effect forbids `array.push(...items)` (a huge spread overflows the stack); here every
      // such call spreads a small, bounded list (a span's links, configuration rejects, test ids).
      "no-restricted-syntax": "off",
      // Effect uses eslint-plugin-import's no-duplicates; eslint's own rule covers it here.
      "no-duplicate-imports": ["error", { allowSeparateTypeImports: true }],
      "no-unused-vars": "off",
      "require-yield": "off",
      "prefer-rest-params": "off",
      "prefer-spread": "off",
      "@typescript-eslint/array-type": ["warn", { default: "generic", readonly: "generic" }],
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-empty-object-type": "off",
      "@typescript-eslint/no-unsafe-function-type": "off",
      "@typescript-eslint/no-wrapper-object-types": "off",
      "@typescript-eslint/consistent-type-imports": "warn",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/ban-ts-comment": "off",
      "@typescript-eslint/no-array-constructor": "off",
      "@typescript-eslint/no-use-before-define": "off",
      "@typescript-eslint/no-namespace": "off",
      "@effect/dprint": [
        "error",
        {
          config: {
            indentWidth: 2,
            lineWidth: 120,
            semiColons: "asi",
            quoteStyle: "alwaysDouble",
            trailingCommas: "never",
            operatorPosition: "maintain",
            "arrowFunction.useParentheses": "force"
          }
        }
      ]
    }
  },
  {
    // CommonJS files (bench/http/node-server.cjs) require().
    files: ["**/*.cjs"],
    languageOptions: { sourceType: "commonjs" },
    rules: { "@typescript-eslint/no-require-imports": "off" }
  },
  {
    // Effect's: library code imports modules, not a package's barrel.
    files: ["packages/*/src/**/*.ts"],
    rules: {
      "@effect/no-import-from-barrel-package": [
        "error",
        { packageNames: ["effect", "@effect/platform", "@effect/sql"] }
      ]
    }
  },
  {
    // Portable modules (the list above): no Effect, not even its types, and no package index
    // of ours (an index loads the Effect glue).
    files: portableModules,
    plugins: { portable: { rules: { imports: portableImports } } },
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["effect", "effect/*", "@effect/*"],
              message: "A portable module needs no Effect: keep this in the Effect glue (docs/ADDING-A-SURFACE.md)."
            },
            {
              regex: "^@effect-telemetry/[^/]+$",
              message: "A package index loads the Effect glue: import the portable module itself."
            }
          ]
        }
      ],
      "portable/imports": "error"
    }
  }
)
