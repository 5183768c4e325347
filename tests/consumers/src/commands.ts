/**
 * Runs the commands of the consumer tests (npm, pnpm, node, bundlers) as a user's shell would,
 * without the variables that pnpm, turbo and vitest set for this workspace.
 */
import { spawn } from "node:child_process";
import { delimiter, sep } from "node:path";

/** Output of a command that exited with an accepted code. */
export interface CommandOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Variables that would make a command in a temporary project act on this workspace: pnpm and npx
 * pass their settings as `npm_config_*` (for example `npm_config_local_prefix`, which points npm
 * at the workspace), and vitest sets `NODE_ENV=test`, which bundlers read.
 */
const WORKSPACE_VARIABLE = /^(npm_|pnpm_|vitest|turbo_|init_cwd$|node_env$|node_options$)/i;

/** Settings of the user's own npm that a fresh project should keep: registry, cache, TLS. */
const KEPT_NPM_SETTINGS = new Set(["npm_config_registry", "npm_config_cache", "npm_config_cafile", "npm_config_userconfig"]);

/** Returns the environment of a fresh shell: no workspace variables and no `node_modules/.bin` in PATH. */
export function userEnvironment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (WORKSPACE_VARIABLE.test(name) && !KEPT_NPM_SETTINGS.has(name.toLowerCase())) continue;
    env[name] = value;
  }

  const binFolder = `${sep}node_modules${sep}.bin`;
  env.PATH = (process.env.PATH ?? "")
    .split(delimiter)
    .filter((entry) => entry !== "" && !entry.endsWith(binFolder))
    .join(delimiter);
  return { ...env, ...extra };
}

/** Options of `runCommand`. */
export interface RunOptions {
  cwd: string;
  /** Milliseconds until the command is killed and the promise rejects. */
  timeout: number;
  env?: NodeJS.ProcessEnv;
  /** Exit codes that resolve the promise (default 0 only). */
  acceptedCodes?: readonly number[];
}

/**
 * Runs `command` with `args` (no shell) and resolves with its output once it exits with an
 * accepted code. Rejects with the command line, exit status and both outputs otherwise, so that a failed install
 * or build shows its own error in the test report.
 */
export function runCommand(command: string, args: readonly string[], options: RunOptions): Promise<CommandOutput> {
  const commandLine = [command, ...args].join(" ");
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? userEnvironment(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));

    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${commandLine} (in ${options.cwd}) timed out after ${options.timeout} ms.\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, options.timeout);

    child.on("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`${commandLine} (in ${options.cwd}) failed to start: ${error.message}`, { cause: error }));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code !== null && (options.acceptedCodes ?? [0]).includes(code)) {
        resolve({ code, stdout, stderr });
        return;
      }
      const status = signal === null ? `exit code ${String(code)}` : `signal ${signal}`;
      reject(new Error(`${commandLine} (in ${options.cwd}) failed with ${status}.\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    });
  });
}
