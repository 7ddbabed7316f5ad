/**
 * The dashboard's single-page app. Routes live in the URL's hash, so the server has one page:
 *   #/                         runs list (?experiment=E filters)
 *   #/run/<id>                 one run: ICL score and training loss, loss by position, head scores, ablation
 *   #/run/<id>/attention       attention view (?checkpoint=T&text=… or &length=N&seed=S)
 *   #/compare?runs=a,b         ICL curves of several runs overlaid (or ?experiment=E)
 *   #/reports                  the lab's experiment reports: HTML link, summary
 *   #/reports/<name>           one report's figures drawn from its Vega-Lite specs
 * Each page returns a disposer, called when the route changes.
 */
import { fill, h } from "./dom.ts";
import { connectLive } from "./live.ts";
import { initState } from "./state.ts";
import { runsPage } from "./pages/runs.ts";
import { runPage } from "./pages/run.ts";
import { attentionPage } from "./pages/attention.ts";
import { comparePage } from "./pages/compare.ts";
import { reportPage, reportsPage } from "./pages/reports.ts";
import { parseHash, type Dispose } from "./route.ts";

let dispose: Dispose | null = null;

function route(): void {
  const main = document.getElementById("app")!;
  dispose?.();
  dispose = null;
  window.iclDashboard.views.clear();
  window.iclDashboard.refreshes = 0;
  const r = parseHash(location.hash);
  window.iclDashboard.route = r.path.join("/");
  const section = r.path.length === 0 ? "runs" : r.path[0] === "compare" || r.path[0] === "reports" ? r.path[0] : "";
  for (const a of document.querySelectorAll<HTMLAnchorElement>("nav a")) a.classList.toggle("active", a.dataset.nav === section);
  main.replaceChildren();
  if (r.path.length === 0) dispose = runsPage(main, r);
  else if (r.path[0] === "run" && r.path.length === 2) dispose = runPage(main, r.path[1]);
  else if (r.path[0] === "run" && r.path.length === 3 && r.path[2] === "attention") dispose = attentionPage(main, r.path[1], r.query);
  else if (r.path[0] === "compare") dispose = comparePage(main, r.query);
  else if (r.path[0] === "reports" && r.path.length === 1) dispose = reportsPage(main);
  else if (r.path[0] === "reports" && r.path.length === 2) dispose = reportPage(main, r.path[1]);
  else fill(main, h("h1", {}, "Not found"), h("p", {}, "No page here. ", h("a", { href: "#/" }, "Back to the runs.")));
}

initState();
window.addEventListener("hashchange", route);
connectLive();
route();
