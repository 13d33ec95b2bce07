import { describe, expect, it } from 'vitest';
import { dataDependencyOrder } from '../src/index.js';

type Node = { input?: string[] };
const errors = { cycle: (n: string) => new Error(`cycle at ${n}`), missing: (n: string) => new Error(`missing ${n}`) };
const orderOf = (graph: Record<string, Node>, roots: string[], extra = {}) => dataDependencyOrder(roots, (name) => graph[name], { ...errors, ...extra });

describe('dataDependencyOrder', () => {
  const graph: Record<string, Node> = {
    x: {},
    w: {},
    unused: {},
    assert: { input: ['x'] },
    mul: { input: ['x', 'w:0', '^assert'] },
    out: { input: ['mul:0', 'mul', 'x:0'] },
  };

  it('lists each needed node once, after its data inputs; control inputs and unneeded nodes are left out', () => {
    const order = orderOf(graph, ['out']);
    expect([...order].sort()).toEqual(['mul', 'out', 'w', 'x']);
    for (const [name, node] of Object.entries(graph)) {
      if (!order.includes(name)) continue;
      for (const input of node.input ?? []) {
        if (input.startsWith('^')) continue;
        expect(order.indexOf(input.split(':')[0])).toBeLessThan(order.indexOf(name));
      }
    }
  });

  it('does not list given nodes and does not follow the inputs of leaves', () => {
    expect(orderOf(graph, ['out'], { given: ['x'] }).sort()).toEqual(['mul', 'out', 'w']);
    expect(orderOf(graph, ['out'], { leaves: new Set(['mul']) }).sort()).toEqual(['mul', 'out', 'x']);
  });

  it('names the node of a cycle and the node a graph reads but does not have', () => {
    expect(() => orderOf({ a: { input: ['b'] }, b: { input: ['a:0'] } }, ['a'])).toThrow('cycle at a');
    expect(() => orderOf({ a: { input: ['ghost:1'] } }, ['a'])).toThrow('missing ghost');
  });

  it('handles graphs deeper than the call stack', () => {
    const deep: Record<string, Node> = { n0: {} };
    for (let i = 1; i <= 200_000; i++) deep[`n${i}`] = { input: [`n${i - 1}`] };
    const order = orderOf(deep, ['n200000']);
    expect(order.length).toBe(200_001);
    expect(order[0]).toBe('n0');
    expect(order.at(-1)).toBe('n200000');
  });
});
