import type { Edge, Node } from '@xyflow/react';

/** What a canvas node carries: the block's identity and configuration, exactly as in the graph document. */
export interface BlockData extends Record<string, unknown> {
  blockType: string;
  version: number;
  label: string | null;
  config: Record<string, unknown>;
}

export type BlockNode = Node<BlockData, 'block'>;
export type BlockEdge = Edge;

/** Everything the graph document holds besides nodes and edges. */
export interface GraphMeta {
  schema_version: number;
  settings: Record<string, unknown>;
}
