/** Pure conversion between the journey graph document (docs/api.md, DESIGN.md) and React Flow's
 * nodes and edges. React Flow's `sourceHandle` is our `port`; every node is a `block` node. */
import type { Graph, GraphEdge, GraphNode } from '../api/types';
import type { BlockData, BlockEdge, BlockNode, GraphMeta } from './types';

export const DEFAULT_PORT = 'next';

export interface Canvas {
  nodes: BlockNode[];
  edges: BlockEdge[];
  meta: GraphMeta;
  /** Some nodes came without a position: the editor lays the graph out once after loading it. */
  needsLayout: boolean;
}

export function toCanvas(graph: Graph): Canvas {
  let needsLayout = false;
  const nodes = graph.nodes.map((node): BlockNode => {
    if (!node.position) needsLayout = true;
    return {
      id: node.id,
      type: 'block',
      position: { x: node.position?.x ?? 0, y: node.position?.y ?? 0 },
      data: {
        blockType: node.type,
        version: node.version ?? 1,
        label: node.label ?? null,
        config: node.config ?? {},
      },
    };
  });
  const edges = graph.edges.map(toFlowEdge);
  return {
    nodes,
    edges,
    meta: { schema_version: graph.schema_version ?? 1, settings: graph.settings ?? {} },
    needsLayout,
  };
}

export function toFlowEdge(edge: GraphEdge): BlockEdge {
  return {
    id: edge.id,
    source: edge.source,
    target: edge.target,
    sourceHandle: edge.port || DEFAULT_PORT,
    targetHandle: null,
  };
}

export function toGraph(nodes: readonly BlockNode[], edges: readonly BlockEdge[], meta: GraphMeta): Graph {
  return {
    schema_version: meta.schema_version,
    nodes: nodes.map(toGraphNode),
    edges: edges.map(
      (edge): GraphEdge => ({
        id: edge.id,
        source: edge.source,
        target: edge.target,
        port: edge.sourceHandle ?? DEFAULT_PORT,
      }),
    ),
    settings: meta.settings,
  };
}

function toGraphNode(node: BlockNode): GraphNode {
  const data: BlockData = node.data;
  const out: GraphNode = {
    id: node.id,
    type: data.blockType,
    version: data.version,
    config: data.config,
    position: { x: Math.round(node.position.x), y: Math.round(node.position.y) },
  };
  if (data.label) out.label = data.label;
  return out;
}

/** A node id that reads well in JSON pointers and e2e tests: `wait_duration_1`, `wait_duration_2`, … */
export function nextNodeId(blockType: string, taken: ReadonlySet<string>): string {
  const stem = blockType.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_+|_+$/g, '') || 'block';
  for (let n = 1; ; n += 1) {
    const id = `${stem}_${n}`;
    if (!taken.has(id)) return id;
  }
}

/** Edge ids follow from the source port, which leaves at most one edge (`e_<source>_<port>`). */
export function edgeId(source: string, port: string, taken: ReadonlySet<string>): string {
  const base = `e_${source}_${port}`;
  if (!taken.has(base)) return base;
  for (let n = 2; ; n += 1) if (!taken.has(`${base}_${n}`)) return `${base}_${n}`;
}
