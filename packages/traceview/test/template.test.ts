/**
 * The one escaping template the pages are built with: interpolations are escaped unless they
 * are markup the template built or a fragment marked raw.
 */
import { describe, expect, it } from "@effect/vitest"
import { concat, html, raw } from "../src/internal/template.js"

describe("html template", () => {
  const hostile = `<script>alert("x")</script> & 'q'`

  it("escapes text in element content and attribute values", () => {
    expect(html`<p title="${hostile}">${hostile}</p>`.value).toBe(
      `<p title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;">` +
        `&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;</p>`
    )
  })

  it("keeps nested templates and raw fragments, escapes each item of a list, renders nothing for false and undefined", () => {
    const items = [hostile, html`<b>${hostile}</b>`]
    expect(html`<ul>${items}</ul>${false}${undefined}${null}${raw("<hr>")}${3}`.value).toBe(
      `<ul>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;` +
        `<b>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;</b></ul><hr>3`
    )
  })

  it("a page built in parts escapes data once, never twice", () => {
    const page = concat(html`<h1>${"a & b"}</h1>`, "<i>", html`<p>${"c"}</p>`)
    expect(page.value).toBe(`<h1>a &amp; b</h1>&lt;i&gt;<p>c</p>`)
  })
})
