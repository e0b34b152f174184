// @jobwatch/client: live updates from a jobwatch gateway over WebSocket,
// SSE or long-poll (the same handlers for all three), with reconnect, resume
// by `since`, and typed REST helpers. No runtime dependency: in Node < 22
// pass a WebSocket implementation (e.g. `ws`) as `WebSocket`.
import type {
  ServerMessage, EventMessage, SummaryMessage, AlertMessage, HealthMessage,
  ResetMessage, LaggedMessage, SubscribedMessage, ErrorMessage, WelcomeMessage,
  UnsubscribedMessage, SubscriptionsMessage, PongMessage, PublishedMessage,
  AuthenticatedMessage, AuthExpiringMessage,
} from "../../generated/server_message";
import type { JobEvent } from "../../generated/job_event";
import type { JobSnapshot } from "../../generated/job_snapshot";
import type { Summary } from "../../generated/summary";
import type { HealthReport } from "../../generated/health_report";
import type { DeadLetterEntry } from "../../generated/dead_letter_entry";

export type {
  ServerMessage, EventMessage, SummaryMessage, AlertMessage, HealthMessage,
  ResetMessage, LaggedMessage, SubscribedMessage, ErrorMessage, WelcomeMessage,
  JobEvent, JobSnapshot, Summary, HealthReport, DeadLetterEntry,
};

export type Transport = "ws" | "sse" | "poll";
export type ConnectionState = "connecting" | "live" | "reconnecting" | "offline";

/** Server message types by their `type`. */
export interface MessageMap {
  welcome: WelcomeMessage; subscribed: SubscribedMessage; unsubscribed: UnsubscribedMessage;
  subscriptions: SubscriptionsMessage; event: EventMessage; summary: SummaryMessage;
  alert: AlertMessage; health: HealthMessage; reset: ResetMessage; lagged: LaggedMessage;
  error: ErrorMessage; pong: PongMessage; published: PublishedMessage;
  authenticated: AuthenticatedMessage; auth_expiring: AuthExpiringMessage;
}
type JobEventType = JobEvent["type"];
type JobEventOf<T extends JobEventType> = Extract<JobEvent, { type: T }>;

/** Every event the client emits, with its payload. */
export type ClientEvents = {
  [K in keyof MessageMap]: MessageMap[K];
} & {
  [K in JobEventType]: { room: string; seq: number; event: JobEventOf<K> };
} & {
  state: { state: ConnectionState; transport: Transport | null; attempt: number };
  transport: { transport: Transport };
};

export interface BackoffOptions { initialMs?: number; maxMs?: number; factor?: number }

export interface ConnectOptions {
  /** The gateway's base URL, e.g. "http://127.0.0.1:8080". */
  url: string;
  token?: string;
  /** Called on every connect and reconnect, and before a JWT's `exp`. */
  getToken?: () => string | Promise<string>;
  rooms?: string[];
  /** Transports in order of preference; the first that connects is used. */
  transports?: Transport[];
  /** A WebSocket constructor (globalThis.WebSocket by default). */
  WebSocket?: unknown;
  fetch?: typeof fetch;
  backoff?: BackoffOptions;
  /** Milliseconds before an attempt to connect counts as failed. */
  connectTimeoutMs?: number;
  /** How often to try WebSocket again while on a fallback (ms). */
  upgradeIntervalMs?: number;
  pollTimeoutMs?: number;
  /** Refresh the token this long before a JWT's `exp` (ms). */
  refreshBeforeExpiryMs?: number;
  /** Random source in [0, 1), for the jitter; Math.random by default. */
  random?: () => number;
}

/**
 * "Full jitter": a uniform delay in [0, min(max, initial * factor^attempt)).
 * Bounded by maxMs, so a long outage never waits longer than that.
 */
