/**
 * Extracts the code examples of the documentation and runs them: the `@example` blocks of the
 * public API's JSDoc and the ```js blocks of the guides in docs/guides/.
 *
 * An example may end a line with `console.log(EXPR); // EXPECTED`, where EXPECTED is a JavaScript
 * literal (a number, an array of numbers, a string, `true`, `NaN`, `undefined`). The runner
 * replaces that line with a check: every number must match to within half a unit of its last
 * printed digit, and other values must be equal. A `console.log` without a comment prints
 * nothing and checks nothing.
 */
import { readFileSync } from "node:fs";
import ts from "typescript";

/** One code block of the documentation. */
export interface DocExample {
  /** File that contains the block, relative to the repository root. */
  file: string;
  /** Line of the block's first code line in that file, from 1. */
  line: number;
  /** Documented declaration (`LogitKit.softmax`), or the guide's file name. */
  owner: string;
  /** The code, without the comment margin and the fences. */
  code: string;
}

/** Documentation of one declaration of the public API. */
export interface DocComment {
  owner: string;
  file: string;
  line: number;
  /** Comment text without `/**`, `*\/` and the ` * ` margin. */
  text: string;
}

const FENCE_OPEN = /^```(\S*)(.*)$/;

/** Removes the comment delimiters and the ` * ` margin of a JSDoc comment. */
function commentText(raw: string): string {
  return raw
    .replace(/^\/\*\*/, "")
    .replace(/\*\/$/, "")
    .split("\n")
    .map((line) => line.replace(/^\s*\* ?/, "").replace(/^\s+$/, ""))
    .join("\n");
}

/**
 * Collects the JSDoc comments of the members of the named interfaces and of the named exported
 * functions in one TypeScript file, parsed with the TypeScript compiler.
 */
export function collectComments(path: string, file: string, owners: readonly string[]): DocComment[] {
  const text = readFileSync(path, "utf8");
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.ES2022, true);
  const comments: DocComment[] = [];

  const add = (owner: string, node: ts.Node) => {
    for (const doc of ts.getJSDocCommentsAndTags(node)) {
      if (!ts.isJSDoc(doc)) continue;
      const start = doc.getStart(source);
      const line = source.getLineAndCharacterOfPosition(start).line + 1;
      comments.push({ owner, file, line, text: commentText(text.slice(start, doc.end)) });
    }
  };

  for (const statement of source.statements) {
    if (ts.isInterfaceDeclaration(statement) && owners.includes(statement.name.text)) {
      for (const member of statement.members) {
        if (ts.isMethodSignature(member) && member.name !== undefined) {
          add(`${statement.name.text}.${member.name.getText(source)}`, member);
        }
      }
    }
    if (ts.isFunctionDeclaration(statement) && statement.name !== undefined && owners.includes(statement.name.text)) {
      add(statement.name.text, statement);
    }
  }
  return comments;
}

/** Returns the names of the methods of an interface in a TypeScript file. */
export function interfaceMethods(path: string, name: string): string[] {
  const source = ts.createSourceFile(path, readFileSync(path, "utf8"), ts.ScriptTarget.ES2022, true);
  const methods = new Set<string>();
  for (const statement of source.statements) {
    if (ts.isInterfaceDeclaration(statement) && statement.name.text === name) {
      for (const member of statement.members) {
        if (ts.isMethodSignature(member)) methods.add(`${name}.${member.name.getText(source)}`);
      }
    }
  }
  return [...methods];
}

/**
 * Returns the fenced blocks of Markdown text, with the line of their first code line. An unclosed
 * fence throws, so that a broken block cannot hide the blocks after it.
 */
export function fencedBlocks(text: string, firstLine: number, where: string): Array<{ info: string; line: number; code: string }> {
  const blocks: Array<{ info: string; line: number; code: string }> = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE_OPEN.exec(lines[i].trim());
    if (open === null) continue;

    const close = lines.findIndex((line, j) => j > i && line.trim() === "```");
    if (close < 0) throw new Error(`${where}: the code block that opens at line ${firstLine + i} is not closed.`);
    blocks.push({
      info: (open[1] + open[2]).trim(),
      line: firstLine + i + 1,
      code: lines.slice(i + 1, close).join("\n"),
    });
    i = close;
  }
  return blocks;
}

