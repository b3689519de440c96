/** The editor's document store: nodes, edges and settings of the draft, with undo/redo, clipboard and
 * the server's view of it (validation problems, live counts). Components subscribe to small slices,
 * so a drag frame re-renders only the dragged node. */
import {
  applyEdgeChanges,
  applyNodeChanges,
  type Connection,
  type EdgeChange,
  type NodeChange,
  type XYPosition,
} from '@xyflow/react';
import { useStore } from 'zustand';
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { BlockType, NodeStats, Problem } from '../api/types';
import { defaultValue, pointerToPath } from '../schema-form/schema';
import { edgeId, nextNodeId, type Canvas } from './graph';
import { layoutNodes } from './layout';
import { outputPorts, reconcileEdges } from './ports';
import type { BlockEdge, BlockNode, GraphMeta } from './types';

export const HISTORY_LIMIT = 100;
/** Edits of the same thing (typing in one field) within this many ms make one undo step. */
export const COALESCE_MS = 1000;
const PASTE_OFFSET = 40;

interface Snapshot {
  nodes: BlockNode[];
  edges: BlockEdge[];
  meta: GraphMeta;
}

export interface NodeProblem {
  /** Field path inside the node, e.g. `config.duration`; empty for the node as a whole. */
  path: string;
  message: string;
  code?: string;
}

export interface EditorState extends Snapshot {
  past: Snapshot[];
  future: Snapshot[];
  clipboard: { nodes: BlockNode[]; edges: BlockEdge[] } | null;
  pasteCount: number;
  selectedIds: string[];
  /** Increments on every change to the document: the autosave watches it. */
  changeSeq: number;
  blockTypes: Record<string, BlockType>;
  problemsByNode: Record<string, NodeProblem[]>;
  /** What the workspace may lack that does not stop publishing (an event nobody performed yet…). */
  warnings: Problem[];
  graphProblems: Problem[];
  problemCount: number;
  stats: Record<string, NodeStats>;
  dragActive: boolean;
  coalesce: { key: string; at: number } | null;

  load(canvas: Canvas): void;
  setBlockTypes(types: BlockType[]): void;
  onNodesChange(changes: NodeChange<BlockNode>[]): void;
  onEdgesChange(changes: EdgeChange<BlockEdge>[]): void;
  connect(connection: Connection): boolean;
  addBlock(type: string, position: XYPosition): string | null;
  updateConfig(id: string, config: Record<string, unknown>): void;
  updateLabel(id: string, label: string): void;
  updateSettings(settings: Record<string, unknown>): void;
  select(ids: string[]): void;
  selectAll(): void;
  deleteSelection(): void;
  copySelection(): number;
  paste(): string[];
  undo(): void;
  redo(): void;
  layout(): void;
  setProblems(problems: Problem[], sentNodeIds: string[]): void;
  setStats(stats: Record<string, NodeStats>): void;
}

const snapshot = (s: Snapshot): Snapshot => ({ nodes: s.nodes, edges: s.edges, meta: s.meta });

const withSelection = (nodes: BlockNode[], ids: ReadonlySet<string>): BlockNode[] =>
  nodes.map((node) => (Boolean(node.selected) === ids.has(node.id) ? node : { ...node, selected: ids.has(node.id) }));

const selectedOf = (nodes: readonly BlockNode[]) => nodes.filter((node) => node.selected).map((node) => node.id);

/** The same selection keeps the same array, so what shows the selected block (its form in the side
 * panel) does not re-render on every drag move. */
const sameSelection = (next: string[], previous: string[]) =>
  next.length === previous.length && next.every((id, i) => id === previous[i]) ? previous : next;

