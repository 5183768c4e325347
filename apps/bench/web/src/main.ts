/**
 * Entry of the demo page: checks what the browser supports, then sets up the benchmark form and
 * the real-data panel. Each part reports its own failure on the page.
 */
import { loadLogitKit } from "logitkit";
import "./style.css";
import { setUpBenchPanel } from "./bench-panel.js";
import { fetchRealData } from "./fetch-data.js";
import { setUpRealPanel } from "./real-panel.js";
import { checkSupport, showSupport } from "./support.js";
import { errorMessage } from "../../src/error-message.js";
import { byId } from "./dom.js";

async function start(): Promise<void> {
  const support = await checkSupport();
  showSupport(byId("support"), byId("support-note"), support);
  setUpBenchPanel(support);

  const status = byId("real-status");
  try {
    const [kit, data] = await Promise.all([loadLogitKit(), fetchRealData()]);
    setUpRealPanel(kit, data);
    status.textContent = `Loaded ${data.rows} rows of ${data.classes} logits per model (${kit.backend} backend).`;
  } catch (error) {
    status.textContent = `The real logits could not be shown: ${errorMessage(error)}`;
    status.className = "error";
  }

  // The end-to-end test waits for this attribute before it reads the page.
  document.body.dataset.ready = "true";
}

start().catch((error: unknown) => {
  byId("support-note").textContent = `The page failed to start: ${errorMessage(error)}`;
  document.body.dataset.ready = "error";
});
