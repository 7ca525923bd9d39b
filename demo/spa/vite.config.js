// Vite builds the demo SPA into the directory nginx serves (build/spa by
// `make`). Hashed file names under /assets/ let nginx cache them for a
// year; index.html is never cached (conf/nginx.conf).
import { defineConfig } from 'vite';

export default defineConfig({
  build: {
    // No inline <script> or <style>, no data: URLs: the CSP has no
    // 'unsafe-inline' and img-src 'self'.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    emptyOutDir: true,
  },
});
