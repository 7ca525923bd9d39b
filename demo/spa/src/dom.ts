// Building the page from data without ever parsing a string as HTML: text
// is always a text node, attributes are set one by one. Nothing here
// writes innerHTML, so no value from the API can become markup.
type Child = Node | string | null | undefined | false;
type Attrs = Record<string, string | boolean | EventListener | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(name.replace(/^on/, ''), value);
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, value);
  }
  append(el, ...children);
  return el;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  }
}

let nextId = 0;

// A labelled input: the <label> names the field for screen readers and
// for the browser tests, which find fields by their label.
export function field(label: string, attrs: Attrs & { name: string }): HTMLElement {
  const id = `f${++nextId}-${attrs.name}`;
  return h('div', { class: 'field' }, h('label', { for: id }, label), h('input', { id, required: true, ...attrs }));
}

// A form whose submit handler gets its values; while it runs the submit
// button is disabled, and any error it throws is announced in the form.
export function form(name: string, children: Child[], submitLabel: string,
                     onSubmit: (values: Record<string, string>, form: HTMLFormElement) => Promise<void>): HTMLFormElement {
  const status = h('p', { class: 'status', role: 'alert' });
  const submit = h('button', { type: 'submit' }, submitLabel);
  const f = h('form', { 'aria-label': name, novalidate: false }, ...children, submit, status);
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    status.textContent = '';
    status.classList.remove('error');
    const values: Record<string, string> = {};
    for (const [k, v] of new FormData(f).entries()) values[k] = String(v);
    submit.disabled = true;
    try {
      await onSubmit(values, f);
    } catch (err) {
      say(status, err);
    } finally {
      submit.disabled = false;
    }
  });
  return f;
}

// Shows an error (or a message) in a live region.
export function say(where: HTMLElement, what: unknown, ok = false): void {
  where.textContent = what instanceof Error ? what.message : String(what);
  where.classList.toggle('error', !ok);
  where.classList.toggle('ok', ok);
}

export function section(title: string, ...children: Child[]): HTMLElement {
  return h('section', { 'aria-label': title }, h('h2', {}, title), ...children);
}

export function when(unix: number): string {
  return unix ? new Date(unix * 1000).toLocaleString() : 'never';
}

// An SVG from spa-authd (the QR code, drawn by libqrencode) as DOM nodes:
// parsed as XML, and only <svg>, <rect> and <path> with their geometry
// attributes are copied, so even a hostile answer cannot add a script,
// an event handler or a link.
export function safeSvg(text: string, label: string): SVGSVGElement | null {
  const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
  const src = doc.documentElement;
  if (src.nodeName !== 'svg' || doc.getElementsByTagName('parsererror').length) return null;
  const ns = 'http://www.w3.org/2000/svg';
  // Each element's attributes, each with the only shape its value may have.
  const number = /^[0-9. ]{1,32}%?$/;
  const colour = /^(#[0-9a-fA-F]{3,6}|none)$/;
  const allowed = new Map<string, Map<string, RegExp>>([
    ['svg', new Map([['viewBox', /^[0-9. ]{1,32}$/], ['shape-rendering', /^crispEdges$/], ['width', number], ['height', number]])],
    ['rect', new Map([['x', number], ['y', number], ['width', number], ['height', number], ['fill', colour]])],
    ['path', new Map([['d', /^[MmHhVvLlZz0-9 .,-]{1,200000}$/], ['fill', colour]])],
  ]);
  const copy = (node: Element): Element | null => {
    const keep = allowed.get(node.nodeName);
    if (!keep) return null;
    const out = document.createElementNS(ns, node.nodeName);
    for (const [a, shape] of keep) {
      const v = node.getAttribute(a);
      if (v !== null && shape.test(v)) out.setAttribute(a, v);
    }
    for (const child of Array.from(node.children)) {
      const c = copy(child);
      if (c) out.appendChild(c);
    }
    return out;
  };
  const svg = copy(src) as SVGSVGElement | null;
  if (!svg) return null;
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  svg.setAttribute('class', 'qr');
  return svg;
}