/**
 * Returns the code of each `@example` of the comments. Each `@example` must hold one ```js block,
 * and `@example` must not appear inside a block.
 */
export function jsdocExamples(comments: readonly DocComment[]): DocExample[] {
  const examples: DocExample[] = [];
  for (const comment of comments) {
    const sections = comment.text.split(/^@example\b/m);
    let line = comment.line + sections[0].split("\n").length - 1;
    for (const section of sections.slice(1)) {
      // The section ends at the next block tag that starts a line outside a code block.
      const end = section.search(/^@\w+/m);
      const body = end < 0 ? section : section.slice(0, end);
      const blocks = fencedBlocks(body, line, `${comment.file} (${comment.owner})`);
      if (blocks.length !== 1 || blocks[0].info !== "js") {
        throw new Error(
          `${comment.file}:${line} (${comment.owner}): an @example must contain exactly one \`\`\`js block, found ${blocks.length}.`,
        );
      }
      examples.push({ file: comment.file, line: blocks[0].line, owner: comment.owner, code: blocks[0].code });
      line += section.split("\n").length - 1;
    }
  }
  return examples;
}

/**
 * Returns the ```js blocks of a guide. A block whose fence reads ```js no-run is shown code that
 * cannot run here (it needs a page's DOM, for example) and is skipped. Blocks of other
 * languages are skipped too.
 */
export function guideExamples(path: string, file: string): { runnable: DocExample[]; skipped: number } {
  const blocks = fencedBlocks(readFileSync(path, "utf8"), 1, file);
  const runnable: DocExample[] = [];
  let skipped = 0;
  for (const block of blocks) {
    if (block.info === "js") runnable.push({ file, line: block.line, owner: file, code: block.code });
    else if (block.info.startsWith("js")) {
      if (block.info !== "js no-run") throw new Error(`${file}:${block.line - 1}: unknown code block info "${block.info}".`);
      skipped++;
    }
  }
  return { runnable, skipped };
}

const IMPORT = /^import\s+(\{[^}]*\})\s+from\s+"([^"]+)";\s*$/;
const CHECKED_LOG = /^(\s*)console\.log\((.*)\);\s*\/\/\s*(.+)$/;

/**
 * Turns example code into the body of an async function: `import { a } from "m";` becomes a
 * destructuring of `await __import("m")`, and `console.log(x); // VALUE` becomes
 * `__check(line, x, "VALUE")`.
 */
export function instrument(example: DocExample): string {
  return example.code
    .split("\n")
    .map((text, i) => {
      const line = example.line + i;
      const imported = IMPORT.exec(text.trim());
      if (imported !== null) {
        return `const ${imported[1].replace(/\s+as\s+/g, ": ")} = await __import(${JSON.stringify(imported[2])});`;
      }
      if (/^\s*import\s/.test(text)) throw new Error(`${example.file}:${line}: unsupported import form: ${text.trim()}`);

      const logged = CHECKED_LOG.exec(text);
      if (logged !== null) {
        return `${logged[1]}__check(${line}, (${logged[2]}), ${JSON.stringify(logged[3].trim())});`;
      }
      return text;
    })
    .join("\n");
}

const NUMBER_TOKEN = /-?Infinity|NaN|-?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?/gi;

