/** Output ports of a block on the canvas. Static ports come from the block type; for `dynamic_ports`
 * blocks they come from the config: the names in the first array of named items (`split.random`:
 * one port per `branches[].name`). A block type may name the array explicitly with `ports_from`
 * (proposed in frontend/API_NEEDS.md), and list fixed ports that follow them with `ports_after`
 * (`split.rules`: its branches, then `else`). */
import type { BlockType } from '../api/types';
import type { BlockEdge } from './types';

export type PortSpec = Pick<BlockType, 'ports' | 'dynamic_ports'> & {
  ports_from?: string | null;
  ports_after?: string[];
};

export function outputPorts(spec: PortSpec | undefined, config: Record<string, unknown>): string[] {
  if (!spec) return [];
  if (!spec.dynamic_ports) return spec.ports;
  const field = spec.ports_from ?? Object.keys(config).find((key) => namedItems(config[key]) !== null);
  const names = field === undefined || field === null ? null : namedItems(config[field]);
  return names ? [...names, ...(spec.ports_after ?? [])] : spec.ports;
}

function namedItems(value: unknown): string[] | null {
  if (!Array.isArray(value) || value.length === 0) return null;
  const names = value.map((item) =>
    item !== null && typeof item === 'object' && typeof (item as { name?: unknown }).name === 'string'
      ? (item as { name: string }).name
      : null,
  );
  return names.every((name): name is string => name !== null) ? names : null;
}

/**
 * Keep a node's edges attached when its ports change: a port renamed in place (same position in the
 * list) carries its edge along; an edge on a port that no longer exists is removed.
 */
export function reconcileEdges(
  edges: readonly BlockEdge[],
  nodeId: string,
  before: readonly string[],
  after: readonly string[],
): BlockEdge[] {
  const kept = new Set(after);
  const renamed = new Map<string, string>();
  if (before.length === after.length) {
    before.forEach((port, i) => {
      const next = after[i];
      if (next !== undefined && next !== port && !before.includes(next)) renamed.set(port, next);
    });
  }
  const out: BlockEdge[] = [];
  for (const edge of edges) {
    if (edge.source !== nodeId) {
      out.push(edge);
      continue;
    }
    const port = edge.sourceHandle ?? '';
    const rename = renamed.get(port);
    if (rename !== undefined) out.push({ ...edge, sourceHandle: rename });
    else if (kept.has(port)) out.push(edge);
  }
  return out;
}
