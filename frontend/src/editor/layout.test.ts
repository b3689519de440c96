import { describe, expect, it } from 'vitest';
import { abandonedRegistration } from '../test/fixtures';
import { toCanvas } from './graph';
import { autoLayout, freeSpot, NODE_HEIGHT } from './layout';

describe('freeSpot', () => {
  const { nodes } = toCanvas(abandonedRegistration());

  it('keeps a free spot', () => {
    expect(freeSpot(nodes, { x: 600, y: 0 })).toEqual({ x: 600, y: 0 });
  });

  it('moves down past blocks it would cover', () => {
    const spot = freeSpot(nodes, { x: 10, y: 10 });
    expect(spot.x).toBe(10);
    // entry (y 0), wait1 (150), done? (300) and the send/tag row (450) stand in the way at x≈0.
    expect(spot.y).toBeGreaterThan(300 + NODE_HEIGHT - 1);
    expect(nodes.every((n) => Math.abs(n.position.x - spot.x) >= 240 || Math.abs(n.position.y - spot.y) >= NODE_HEIGHT)).toBe(true);
  });
});

describe('autoLayout', () => {
  it('places every node and keeps branches side by side', () => {
    const { nodes, edges } = toCanvas(abandonedRegistration());
    const positions = autoLayout(nodes, edges);
    expect([...positions.keys()].sort()).toEqual(nodes.map((n) => n.id).sort());
    expect(positions.get('mail1')!.y).toBe(positions.get('tag1')!.y);
    expect(positions.get('mail1')!.x).not.toBe(positions.get('tag1')!.x);
  });
});
