// Just enough of React to run a hook: useState, useEffect, useRef and
// useCallback, with renders and effects driven by the test. With
// `{strict: true}`, the first commit runs its effects, their cleanups, and
// the effects again, as React's StrictMode does in development.

const changed = (a, b) => !a || !b || a.length !== b.length || a.some((v, i) => !Object.is(v, b[i]));

/**
 * Render `hook(props)` as a component would, outside any DOM.
 * @returns {{React: object, render: (props?: unknown) => unknown, result: () => unknown, unmount: () => void, renders: () => number}}
 */
export function renderHook(makeHook, initialProps, { strict = false } = {}) {
  const slots = [];
  let index = 0;
  let dirty = false;
  let props = initialProps;
  let result;
  let renders = 0;
  let pendingEffects = [];
  const mounted = new Map(); // slot -> the effect it ran last

  const React = {
    useState(initial) {
      const i = index++;
      if (!(i in slots)) slots[i] = { value: typeof initial === 'function' ? initial() : initial };
      const slot = slots[i];
      const set = (value) => {
        const next = typeof value === 'function' ? value(slot.value) : value;
        if (!Object.is(next, slot.value)) {
          slot.value = next;
          dirty = true;
        }
      };
      return [slot.value, set];
    },
    useRef(initial) {
      const i = index++;
      if (!(i in slots)) slots[i] = { current: initial };
      return slots[i];
    },
    useCallback(fn, deps) {
      const i = index++;
      if (!(i in slots) || changed(slots[i].deps, deps)) slots[i] = { fn, deps };
      return slots[i].fn;
    },
    useEffect(effect, deps) {
      const i = index++;
      const previous = slots[i];
      if (previous && deps && !changed(previous.deps, deps)) return;
      slots[i] = { deps, cleanup: previous?.cleanup };
      pendingEffects.push({ i, effect });
    },
  };
  const hook = makeHook(React);

  function renderOnce() {
    index = 0;
    renders++;
    result = hook(props);
    const effects = pendingEffects;
    pendingEffects = [];
    for (const e of effects) mounted.set(e.i, e);
    for (const { i, effect } of effects) {
      slots[i].cleanup?.();
      slots[i].cleanup = effect() ?? undefined;
    }
    if (strict && renders === 1) rerunEffects(effects);
  }

  /** Every effect's cleanup, then every effect again: strict mode's second mount, and fast refresh. */
  function rerunEffects(effects) {
    for (const { i } of effects) slots[i].cleanup?.();
    for (const { i, effect } of effects) slots[i].cleanup = effect() ?? undefined;
  }

  /** Render, then again while state changed (as React would). */
  function render(nextProps = props) {
    props = nextProps;
    dirty = true;
    for (let guard = 0; dirty; guard++) {
      if (guard > 50) throw new Error('render loop');
      dirty = false;
      renderOnce();
    }
    return result;
  }

  render();
  return {
    React,
    render,
    result: () => (dirty ? render() : result),
    renders: () => renders,
    /** What fast refresh does after an edit: effects cleaned up and run again, state kept. */
    refresh() {
      rerunEffects([...mounted.values()]);
      if (dirty) render();
    },
    unmount() {
      for (const slot of slots) if (slot && typeof slot.cleanup === 'function') slot.cleanup();
    },
  };
}
