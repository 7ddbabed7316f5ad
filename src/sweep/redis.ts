/**
 * Redis for the sweep queue (queue.ts): URLs, BullMQ's connection options, and the checks that turn
 * a Redis that cannot be reached (or is lost later) into an error instead of a hang.
 */
import type { ConnectionOptions as BullConnection } from "bullmq";
import { Redis, type RedisOptions } from "ioredis";

export class RedisUnreachable extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RedisUnreachable";
  }
}

/** Parses `redis://[user:password@]HOST:PORT[/DB]` (or rediss:// for TLS) into ioredis options. */
export function redisOptions(url: string): RedisOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`--queue expects a Redis URL such as redis://127.0.0.1:6379, found '${url}'`);
  }
  if (u.protocol !== "redis:" && u.protocol !== "rediss:") {
    throw new Error(`--queue expects a redis:// or rediss:// URL, found '${url}'`);
  }
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new Error(`--queue: '${u.pathname.slice(1)}' is not a Redis database number in '${url}'`);
  return {
    host: u.hostname || "127.0.0.1",
    port: u.port ? Number(u.port) : 6379,
    db,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === "rediss:" ? { tls: {} } : {}),
  };
}

/** The URL without its password, for messages. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString().replace(/\/$/, "");
  } catch {
    return url;
  }
}

export interface ConnectOptions {
  /** The Redis key prefix (default "icl-lab"): coordinators and workers see only their namespace's jobs. */
  namespace?: string;
  /** How long a connection attempt may take before Redis counts as unreachable (default 3000 ms). */
  connectTimeoutMs?: number;
}

/** Connection options for BullMQ's clients: they retry (Redis restarting), the health check decides when to give up. */
export function bullConnection(url: string, options: ConnectOptions = {}): BullConnection {
  const connection: BullConnection = {
    ...redisOptions(url),
    connectTimeout: options.connectTimeoutMs ?? 3000,
    maxRetriesPerRequest: null, // required by BullMQ's blocking commands
    retryStrategy: (times: number) => Math.min(200 * times, 2000),
  };
  return connection;
}

/** Connects once, without retrying: resolves when Redis answers PING, rejects with RedisUnreachable. */
export async function checkRedis(url: string, options: ConnectOptions = {}): Promise<void> {
  const timeout = options.connectTimeoutMs ?? 3000;
  const client = new Redis({
    ...redisOptions(url),
    lazyConnect: true,
    connectTimeout: timeout,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    disconnectTimeout: 50,
  });
  // The socket's error (ECONNREFUSED, ENOTFOUND…) says more than the rejection ("Connection is closed").
  let socketError: string | null = null;
  client.on("error", (e: Error) => {
    socketError ??= e.message;
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.connect().then(() => client.ping()),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeout} ms`)), timeout + 500);
      }),
    ]);
  } catch (e) {
    const reason = socketError ?? ((e as Error).message || String(e));
    throw new RedisUnreachable(`cannot reach Redis at ${displayUrl(url)}: ${reason} (is redis-server running there, and is the address right?)`);
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}

/**
 * Pings Redis every `everyMs`; calls `onLost` once no ping has succeeded for `lostAfterMs`
 * (BullMQ's own clients retry forever, which would look like a hang).
 */
export function watchRedis(url: string, onLost: (message: string) => void, options: { everyMs?: number; lostAfterMs?: number } = {}): { stop(): void } {
  const everyMs = options.everyMs ?? 2000;
  const lostAfterMs = options.lostAfterMs ?? 60_000;
  const client = new Redis({ ...redisOptions(url), connectTimeout: 3000, maxRetriesPerRequest: 0, retryStrategy: () => 1000, disconnectTimeout: 50 });
  let lastError = "";
  client.on("error", (e: Error) => {
    lastError = e.message;
  });
  let lastOk = Date.now();
  let fired = false;
  const timer = setInterval(() => {
    client.ping().then(
      () => {
        lastOk = Date.now();
      },
      (e: Error) => {
        lastError = e.message;
      },
    );
    if (!fired && Date.now() - lastOk > lostAfterMs) {
      fired = true;
      onLost(`lost the connection to Redis at ${displayUrl(url)} for ${Math.round((Date.now() - lastOk) / 1000)} s${lastError ? ` (${lastError})` : ""}`);
    }
  }, everyMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      client.disconnect();
    },
  };
}
