/**
 * The scoring request of the service: a batch of next-token logits and, optionally, the tokens
 * that came next. The kit is a `LogitKitWorker`, so each call runs on its worker thread and the
 * server's event loop stays free for other requests.
 */

/**
 * Maximum request body size in bytes: 32 MiB. A float32 logit printed by JSON.stringify takes up
 * to about 20 bytes, so this is an estimated 1.6 million logits or more.
 */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;

/** Error of an invalid request; the server replies with status 400 and its message. */
export class RequestError extends Error {}

/**
 * Checks a parsed request body `{ classes, logits, tokens? }`: `logits` is a flat array of
 * rows x classes numbers, row-major, and `tokens` has one class index per row.
 */
export function parseScoreRequest(body) {
  if (body === null || typeof body !== "object") {
    throw new RequestError("the body must be a JSON object { classes, logits, tokens? }");
  }

  const { classes, logits, tokens } = body;
  if (!Number.isInteger(classes) || classes < 1) {
    throw new RequestError(`classes must be a positive integer, got ${JSON.stringify(classes)}`);
  }
  if (!Array.isArray(logits) || logits.length === 0 || logits.length % classes !== 0) {
    throw new RequestError(`logits must be a non-empty array of rows x classes numbers (classes = ${classes})`);
  }
  // JSON has no NaN or Infinity, and a number beyond the float32 range would become Infinity.
  if (!logits.every((value) => typeof value === "number" && Number.isFinite(Math.fround(value)))) {
    throw new RequestError("logits must contain only numbers within the float32 range (magnitude at most 3.4e38)");
  }

  // Every token is scored: logitkit's ignoreIndex (-100) would leave a row out of the perplexity.
  const rows = logits.length / classes;
  const isClass = (token) => Number.isInteger(token) && token >= 0 && token < classes;
  if (tokens !== undefined && (!Array.isArray(tokens) || tokens.length !== rows || !tokens.every(isClass))) {
    throw new RequestError(`tokens must be an array of ${rows} class indices in [0, ${classes}), one per row`);
  }
  return { classes, rows, logits: Float32Array.from(logits), tokens };
}

/**
 * Scores a checked request: the entropy of each row's next-token distribution in nats and, with
 * tokens, each token's negative log-likelihood and the batch's perplexity, exp(mean NLL).
 */
export async function score(kit, { classes, rows, logits, tokens }) {
  const entropy = await kit.entropyOfLogits(logits, { classes, reduction: "none" });
  const result = { rows, entropy: Array.from(entropy) };
  if (tokens === undefined) return result;

  const nll = await kit.crossEntropy(logits, tokens, { classes, reduction: "none" });
  const meanNll = nll.reduce((sum, value) => sum + value, 0) / rows;
  return { ...result, nll: Array.from(nll), perplexity: Math.exp(meanNll) };
}
