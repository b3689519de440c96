import { describe, expect, it } from 'vitest';
import { blockType } from '../test/fixtures';
import { outputPorts, reconcileEdges } from './ports';
import type { BlockEdge } from './types';

const edge = (id: string, source: string, port: string, target: string): BlockEdge => ({ id, source, target, sourceHandle: port });

describe('outputPorts', () => {
  it('uses the static ports of ordinary blocks', () => {
    expect(outputPorts(blockType('condition'), {})).toEqual(['yes', 'no']);
    expect(outputPorts(blockType('wait.event'), {})).toEqual(['event', 'timeout']);
    expect(outputPorts(blockType('exit'), {})).toEqual([]);
  });

  it('takes dynamic ports from the named items in the config', () => {
    const config = { branches: [{ name: 'control', weight: 10 }, { name: 'variant', weight: 90 }, { name: 'c', weight: 1 }] };
    expect(outputPorts(blockType('split.random'), config)).toEqual(['control', 'variant', 'c']);
  });

  it('falls back to the declared ports while the config has no names', () => {
    expect(outputPorts(blockType('split.random'), {})).toEqual(['a', 'b']);
    expect(outputPorts(blockType('split.random'), { branches: [{ weight: 1 }] })).toEqual(['a', 'b']);
  });

  it('puts the fixed ports_after behind the branches (split.rules: else)', () => {
    const spec = { ports: ['engaged', 'else'], dynamic_ports: true, ports_from: 'branches', ports_after: ['else'] };
    expect(outputPorts(spec, { branches: [{ name: 'vip' }, { name: 'nudge' }] })).toEqual(['vip', 'nudge', 'else']);
  });

  it('honours an explicit ports_from field', () => {
    const spec = { ports: ['x'], dynamic_ports: true, ports_from: 'paths' };
    expect(outputPorts(spec, { other: [{ name: 'no' }], paths: [{ name: 'p1' }] })).toEqual(['p1']);
  });
});

describe('reconcileEdges', () => {
  const edges = [edge('1', 's', 'a', 'x'), edge('2', 's', 'b', 'y'), edge('3', 'other', 'a', 'z')];

  it('moves edges along when a port is renamed in place', () => {
    const out = reconcileEdges(edges, 's', ['a', 'b'], ['a', 'treatment']);
    expect(out.map((e) => [e.id, e.sourceHandle])).toEqual([['1', 'a'], ['2', 'treatment'], ['3', 'a']]);
  });

  it('drops edges whose port disappeared and leaves other nodes alone', () => {
    const out = reconcileEdges(edges, 's', ['a', 'b', 'c'], ['a', 'c']);
    expect(out.map((e) => e.id)).toEqual(['1', '3']);
  });
});
