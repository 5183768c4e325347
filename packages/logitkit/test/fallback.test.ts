import { afterEach, describe, expect, it, vi } from "vitest";

// Each test imports the library afresh, because the compiled module is cached per realm.
async function freshLoad() {
  vi.resetModules();
  return (await import("../src/index.js")).loadLogitKit;
}

describe("backend choice without WebAssembly SIMD", () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllGlobals();
  });

  it("falls back to js when compiling fails, as under a strict CSP", async () => {
    vi.spyOn(WebAssembly, "compile").mockRejectedValue(
      new WebAssembly.CompileError("Wasm code generation disallowed by embedder"),
    );
    const loadLogitKit = await freshLoad();

    const kit = await loadLogitKit();
    expect(kit.backend).toBe("js");
    expect(kit.fallbackReason).toContain("Wasm code generation disallowed by embedder");
    expect(kit.logSumExp(new Float32Array([0, 0]), { classes: 2 })[0]).toBeCloseTo(Math.LN2, 6);

    await expect(loadLogitKit({ backend: "wasm" })).rejects.toThrow("the wasm backend is not available here");
  });

  it("falls back to js when WebAssembly is missing", async () => {
    vi.stubGlobal("WebAssembly", undefined);
    const loadLogitKit = await freshLoad();

    const kit = await loadLogitKit({ backend: "auto" });
    expect(kit.backend).toBe("js");
    expect(kit.fallbackReason).toContain("WebAssembly is not defined");
  });

  it("retries compiling after a failure", async () => {
    const spy = vi.spyOn(WebAssembly, "compile").mockRejectedValueOnce(new Error("transient"));
    const loadLogitKit = await freshLoad();

    expect((await loadLogitKit()).backend).toBe("js");
    expect((await loadLogitKit()).backend).toBe("wasm");
    expect(spy).toHaveBeenCalledTimes(2);
  });
});
