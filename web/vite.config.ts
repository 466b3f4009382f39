import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The page: web/index.html + web/src (Preact, TypeScript) → dist/public, which the API serves.
// JSX goes through Vite's own transform with Preact's automatic runtime, so no Babel preset is needed.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/public', import.meta.url)),
    emptyOutDir: true,
    // The page's Content-Security-Policy allows scripts from files only, never inline.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    reportCompressedSize: false,
    // Two pages: the workspace (/) and the operations dashboard (/admin).
    rollupOptions: {
      input: {
        main: fileURLToPath(new URL('index.html', import.meta.url)),
        admin: fileURLToPath(new URL('admin.html', import.meta.url)),
      },
    },
  },
});