export function backoffDelay(attempt: number, o: BackoffOptions = {}, random: () => number = Math.random): number {
  const initial = o.initialMs ?? 250, max = o.maxMs ?? 10_000, factor = o.factor ?? 2;
  const cap = Math.min(max, initial * Math.pow(factor, Math.max(0, attempt)));
  return Math.floor(random() * cap);
}

/** The `exp` of a JWT in milliseconds since the epoch, or null when the token is not a JWT. */
export function jwtExpiry(token: string): number | null {
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const b64 = parts[1]!.replace(/-/g, "+").replace(/_/g, "/");
    const json = typeof atob === "function" ? atob(b64.padEnd(b64.length + ((4 - (b64.length % 4)) % 4), "="))
      : "";
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === "number" ? exp * 1000 : null;
  } catch {
    return null;
  }
}

type Handler<T> = (payload: T) => void;

interface Link { close(): void; send(msg: object): boolean }

class TransportFailed extends Error {}

/** A live connection; create with connect(). */
export class JobwatchClient {
  readonly options: ConnectOptions;
  private handlers = new Map<string, Set<Handler<any>>>();
  /** Rooms wanted, with the last seq seen (the resume point). */
  private rooms = new Map<string, number | null>();
  private link: Link | null = null;
  private _state: ConnectionState = "offline";
  private _transport: Transport | null = null;
  private attempt = 0;
  private closed = false;
  private timers = new Set<ReturnType<typeof setTimeout>>();
  private token: string | undefined;
  private generation = 0;
  private pollSeq: number | null = null;

  constructor(options: ConnectOptions) {
    this.options = options;
    this.token = options.token;
    for (const r of options.rooms ?? []) this.rooms.set(r, null);
  }

  get state(): ConnectionState { return this._state; }
  get transport(): Transport | null { return this._transport; }
  /** The rooms this client keeps subscribed, with the last seq seen in each. */
  list(): Array<{ room: string; seq: number | null }> {
    return [...this.rooms].map(([room, seq]) => ({ room, seq }));
  }

  on<K extends keyof ClientEvents>(type: K, handler: Handler<ClientEvents[K]>): () => void {
    let set = this.handlers.get(type);
    if (!set) this.handlers.set(type, (set = new Set()));
    set.add(handler);
    return () => { set!.delete(handler); };
  }

  subscribe(room: string, since?: number): void {
    if (!this.rooms.has(room)) this.rooms.set(room, since ?? null);
    if (this._transport === "ws") this.link?.send(this.subscribeMessage(room));
    else if (this.link) this.restart(); // SSE and long-poll name their rooms in the URL
  }

  unsubscribe(room: string): void {
    if (!this.rooms.delete(room)) return;
    if (this._transport === "ws") this.link?.send({ type: "unsubscribe", room });
    else if (this.link) this.restart();
  }

  /** Starts connecting; resolves once live (or rejects when closed first). */
  start(): Promise<void> {
    this.closed = false;
    const live = new Promise<void>((resolve, reject) => {
      const off = this.on("state", ({ state }) => {
        if (state === "live") { off(); resolve(); }
        else if (state === "offline" && this.closed) { off(); reject(new Error("closed")); }
      });
    });
    // Started after the caller's synchronous code, so handlers registered right after connect() see "connecting".
    queueMicrotask(() => { if (!this.closed) void this.run(); });
    return live;
  }

  close(): void {
    this.closed = true;
    this.generation++;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.link?.close();
    this.link = null;
    this.setState("offline");
  }

  private emit(type: string, payload: unknown): void {
    const set = this.handlers.get(type);
    if (set) for (const h of [...set]) h(payload);
  }

