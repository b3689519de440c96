import type { NodeProblem } from './store';

/** Problems keyed by field path, for the form; whole-node problems under the empty path. `text` words
 * each one in the user's language (see problemText). */
export function problemsByPath(problems: readonly NodeProblem[], text: (problem: NodeProblem) => string = (p) => p.message): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const problem of problems) {
    const message = text(problem);
    const known = out.get(problem.path) ?? [];
    if (!known.includes(message)) out.set(problem.path, [...known, message]);
  }
  return out;
}
