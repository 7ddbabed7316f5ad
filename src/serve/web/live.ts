/**
 * The page's live-update channel: one EventSource on /api/events for the whole app. Pages
 * subscribe to run events; on (re)connection every subscriber is told to refetch, since events
 * may have been missed meanwhile. The header shows whether the page is live.
 */
import type { RunEvent } from "../types.ts";

type Listener = (event: RunEvent | null) => void;

const listeners = new Set<Listener>();
let source: EventSource | null = null;
let opened = 0;

function indicator(text: string, live: boolean): void {
  const el = document.getElementById("live");
  if (!el) return;
  el.textContent = text;
  el.classList.toggle("on", live);
}

export function connectLive(): void {
  if (source) return;
  source = new EventSource("/api/events");
  source.addEventListener("open", () => {
    indicator("● live", true);
    // After a reconnection, what happened meanwhile is unknown: everyone refetches.
    if (opened++ > 0) for (const l of listeners) l(null);
  });
  source.addEventListener("error", () => indicator("○ reconnecting", false));
  source.addEventListener("run", (e) => {
    const event = JSON.parse((e as MessageEvent<string>).data) as RunEvent;
    window.iclDashboard.events++;
    for (const l of listeners) l(event);
  });
}

/** Calls `fn` on every run event (and with null after a reconnection); returns the unsubscribe. */
export function onRunEvent(fn: Listener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