/** Returns half a unit of the last digit of a number as printed, the tolerance of a check. */
function halfUnit(token: string): number {
  const match = /^-?(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$/i.exec(token);
  if (match === null) return 0;
  const decimals = match[2]?.length ?? 0;
  const exponent = Number(match[3] ?? 0);
  return 0.5 * 10 ** (exponent - decimals);
}

/** Flattens a number, a typed array or nested arrays of numbers; undefined for other values. */
function numbersOf(value: unknown): number[] | undefined {
  if (typeof value === "number") return [value];
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return Array.from(value as unknown as ArrayLike<number>);
  if (Array.isArray(value)) {
    const flat: number[] = [];
    for (const item of value) {
      const numbers = numbersOf(item);
      if (numbers === undefined) return undefined;
      flat.push(...numbers);
    }
    return flat;
  }
  return undefined;
}

/**
 * Compares a logged value with the literal of its comment. Returns an explanation of the
 * mismatch, or undefined when they match.
 */
export function compareLogged(actual: unknown, expectedText: string): string | undefined {
  let expected: unknown;
  try {
    expected = new Function(`return (${expectedText});`)();
  } catch (error) {
    return `the comment "${expectedText}" is not a JavaScript literal (${(error as Error).message})`;
  }

  const actualNumbers = numbersOf(actual);
  const expectedNumbers = numbersOf(expected);
  if (actualNumbers !== undefined && expectedNumbers !== undefined) {
    const tokens = expectedText.match(NUMBER_TOKEN) ?? [];
    if (tokens.length !== expectedNumbers.length || actualNumbers.length !== expectedNumbers.length) {
      return `expected ${expectedNumbers.length} numbers (${expectedText}), got ${actualNumbers.length}: ${actualNumbers.join(", ")}`;
    }
    for (let i = 0; i < tokens.length; i++) {
      const want = expectedNumbers[i];
      const got = actualNumbers[i];
      const tolerance = halfUnit(tokens[i]) * (1 + 1e-9);
      const same = Number.isNaN(want) ? Number.isNaN(got) : want === got || Math.abs(got - want) <= tolerance;
      if (!same) return `number ${i} is ${got}, expected ${tokens[i]} (within ${halfUnit(tokens[i])})`;
    }
    return undefined;
  }

  if (JSON.stringify(actual) === JSON.stringify(expected) && typeof actual === typeof expected) return undefined;
  return `got ${String(actual)}, expected ${expectedText}`;
}

const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (
  ...args: string[]
) => (...values: unknown[]) => Promise<void>;

/** Values that the examples may use without declaring them. */
export interface ExampleScope {
  [name: string]: unknown;
}

/**
 * Runs examples in order in one function scope, so a guide's later blocks see the declarations
 * of its earlier ones. Each example can use the names of `scope`, and may declare one of them
 * again only when it runs alone (a JSDoc example). A failed check or a thrown error rejects with the
 * file and line of the example.
 */
export async function runExamples(
  examples: readonly DocExample[],
  scope: ExampleScope,
  importModule: (specifier: string) => Promise<unknown>,
): Promise<number> {
  let checks = 0;
  let current = examples[0];
  const check = (line: number, actual: unknown, expectedText: string) => {
    checks++;
    const mismatch = compareLogged(actual, expectedText);
    if (mismatch !== undefined) throw new Error(`${current.file}:${line} (${current.owner}): ${mismatch}`);
  };
  const enter = (index: number) => {
    current = examples[index];
  };

  // A lone example runs in a block of its own, where its declarations may shadow the scope's.
  const body =
    examples.length === 1
      ? `__enter(0);\n{\n${instrument(examples[0])}\n}`
      : examples.map((example, index) => `__enter(${index});\n${instrument(example)}`).join("\n");
  const names = Object.keys(scope);
  const run = new AsyncFunction("__check", "__enter", "__import", "console", ...names, body);
  const quiet = { ...console, log: () => {} };
  try {
    await run(check, enter, importModule, quiet, ...names.map((name) => scope[name]));
  } catch (error) {
    const message = (error as Error).message;
    if (message.startsWith(current.file)) throw error;
    throw new Error(`${current.file}:${current.line} (${current.owner}): ${(error as Error).name}: ${message}`, { cause: error });
  }
  return checks;
}
