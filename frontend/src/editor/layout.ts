/** Auto-layout with dagre: top to bottom, each port's target placed in port order. */
import dagre from '@dagrejs/dagre';
import type { BlockEdge, BlockNode } from './types';

export const NODE_WIDTH = 240;
export const NODE_HEIGHT = 96;

export function autoLayout(nodes: readonly BlockNode[], edges: readonly BlockEdge[]): Map<string, { x: number; y: number }> {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'TB', nodesep: 48, ranksep: 72, marginx: 0, marginy: 0 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const node of nodes) {
    g.setNode(node.id, {
      width: node.measured?.width ?? NODE_WIDTH,
      height: node.measured?.height ?? NODE_HEIGHT,
    });
  }
  const ids = new Set(nodes.map((node) => node.id));
  for (const edge of edges) {
    if (ids.has(edge.source) && ids.has(edge.target)) g.setEdge(edge.source, edge.target);
  }
  dagre.layout(g);
  const positions = new Map<string, { x: number; y: number }>();
  for (const node of nodes) {
    const laid = g.node(node.id);
    const width = node.measured?.width ?? NODE_WIDTH;
    const height = node.measured?.height ?? NODE_HEIGHT;
    // dagre gives centres; React Flow positions are top-left corners.
    positions.set(node.id, { x: Math.round(laid.x - width / 2), y: Math.round(laid.y - height / 2) });
  }
  return positions;
}

/** The first spot at or below `wanted` where a new block does not cover another one. */
export function freeSpot(nodes: readonly BlockNode[], wanted: { x: number; y: number }): { x: number; y: number } {
  const step = NODE_HEIGHT + 40;
  const covers = (y: number) =>
    nodes.some((n) => Math.abs(n.position.x - wanted.x) < NODE_WIDTH && Math.abs(n.position.y - y) < (n.measured?.height ?? NODE_HEIGHT));
  let y = wanted.y;
  while (covers(y)) y += step;
  return { x: wanted.x, y };
}

/** The nodes moved to their laid-out positions (unchanged objects for nodes dagre did not place). */
export function layoutNodes(nodes: readonly BlockNode[], edges: readonly BlockEdge[]): BlockNode[] {
  const positions = autoLayout(nodes, edges);
  return nodes.map((node) => {
    const position = positions.get(node.id);
    return position ? { ...node, position } : node;
  });
}
