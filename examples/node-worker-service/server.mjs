/**
 * HTTP service that scores token logits: `POST /score` with `{ classes, logits, tokens? }`
 * returns the entropy per row and, with tokens, the negative log-likelihood per token and the
 * perplexity. It listens on 127.0.0.1 at the port in PORT (default 0, a free port) and prints
 * the address once it listens. SIGINT or SIGTERM stops it.
 */
import { createServer } from "node:http";
import { loadLogitKitWorker } from "logitkit";
import { MAX_BODY_BYTES, parseScoreRequest, RequestError, score } from "./scoring.mjs";

const port = Number(process.env.PORT ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`invalid PORT ${JSON.stringify(process.env.PORT)}: set it to an integer in [0, 65535]`);
  process.exit(2);
}

const kit = await loadLogitKitWorker();

/** Reads the request body as text, or rejects with a RequestError past MAX_BODY_BYTES. */
async function readBody(request) {
  const chunks = [];
  let bytes = 0;
  for await (const chunk of request) {
    bytes += chunk.length;
    if (bytes > MAX_BODY_BYTES) throw new RequestError(`the body exceeds ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function sendJson(response, status, value) {
  response.writeHead(status, { "Content-Type": "application/json" }).end(`${JSON.stringify(value)}\n`);
}

/** Sends a 400 reply with the error's message and logs it, since the error is not raised further. */
function sendInvalid(request, response, error) {
  console.warn(`${request.method} ${request.url} from ${request.socket.remoteAddress}: invalid request: ${error.message}`);
  sendJson(response, 400, { error: `invalid request: ${error.message}` });
}

async function handle(request, response) {
  if (request.url !== "/score") {
    sendJson(response, 404, { error: `not found: ${request.url}; the service has POST /score` });
    return;
  }
  if (request.method !== "POST") {
    sendJson(response, 405, { error: `method ${request.method} not allowed on /score; use POST` });
    return;
  }

  let parsed;
  try {
    const text = await readBody(request);
    parsed = parseScoreRequest(JSON.parse(text));
  } catch (error) {
    // JSON.parse throws a SyntaxError, and the checks a RequestError: both are the client's fault.
    if (error instanceof RequestError || error instanceof SyntaxError) {
      sendInvalid(request, response, error);
      return;
    }
    throw error;
  }

  try {
    sendJson(response, 200, await score(kit, parsed));
  } catch (error) {
    // logitkit rejects invalid values (a token out of range, a NaN) with these types.
    if (error instanceof TypeError || error instanceof RangeError) {
      sendInvalid(request, response, error);
      return;
    }
    throw error;
  }
}

const server = createServer((request, response) => {
  handle(request, response).catch((error) => {
    console.error(`${request.method} ${request.url} failed:`, error);
    if (!response.headersSent) sendJson(response, 500, { error: "internal error; see the server log" });
  });
});

server.listen(port, "127.0.0.1", () => {
  const { port: actualPort } = server.address();
  console.log(`scoring service listening on http://127.0.0.1:${actualPort}/score (logitkit backend ${kit.backend})`);
});

function stop(signal) {
  console.log(`received ${signal}, stopping`);
  server.close(() => {
    kit.dispose().then(() => console.log("scoring service stopped"));
  });
}
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
