// Compiled by tsc in a fresh project that installed the packed tarball: the
// package's types must resolve through its "exports".
import { connect, rest, JobwatchProblem, type ConnectionState, type EventMessage } from "@jobwatch/client";

const states: ConnectionState[] = [];
const c = connect({ url: process.argv[2]!, rooms: ["queue:emails"], transports: ["sse"] });
c.on("state", (s) => states.push(s.state));
c.on("job.progress", (m) => { const pct: number = m.event.percent; void pct; });
const first = new Promise<EventMessage>((resolve) => c.on("event", resolve));
const timeout = setTimeout(() => { console.error("no event within 20 s"); process.exit(1); }, 20_000);
const m = await first;
clearTimeout(timeout);
const page = await rest({ url: process.argv[2]! }).jobs({ limit: 1 });
try { await rest({ url: process.argv[2]! }).job("no-such-job"); } catch (e) { if (!(e instanceof JobwatchProblem)) throw e; }
c.close();
console.log(`consumer ok: ${m.event.type} seq ${m.seq}, ${page.total} jobs, states ${states.join(",")}`);
