import {
  Background,
  BackgroundVariant,
  Controls,
  MiniMap,
  ReactFlow,
  useReactFlow,
  type AriaLabelConfig,
  type Connection,
  type Edge,
  type IsValidConnection,
  type Node,
  type NodeTypes,
} from '@xyflow/react';
import { useCallback, useMemo, useState, type DragEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { BlockNodeView } from './BlockNodeView';
import { NODE_WIDTH } from './layout';
import { DRAG_TYPE } from './Palette';
import { editorStore, useEditor } from './store';
import type { BlockEdge, BlockNode } from './types';

const nodeTypes: NodeTypes = { block: BlockNodeView };
const defaultEdgeOptions = { type: 'smoothstep', pathOptions: { borderRadius: 12 } };
/** Above this many blocks, only what is on screen is rendered. */
const VIRTUALIZE_FROM = 120;

const isValidConnection: IsValidConnection = (connection) => connection.source !== connection.target;
const minimapColor = (node: Node) =>
  `var(--cat-${editorStore.getState().blockTypes[String(node.data.blockType)]?.category ?? 'unknown'})`;

export function Canvas({ readOnly = false }: { readOnly?: boolean }) {
  const { t } = useTranslation();
  const nodes = useEditor((s) => s.nodes);
  const storeEdges = useEditor((s) => s.edges);
  const onNodesChange = useEditor((s) => s.onNodesChange);
  const onEdgesChange = useEditor((s) => s.onEdgesChange);
  const connect = useEditor((s) => s.connect);
  // Fit a journey that opens with blocks; an empty one keeps its zoom when the first block is dropped.
  const [fitOnOpen] = useState(() => editorStore.getState().nodes.length > 0);
  const { screenToFlowPosition } = useReactFlow();
  // React Flow's own label for an edge is English ("Edge from a to b"): name it in the user's language,
  // one labelled copy per edge object so unchanged edges keep their identity (and do not re-render).
  const labelledEdges = useMemo(() => new WeakMap<BlockEdge, BlockEdge>(), [t]);
  const edges = useMemo(
    () =>
      storeEdges.map((edge) => {
        let labelled = labelledEdges.get(edge);
        if (!labelled) {
          const port = edge.sourceHandle ?? 'next';
          labelled = { ...edge, ariaLabel: t('flow.edgeLabel', { source: edge.source, target: edge.target, port: t(`ports.${port}`, { defaultValue: port }) }) };
          labelledEdges.set(edge, labelled);
        }
        return labelled;
      }),
    [storeEdges, labelledEdges, t],
  );
  const ariaLabels = useMemo<Partial<AriaLabelConfig>>(
    () => ({
      'node.a11yDescription.default': t('flow.node'),
      'node.a11yDescription.keyboardDisabled': t('flow.node'),
      'node.a11yDescription.ariaLiveMessage': ({ direction, x, y }) => t('flow.moved', { direction: t(`flow.direction.${direction}`, { defaultValue: direction }), x, y }),
      'edge.a11yDescription.default': t('flow.edge'),
      'controls.ariaLabel': t('flow.controls'),
      'controls.zoomIn.ariaLabel': t('flow.zoomIn'),
      'controls.zoomOut.ariaLabel': t('flow.zoomOut'),
      'controls.fitView.ariaLabel': t('flow.fitView'),
      'controls.interactive.ariaLabel': t('flow.interactive'),
      'minimap.ariaLabel': t('flow.minimap'),
      'handle.ariaLabel': t('flow.handle'),
    }),
    [t],
  );

  const onConnect = useCallback((connection: Connection | Edge) => void connect(connection as Connection), [connect]);

  const onDragOver = useCallback((event: DragEvent) => {
    if (!event.dataTransfer.types.includes(DRAG_TYPE)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
  }, []);

  const onDrop = useCallback(
    (event: DragEvent) => {
      const type = event.dataTransfer.getData(DRAG_TYPE);
      if (!type) return;
      event.preventDefault();
      const point = screenToFlowPosition({ x: event.clientX, y: event.clientY });
      editorStore.getState().addBlock(type, { x: Math.round(point.x - NODE_WIDTH / 2), y: Math.round(point.y - 24) });
    },
    [screenToFlowPosition],
  );

  return (
    <div className="canvas" data-testid="canvas" onDragOver={readOnly ? undefined : onDragOver} onDrop={readOnly ? undefined : onDrop}>
      <ReactFlow<BlockNode>
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        defaultEdgeOptions={defaultEdgeOptions}
        onNodesChange={onNodesChange}
        onEdgesChange={onEdgesChange}
        onConnect={onConnect}
        nodesDraggable={!readOnly}
        nodesConnectable={!readOnly}
        edgesReconnectable={!readOnly}
        isValidConnection={isValidConnection}
        // Deleting goes through the store (undo, edges of deleted nodes): see useShortcuts.
        deleteKeyCode={null}
        multiSelectionKeyCode={['Meta', 'Control', 'Shift']}
        selectionKeyCode="Shift"
        onlyRenderVisibleElements={nodes.length > VIRTUALIZE_FROM}
        minZoom={0.1}
        maxZoom={2}
        fitView={fitOnOpen}
        fitViewOptions={{ maxZoom: 1, padding: 0.2 }}
        snapToGrid
        snapGrid={[8, 8]}
        ariaLabelConfig={ariaLabels}
        proOptions={{ hideAttribution: true }}
      >
        <Background variant={BackgroundVariant.Dots} gap={16} size={1} />
        <MiniMap pannable zoomable nodeColor={minimapColor} />
        <Controls showInteractive={false} />
      </ReactFlow>
      {nodes.length === 0 && <div className="canvas-empty">{t('editor.emptyCanvas')}</div>}
    </div>
  );
}
