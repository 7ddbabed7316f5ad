/**
 * What the page exposes on `window.iclDashboard` for people poking at it in the console and for
 * the end-to-end tests: the Vega views by chart name, the current route, how many live events
 * arrived and how many times the current page refreshed its data.
 */
import type { View } from "vega";

export interface DashboardState {
  views: Map<string, View>;
  route: string;
  events: number;
  refreshes: number;
}

declare global {
  interface Window {
    iclDashboard: DashboardState;
  }
}

export function initState(): DashboardState {
  window.iclDashboard = { views: new Map(), route: "", events: 0, refreshes: 0 };
  return window.iclDashboard;
}
