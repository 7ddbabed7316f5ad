/**
 * The page's routes: the URL's hash parsed into path segments and a query, and the disposer a page
 * returns. Apart from app.ts so that the pages can name these types without importing the app
 * that imports them.
 */
export type Dispose = () => void;

export interface Route {
  path: string[];
  query: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#/, "") || "/";
  const [p, q = ""] = raw.split("?", 2);
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s; // a malformed escape: the page then says there is no such run
    }
  };
  return {
    path: p
      .split("/")
      .filter((s) => s !== "")
      .map(decode),
    query: new URLSearchParams(q),
  };
}
