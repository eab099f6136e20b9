// Functions short enough to read at once: none in src/ over 80 lines (lines over 120 characters are
// ESLint's max-len). A scan with the TypeScript compiler's own parser, so nested and arrow functions count.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const MAX_LINES = 80;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(ts|js)$/.test(entry.name) ? [path] : [];
  });
}

/** Every function-like node longer than `max` lines, as "file:line name (n lines)". */
function longFunctions(path: string, text: string, max: number): string[] {
  const file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const first = file.getLineAndCharacterOfPosition(node.getStart()).line;
      const lines = file.getLineAndCharacterOfPosition(node.getEnd()).line - first + 1;
      const name = node.name?.getText(file) ?? '(anonymous)';
      if (lines > max) found.push(`${path}:${first + 1} ${name} (${lines} lines)`);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

describe('source size', () => {
  it('finds a long function when there is one (the scan can fail)', () => {
    const body = Array.from({ length: 81 }, (_, i) => `  const v${i} = ${i};`).join('\n');
    expect(longFunctions('x.ts', `function long() {\n${body}\n}\nconst short = () => 1;`, MAX_LINES))
      .toEqual(['x.ts:1 long (83 lines)']);
  });

  it(`has no function in src/ over ${MAX_LINES} lines`, () => {
    const long = sourceFiles(SRC).flatMap((path) => longFunctions(path, readFileSync(path, 'utf8'), MAX_LINES));
    expect(long).toEqual([]);
  });
});