  private setState(state: ConnectionState): void {
    if (this._state === state) return;
    this._state = state;
    this.emit("state", { state, transport: this._transport, attempt: this.attempt });
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => { this.timers.delete(t); fn(); }, ms);
    this.timers.add(t);
  }

  private restart(): void {
    this.link?.close();
    this.link = null;
    this.generation++;
    void this.run();
  }

  private async currentToken(): Promise<string | undefined> {
    if (this.options.getToken) this.token = await this.options.getToken();
    return this.token;
  }

  private scheduleRefresh(gen: number): void {
    if (!this.token || !this.options.getToken) return;
    const exp = jwtExpiry(this.token);
    if (exp === null) return;
    const ahead = this.options.refreshBeforeExpiryMs ?? 30_000;
    const old = this.token;
    // SSE and long-poll present the token when they connect: reconnect with a fresh one before it
    // expires. A WebSocket refreshes in place on `auth_expiring` (below); if that did not happen, the same.
    this.later(Math.max(0, exp - ahead - Date.now()), () => {
      if (gen === this.generation && this.token === old) this.restart();
    });
  }

  /** Sends a fresh token on the open WebSocket (the answer is `authenticated`): its rooms stay. */
  private async refreshInPlace(gen: number): Promise<void> {
    let token: string | undefined;
    try {
      token = await this.currentToken();
    } catch {
      return; // the scheduled reconnect still comes
    }
    if (gen === this.generation && token) this.link?.send({ type: "auth", token });
  }

  private async run(): Promise<void> {
    const gen = ++this.generation;
    const order = this.options.transports ?? ["ws", "sse", "poll"];
    this.setState(this.attempt === 0 && this._transport === null ? "connecting" : "reconnecting");
    let token: string | undefined;
    try {
      token = await this.currentToken();
    } catch {
      token = this.token;
    }
    for (const t of order) {
      if (gen !== this.generation || this.closed) return;
      try {
        await this.open(t, token, gen);
        if (gen !== this.generation) return;
        this._transport = t;
        this.attempt = 0;
        this.emit("transport", { transport: t });
        this.setState("live");
        this.scheduleRefresh(gen);
        if (t !== order[0]) this.later(this.options.upgradeIntervalMs ?? 30_000, () => this.tryUpgrade(gen, order[0]!));
        return;
      } catch {
        // try the next transport
      }
    }
    if (gen !== this.generation || this.closed) return;
    this.retry(gen);
  }

  private retry(gen: number): void {
    if (gen !== this.generation || this.closed) return;
    this.link?.close();
    this.link = null;
    this.setState("reconnecting");
    const delay = backoffDelay(this.attempt++, this.options.backoff, this.options.random);
    this.later(delay, () => { if (gen === this.generation && !this.closed) void this.run(); });
  }

  /** While on a fallback, checks now and then whether the preferred transport connects again. */
  private tryUpgrade(gen: number, preferred: Transport): void {
    if (gen !== this.generation || this.closed) return;
    if (preferred === "ws") {
      void this.probeWs().then((ok) => {
        if (gen !== this.generation || this.closed) return;
        if (ok) this.restart();
        else this.later(this.options.upgradeIntervalMs ?? 30_000, () => this.tryUpgrade(gen, preferred));
      });
    }
  }

  private wsUrl(token: string | undefined): string {
    const u = new URL("/ws", this.options.url);
    u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
    if (token) u.searchParams.set("token", token);
    return u.toString();
  }

  private wsCtor(): any {
    const C = this.options.WebSocket ?? (globalThis as any).WebSocket;
    if (!C) throw new TransportFailed("no WebSocket implementation: pass one as options.WebSocket");
    return C;
  }

  private probeWs(): Promise<boolean> {
    return new Promise((resolve) => {
      let ws: any;
      try { ws = new (this.wsCtor())(this.wsUrl(this.token)); } catch { resolve(false); return; }
      const t = setTimeout(() => { try { ws.close(); } catch { /* closing anyway */ } resolve(false); }, this.options.connectTimeoutMs ?? 5000);
      ws.onopen = () => { clearTimeout(t); ws.close(); resolve(true); };
      ws.onerror = () => { clearTimeout(t); resolve(false); };
    });
  }

  private subscribeMessage(room: string): object {
    const since = this.rooms.get(room);
    return since === null || since === undefined ? { type: "subscribe", room } : { type: "subscribe", room, since };
  }

  /** Dispatches one server message; tracks each room's resume point. */
  private dispatch(msg: ServerMessage, gen: number): void {
    if (gen !== this.generation) return;
    switch (msg.type) {
      case "event": {
        const last = this.rooms.get(msg.room);
        if (last !== undefined && last !== null && msg.seq <= last) return; // already seen (an SSE stream of several rooms may repeat)
        if (this.rooms.has(msg.room)) this.rooms.set(msg.room, msg.seq);
        if (this._transport === "poll" || this.pollSeq !== null) this.pollSeq = Math.max(this.pollSeq ?? 0, msg.seq);
        this.emit("event", msg);
        this.emit(msg.event.type, msg);
        return;
      }
      case "alert":
        if (this.rooms.has(msg.room)) this.rooms.set(msg.room, Math.max(this.rooms.get(msg.room) ?? 0, msg.seq));
        break;
      case "subscribed": case "summary": case "health":
        if (this.rooms.has(msg.room)) this.rooms.set(msg.room, Math.max(this.rooms.get(msg.room) ?? 0, msg.seq));
        break;
      case "reset":
        // Part of the history is gone: the subscribed that follows carries the fresh snapshot.
        if (this.rooms.has(msg.room)) this.rooms.set(msg.room, msg.seq);
        break;
      case "auth_expiring":
        if (this._transport === "ws" && this.options.getToken) void this.refreshInPlace(gen);
        break;
      case "authenticated":
        this.scheduleRefresh(gen);
        break;
      case "lagged":
        if (this.rooms.has(msg.room)) {
          this.rooms.set(msg.room, msg.resume_from);
          if (this._transport === "ws") this.link?.send(this.subscribeMessage(msg.room));
          else this.restart();
        }
        break;
    }
    this.emit(msg.type, msg);
  }

  private open(t: Transport, token: string | undefined, gen: number): Promise<void> {
    if (t === "ws") return this.openWs(token, gen);
    if (t === "sse") return this.openSse(token, gen);
    return this.openPoll(token, gen);
  }

  private openWs(token: string | undefined, gen: number): Promise<void> {
    return new Promise((resolve, reject) => {
      let ws: any;
      try { ws = new (this.wsCtor())(this.wsUrl(token)); } catch (e) { reject(e); return; }
      let opened = false;
      const timer = setTimeout(() => { if (!opened) { try { ws.close(); } catch { /* failed anyway */ } reject(new TransportFailed("timeout")); } }, this.options.connectTimeoutMs ?? 5000);
      this.link = {
        close: () => { try { ws.onclose = null; ws.close(); } catch { /* already closed */ } },
        send: (m) => { if (ws.readyState !== 1) return false; ws.send(JSON.stringify(m)); return true; },
      };
      // Live once the server says `welcome`: it comes once the connection is authenticated (a
      // server that wants an auth message first closes an unauthenticated one with 4401 instead).
      ws.onmessage = (e: { data: unknown }) => {
        const text = typeof e.data === "string" ? e.data : String(e.data);
        const msg = JSON.parse(text) as ServerMessage;
        if (!opened && msg.type === "welcome") {
          opened = true;
          clearTimeout(timer);
          for (const room of this.rooms.keys()) ws.send(JSON.stringify(this.subscribeMessage(room)));
          resolve();
        }
        this.dispatch(msg, gen);
      };
      ws.onerror = () => { if (!opened) { clearTimeout(timer); reject(new TransportFailed("ws error")); } };
      ws.onclose = () => {
        if (!opened) { clearTimeout(timer); reject(new TransportFailed("ws closed")); return; }
        this.retry(gen);
      };
    });
  }

  private authHeaders(token: string | undefined): Record<string, string> {
    return token ? { authorization: `Bearer ${token}` } : {};
  }

  private roomQuery(): URLSearchParams {
    const q = new URLSearchParams();
    for (const r of this.rooms.keys()) q.append("room", r);
    return q;
  }

  private openSse(token: string | undefined, gen: number): Promise<void> {
    const doFetch = this.options.fetch ?? fetch;
    const q = this.roomQuery();
    // One `since` stands for the stream: the smallest resume point of its rooms; repeats are dropped by seq.
    const points = [...this.rooms.values()].filter((s): s is number => s !== null);
    if (points.length === this.rooms.size && points.length > 0) q.set("since", String(Math.min(...points)));
    const ctrl = new AbortController();
    this.link = { close: () => ctrl.abort(), send: () => false };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { ctrl.abort(); reject(new TransportFailed("timeout")); }, this.options.connectTimeoutMs ?? 5000);
      doFetch(new URL(`/api/v1/stream?${q}`, this.options.url), { headers: { accept: "text/event-stream", ...this.authHeaders(token) }, signal: ctrl.signal })
        .then(async (res) => {
          clearTimeout(timer);
          if (!res.ok || !res.body || !(res.headers.get("content-type") ?? "").includes("text/event-stream")) {
            ctrl.abort();
            reject(new TransportFailed(`SSE: HTTP ${res.status}`));
            return;
          }
          resolve();
          const reader = res.body.getReader();
          const dec = new TextDecoder();
          let buf = "";
          try {
            for (;;) {
              const { value, done } = await reader.read();
              if (done) break;
              buf += dec.decode(value, { stream: true });
              let i: number;
              while ((i = buf.indexOf("\n\n")) >= 0) {
                const record = buf.slice(0, i);
                buf = buf.slice(i + 2);
                const data = record.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
                if (data) this.dispatch(JSON.parse(data) as ServerMessage, gen);
              }
            }
          } catch { /* aborted or dropped */ }
          this.retry(gen);
        }, (e) => { clearTimeout(timer); reject(new TransportFailed(String(e))); });
    });
  }

  private openPoll(token: string | undefined, gen: number): Promise<void> {
    const doFetch = this.options.fetch ?? fetch;
    const ctrl = new AbortController();
    this.link = { close: () => ctrl.abort(), send: () => false };
    const points = [...this.rooms.values()].filter((s): s is number => s !== null);
    this.pollSeq = points.length === this.rooms.size && points.length > 0 ? Math.min(...points) : null;
    const once = async (first: boolean): Promise<void> => {
      const q = this.roomQuery();
      if (this.pollSeq !== null) q.set("since", String(this.pollSeq));
      q.set("timeout_ms", String(first ? 0 : this.options.pollTimeoutMs ?? 25_000));
      const timeout = setTimeout(() => ctrl.abort(), (first ? 0 : this.options.pollTimeoutMs ?? 25_000) + (this.options.connectTimeoutMs ?? 5000));
      try {
        const res = await doFetch(new URL(`/api/v1/poll?${q}`, this.options.url), { headers: this.authHeaders(token), signal: ctrl.signal });
        if (!res.ok) throw new TransportFailed(`poll: HTTP ${res.status}`);
        const body = (await res.json()) as { messages: ServerMessage[]; seq: number };
        for (const m of body.messages) this.dispatch(m, gen);
        this.pollSeq = body.seq;
      } finally {
        clearTimeout(timeout);
      }
    };
    return once(true).then(() => {
      const loop = async () => {
        while (gen === this.generation && !this.closed) {
          try { await once(false); } catch { this.retry(gen); return; }
        }
      };
      void loop();
    });
  }
}

/** Creates a client and starts connecting; `await client.ready` waits for "live". */
export function connect(options: ConnectOptions): JobwatchClient & { ready: Promise<void> } {
  const c = new JobwatchClient(options) as JobwatchClient & { ready: Promise<void> };
  c.ready = c.start();
  c.ready.catch(() => { /* observed by whoever awaits it */ });
  return c;
}

export * from "./rest";
