import type { NodeProblem } from './store';

/** Problems keyed by field path, for the form; whole-node problems under the empty path. */
export function problemsByPath(problems: readonly NodeProblem[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const problem of problems) out.set(problem.path, [...(out.get(problem.path) ?? []), problem.message]);
  return out;
}
