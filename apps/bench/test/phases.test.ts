import { describe, expect, it } from "vitest";
import { countLoopInstructions } from "../src/phases.js";

const TEXT = `(module
 (func $a/other (param $0 i32)
  loop $x
   nop
  end
 )
 (func $a/target (param $0 i32) (param $1 i32)
  local.get $0
  drop
  loop $for-loop|0
   local.get $0
   v128.load
   f32x4.splat
   if
    f32x4.add
    i32.const 1
   end
   br $for-loop|0
  end
  f64x2.add
 )
)`;

describe("countLoopInstructions", () => {
  it("counts the first loop of the named function", () => {
    expect(countLoopInstructions(TEXT, "a/target")).toEqual({ all: 6, simd: 3 });
  });

  it("returns null for a missing function", () => {
    expect(countLoopInstructions(TEXT, "a/missing")).toBeNull();
  });
});
