// Drawing in batches: views ask for a function to run at the next animation
// frame; asking again before it runs costs nothing. However many messages
// arrive between two frames, each view draws once.
const pending = new Set<() => void>();
let frame = 0;

export function nextFrame(fn: () => void): void {
  pending.add(fn);
  if (!frame) frame = requestAnimationFrame(run);
}

function run(): void {
  frame = 0;
  const fns = [...pending];
  pending.clear();
  for (const fn of fns) {
    try { fn(); } catch (e) { console.error("dashboard: a view failed to draw", e); }
  }
}
