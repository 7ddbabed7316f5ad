/**
 * A chart on the page that can update in place: the first `show(spec)` embeds it (vega-embed,
 * SVG renderer, no action menu: nothing leaves the machine); a later spec that differs only in its
 * named `datasets` (src/report/charts.ts) replaces the data through `view.change`, so a live chart
 * keeps its place and does not flicker; any other difference re-embeds. Calls are serialised.
 *
 * Each chart registers its Vega view in `window.iclDashboard.views` under its name, and counts its
 * renders in the element's `data-renders` (of which `data-embeds` were full embeds), so tests can
 * read what was drawn and how.
 */
import embed, { type Result } from "vega-embed";
import { changeset, truthy } from "vega";
import type { TopLevelSpec } from "vega-lite";

export class LiveChart {
  private result: Result | null = null;
  private key = "";
  private queue: Promise<void> = Promise.resolve();
  private renders = 0;
  private embeds = 0;

  constructor(
    readonly el: HTMLElement,
    readonly name: string,
  ) {
    el.classList.add("chart");
    el.dataset.chart = name;
  }

  show(spec: TopLevelSpec): Promise<void> {
    this.queue = this.queue
      .then(() => this.draw(spec))
      .catch((e) => {
        this.el.textContent = `This chart could not be drawn: ${(e as Error).message}`;
      });
    return this.queue;
  }

  private async draw(spec: TopLevelSpec): Promise<void> {
    const { datasets, ...rest } = spec as TopLevelSpec & { datasets?: Record<string, unknown[]> };
    const key = JSON.stringify(rest);
    if (this.result && key === this.key && this.el.isConnected) {
      const view = this.result.view;
      for (const [name, values] of Object.entries(datasets ?? {})) {
        view.change(
          name,
          changeset()
            .remove(truthy)
            .insert(values.map((v) => ({ ...(v as object) }))),
        );
      }
      await view.runAsync();
    } else {
      this.result?.finalize();
      this.result = await embed(this.el, spec, { renderer: "svg", actions: false, mode: "vega-lite", tooltip: true });
      this.key = key;
      this.el.dataset.embeds = String(++this.embeds);
    }
    window.iclDashboard.views.set(this.name, this.result.view);
    this.el.dataset.renders = String(++this.renders);
  }

  dispose(): void {
    this.result?.finalize();
    this.result = null;
    window.iclDashboard.views.delete(this.name);
  }
}
