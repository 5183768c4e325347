/**
 * Compile-time checks of the public signatures, run by `pnpm typecheck` (tsc), not by vitest:
 * each `@ts-expect-error` line must fail to compile, and every other line must compile.
 */
import type { LogitKit, LogitKitWorker, UploadedLogits } from "../src/index.js";

export function checkResultTypes(kit: LogitKit, z: Float32Array, labels: Int32Array): void {
  const reduced: number = kit.crossEntropy(z, labels, { classes: 3 });
  const perRow: Float32Array = kit.crossEntropy(z, labels, { classes: 3, reduction: "none" });
  const summed: number = kit.klDivergence(z, z, { classes: 3, reduction: "sum" });
  const entropyRows: Float32Array = kit.entropy(z, { classes: 3, reduction: "none" });
  const fused: { loss: Float32Array; grad: Float32Array } = kit.crossEntropyWithGrad(z, [0, 1], {
    classes: 3,
    reduction: "none",
    gradOutput: [1, 2],
  });
  const distilled: number = kit.distillationLoss(z, z, { classes: 3, labels: [0, 1], alpha: 0.3 });
  const topK: number = kit.topKDistillationLoss(z, [0, 2], z, { classes: 3, tail: "bucket" });
  const topKRows: { loss: Float32Array; grad: Float32Array } = kit.topKDistillationLossWithGrad(z, labels, z, {
    classes: 3,
    reduction: "none",
    gradOutput: [1, 2],
  });

  // @ts-expect-error: top-k distillation means over the rows that count and has no batchmean.
  kit.topKDistillationLoss(z, [0, 2], z, { classes: 3, reduction: "batchmean" });

  // @ts-expect-error: "probs" is not a kind of teacher values.
  kit.topKDistillationLoss(z, [0, 2], z, { classes: 3, values: "probs" });

  const either: "none" | "sum" = Math.random() < 0.5 ? "none" : "sum";
  const mixed: number | Float32Array = kit.klDivergence(z, z, { classes: 3, reduction: either });
  // @ts-expect-error: with a reduction that may be "none", the result may be a Float32Array.
  const notOnlyNumber: number = kit.klDivergence(z, z, { classes: 3, reduction: either });

  // @ts-expect-error: a reduced loss is a number, not one value per row.
  const wrong: Float32Array = kit.crossEntropy(z, labels, { classes: 3 });

  // @ts-expect-error: "avg" is not a reduction.
  kit.crossEntropy(z, labels, { classes: 3, reduction: "avg" });

  // @ts-expect-error: classes is required.
  kit.softmax(z, { temperature: 2 });

  // @ts-expect-error: gradOutput belongs to the ...WithGrad functions.
  kit.klDivergence(z, z, { classes: 3, gradOutput: [1] });

  // A handle as out or gradOut is returned as the handle, typed as one.
  const handle = kit.alloc(z.length, { classes: 3 });
  const resident: UploadedLogits = kit.softmax(z, { classes: 3, out: handle });
  const copied: Float32Array = kit.softmax(handle, { classes: 3 });
  const residentGrad: { loss: number; grad: UploadedLogits } = kit.crossEntropyWithGrad(handle, labels, {
    classes: 3,
    gradOut: handle,
  });
  const entropyOfHandle: number = kit.entropy(handle, { classes: 3 });

  // @ts-expect-error: softmax into a handle returns the handle, not an array.
  const notArray: Float32Array = kit.softmax(z, { classes: 3, out: handle });

  // @ts-expect-error: gradOut belongs to the ...WithGrad functions.
  kit.crossEntropy(z, labels, { classes: 3, gradOut: handle });

  void [reduced, perRow, summed, entropyRows, fused, distilled, topK, topKRows, wrong, mixed, notOnlyNumber];
  void [resident, copied, residentGrad, entropyOfHandle, notArray];
}

export async function checkWorkerResultTypes(remote: LogitKitWorker, z: Float32Array, labels: Int32Array): Promise<void> {
  const reduced: number = await remote.crossEntropy(z, labels, { classes: 3 });
  const perRow: Float32Array = await remote.klDivergence(z, z, { classes: 3, reduction: "none" });
  const fused: { loss: number; grad: Float32Array } = await remote.distillationLossWithGrad(z, z, { classes: 3 });
  const topKRows: Float32Array = await remote.topKDistillationLoss(z, labels, z, { classes: 3, reduction: "none" });

  // @ts-expect-error: results arrive as new arrays, so there is no out option.
  await remote.softmax(z, { classes: 3, out: z });

  // @ts-expect-error: the worker cannot read handles of a LogitKit.
  await remote.softmax({} as UploadedLogits, { classes: 3 });

  void [reduced, perRow, fused, topKRows];
}

export function checkVocabTypes(kit: LogitKit, z: Float32Array): void {
  const acc = kit.vocabAccumulator({ rows: 2, classes: 8, labels: [0, 1] });
  acc.add(z, { offset: 0, teacher: z });
  const lse: Float32Array = acc.logSumExp();
  const perRow: Float32Array = acc.klDivergence({ reduction: "none" });
  const mean: number = acc.crossEntropy();

  // @ts-expect-error: offset is required.
  acc.add(z, {});

  void [lse, perRow, mean];
}

export function checkHalfLogitsTypes(kit: LogitKit, remote: LogitKitWorker, bits: Uint16Array, z: Float32Array): void {
  const probs: Float32Array = kit.softmax(bits, { classes: 3, dtype: "bf16" });
  const mixed: number = kit.klDivergence(bits, z, { classes: 3, dtype: "f16" });
  const handle: UploadedLogits = kit.upload(bits, { classes: 3, dtype: "bf16" });
  kit.vocabAccumulator({ rows: 1, classes: 3 }).add(bits, { offset: 0, teacher: bits, dtype: "bf16" });
  void remote.crossEntropyWithGrad(bits, [0], { classes: 3, dtype: "bf16" });

  // @ts-expect-error: "fp16" is not a dtype.
  kit.softmax(bits, { classes: 3, dtype: "fp16" });

  // @ts-expect-error: probabilities are float32 only, so entropy has no dtype.
  kit.entropy(z, { classes: 3, dtype: "bf16" });

  // @ts-expect-error: alloc reserves float32 and has no dtype.
  kit.alloc(3, { classes: 3, dtype: "bf16" });

  void [probs, mixed, handle];
}