export function createEditorStore(now: () => number = Date.now): StoreApi<EditorState> {
  return createStore<EditorState>()((set, get) => {
    /** Remember the current document for undo; edits sharing `key` within COALESCE_MS share one step. */
    const record = (key?: string) => {
      const state = get();
      const at = now();
      if (key && state.coalesce?.key === key && at - state.coalesce.at < COALESCE_MS) {
        set({ coalesce: { key, at } });
        return;
      }
      set({
        past: [...state.past, snapshot(state)].slice(-HISTORY_LIMIT),
        future: [],
        coalesce: key ? { key, at } : null,
      });
    };
    const changed = (patch: Partial<EditorState>) =>
      set((state) => ({
        ...patch,
        changeSeq: state.changeSeq + 1,
        selectedIds: patch.nodes ? sameSelection(selectedOf(patch.nodes), state.selectedIds) : state.selectedIds,
      }));
    const restore = (from: 'past' | 'future') => {
      const state = get();
      const stack = state[from];
      const target = stack[stack.length - 1];
      if (!target) return;
      const current = snapshot(state);
      set(
        from === 'past'
          ? { past: stack.slice(0, -1), future: [...state.future, current], coalesce: null }
          : { future: stack.slice(0, -1), past: [...state.past, current], coalesce: null },
      );
      changed(target);
    };

    return {
      nodes: [],
      edges: [],
      meta: { schema_version: 1, settings: {} },
      past: [],
      future: [],
      clipboard: null,
      pasteCount: 0,
      selectedIds: [],
      changeSeq: 0,
      blockTypes: {},
      problemsByNode: {},
      graphProblems: [],
      warnings: [],
      problemCount: 0,
      stats: {},
      dragActive: false,
      coalesce: null,

      load(canvas) {
        set({
          nodes: canvas.nodes,
          edges: canvas.edges,
          meta: canvas.meta,
          past: [],
          future: [],
          selectedIds: selectedOf(canvas.nodes),
          changeSeq: 0,
          problemsByNode: {},
          graphProblems: [],
          warnings: [],
          problemCount: 0,
          stats: {},
          coalesce: null,
          dragActive: false,
          pasteCount: 0,
        });
      },

      setBlockTypes(types) {
        const byType: Record<string, BlockType> = {};
        for (const type of types) if (type.latest || !byType[type.type]) byType[type.type] = type;
        set({ blockTypes: byType });
      },

      onNodesChange(changes) {
        let docChange = false;
        let selectChange = false;
        if (changes.some((change) => change.type === 'remove' || change.type === 'add' || change.type === 'replace')) record();
        for (const change of changes) {
          if (change.type === 'select') selectChange = true;
          else if (change.type === 'position') {
            if (change.dragging && !get().dragActive) {
              record();
              set({ dragActive: true });
            } else if (change.dragging === false) {
              if (get().dragActive) set({ dragActive: false });
              else record('keyboard-move'); // arrow keys move the selection without a drag
            }
            docChange = true;
          } else if (change.type !== 'dimensions') docChange = true;
        }
        const nodes = applyNodeChanges(changes, get().nodes);
        if (docChange) changed({ nodes });
        else set(selectChange ? { nodes, selectedIds: sameSelection(selectedOf(nodes), get().selectedIds) } : { nodes });
      },

      onEdgesChange(changes) {
        const structural = changes.some((change) => change.type !== 'select');
        if (structural) record();
        const edges = applyEdgeChanges(changes, get().edges);
        if (structural) changed({ edges });
        else set({ edges });
      },

      connect({ source, target, sourceHandle }) {
        const state = get();
        const port = sourceHandle ?? 'next';
        if (!source || !target || source === target) return false;
        if (state.edges.some((e) => e.source === source && e.sourceHandle === port && e.target === target)) return false;
        record();
        // A port leads to exactly one block: connecting it again moves the connection.
        const edges = state.edges.filter((e) => !(e.source === source && e.sourceHandle === port));
        const id = edgeId(source, port, new Set(edges.map((e) => e.id)));
        changed({ edges: [...edges, { id, source, target, sourceHandle: port, targetHandle: null }] });
        return true;
      },

      addBlock(type, position) {
        const state = get();
        const spec = state.blockTypes[type];
        if (!spec) return null;
        record();
        const id = nextNodeId(type, new Set(state.nodes.map((node) => node.id)));
        const config = (defaultValue(spec.config_schema, spec.config_schema) ?? {}) as Record<string, unknown>;
        const node: BlockNode = {
          id,
          type: 'block',
          position,
          selected: true,
          data: { blockType: type, version: spec.version, label: null, config },
        };
        changed({ nodes: [...withSelection(state.nodes, new Set()), node] });
        return id;
      },

      updateConfig(id, config) {
        const state = get();
        const node = state.nodes.find((n) => n.id === id);
        if (!node) return;
        record(`config:${id}`);
        const spec = state.blockTypes[node.data.blockType];
        const before = outputPorts(spec, node.data.config);
        const after = outputPorts(spec, config);
        const edges = before.join('\n') === after.join('\n') ? state.edges : reconcileEdges(state.edges, id, before, after);
        changed({
          nodes: state.nodes.map((n) => (n.id === id ? { ...n, data: { ...n.data, config } } : n)),
          edges,
        });
      },

      updateLabel(id, label) {
        record(`label:${id}`);
        changed({
          nodes: get().nodes.map((n) => (n.id === id ? { ...n, data: { ...n.data, label: label || null } } : n)),
        });
      },

      updateSettings(settings) {
        record('settings');
        changed({ meta: { ...get().meta, settings } });
      },

      select(ids) {
        const wanted = new Set(ids);
        const nodes = withSelection(get().nodes, wanted);
        set({ nodes, selectedIds: selectedOf(nodes), edges: get().edges.map((e) => (e.selected ? { ...e, selected: false } : e)) });
      },

      selectAll() {
        get().select(get().nodes.map((node) => node.id));
      },

      deleteSelection() {
        const state = get();
        const doomed = new Set(state.selectedIds);
        const edgesSelected = state.edges.some((e) => e.selected);
        if (doomed.size === 0 && !edgesSelected) return;
        record();
        changed({
          nodes: state.nodes.filter((n) => !doomed.has(n.id)),
          edges: state.edges.filter((e) => !e.selected && !doomed.has(e.source) && !doomed.has(e.target)),
        });
      },

      copySelection() {
        const state = get();
        const ids = new Set(state.selectedIds);
        if (ids.size === 0) return 0;
        set({
          clipboard: {
            nodes: state.nodes.filter((n) => ids.has(n.id)),
            edges: state.edges.filter((e) => ids.has(e.source) && ids.has(e.target)),
          },
          pasteCount: 0,
        });
        return ids.size;
      },

      paste() {
        const state = get();
        const clip = state.clipboard;
        if (!clip || clip.nodes.length === 0) return [];
        record();
        const offset = PASTE_OFFSET * (state.pasteCount + 1);
        const taken = new Set(state.nodes.map((n) => n.id));
        const renamed = new Map<string, string>();
        const pasted = clip.nodes.map((node): BlockNode => {
          const id = nextNodeId(node.data.blockType, taken);
          taken.add(id);
          renamed.set(node.id, id);
          return {
            id,
            type: 'block',
            position: { x: node.position.x + offset, y: node.position.y + offset },
            selected: true,
            data: structuredClone(node.data),
          };
        });
        const edgeIds = new Set(state.edges.map((e) => e.id));
        const pastedEdges = clip.edges.map((edge): BlockEdge => {
          const source = renamed.get(edge.source) ?? edge.source;
          const id = edgeId(source, edge.sourceHandle ?? 'next', edgeIds);
          edgeIds.add(id);
          return { id, source, target: renamed.get(edge.target) ?? edge.target, sourceHandle: edge.sourceHandle, targetHandle: null };
        });
        set({ pasteCount: state.pasteCount + 1 });
        changed({ nodes: [...withSelection(state.nodes, new Set()), ...pasted], edges: [...state.edges, ...pastedEdges] });
        return pasted.map((n) => n.id);
      },

      undo: () => restore('past'),
      redo: () => restore('future'),

      layout() {
        const state = get();
        if (state.nodes.length === 0) return;
        record();
        changed({ nodes: layoutNodes(state.nodes, state.edges) });
      },

      setProblems(problems, sentNodeIds) {
        const byNode: Record<string, NodeProblem[]> = {};
        const graphProblems: Problem[] = [];
        const warnings = problems.filter((p) => p.severity === 'warning');
        const errors = problems.filter((p) => p.severity !== 'warning');
        for (const problem of errors) {
          const match = /^\/nodes\/(\d+)(\/.*)?$/.exec(problem.pointer);
          const nodeId = problem.node_id ?? (match ? sentNodeIds[Number(match[1])] : undefined);
          if (nodeId === undefined) {
            graphProblems.push(problem);
            continue;
          }
          (byNode[nodeId] ??= []).push({ path: match?.[2] ? pointerToPath(match[2]) : '', message: problem.message, code: problem.code });
        }
        set({ problemsByNode: byNode, graphProblems, warnings, problemCount: errors.length });
      },

      setStats(stats) {
        const previous = get().stats;
        const next: Record<string, NodeStats> = {};
        for (const [id, value] of Object.entries(stats)) {
          const old = previous[id];
          next[id] = old && JSON.stringify(old) === JSON.stringify(value) ? old : value;
        }
        set({ stats: next });
      },
    };
  });
}

export const editorStore = createEditorStore();

export function useEditor<T>(selector: (state: EditorState) => T): T {
  return useStore(editorStore, selector);
}
