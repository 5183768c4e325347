/**
 * Response headers of the demo page. COOP and COEP make the page cross-origin isolated, which
 * browsers require before they expose SharedArrayBuffer to the worker threads.
 */

/** Content-Security-Policy of the page: scripts only from the page's origin, WebAssembly allowed. */
export function contentSecurityPolicy(allowWasm: boolean): string {
  return [
    "default-src 'self'",
    // 'wasm-unsafe-eval' allows WebAssembly compilation and nothing else of eval.
    `script-src 'self'${allowWasm ? " 'wasm-unsafe-eval'" : ""}`,
    // The library starts its worker threads from blob: URLs, which 'self' does not match.
    "worker-src 'self' blob:",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** Headers sent with every response of the demo server and of `vite dev` / `vite preview`. */
export function demoHeaders(allowWasm = true): Record<string, string> {
  return {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Content-Security-Policy": contentSecurityPolicy(allowWasm),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
  };
}
