// History-API routing: links inside the app change the page without a
// reload; nginx serves index.html for every page path (and never for
// /api/), so a reload or a mailed link lands on the same page.
export type Page = (main: HTMLElement) => Promise<void> | void;

const routes = new Map<string, Page>();
let render: () => void = () => {};

export function route(path: string, page: Page): void { routes.set(path, page); }
export function pageFor(path: string): Page | undefined { return routes.get(path); }
export function setRender(f: () => void): void { render = f; }

export function go(path: string, replace = false): void {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  render();
}

// Only paths of this site: a redirect target from a query string or a
// fragment never leaves it (no //host, no /\host, no scheme).
export function safePath(p: string | null): string {
  return p && /^\/(?![/\\])[^\s\\]*$/.test(p) ? p : '/';
}

document.addEventListener('click', (ev) => {
  const a = (ev.target as Element | null)?.closest?.('a');
  if (!a || a.target || a.hasAttribute('download') || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !routes.has(url.pathname)) return;
  ev.preventDefault();
  go(url.pathname + url.search + url.hash);
});
window.addEventListener('popstate', () => render());
