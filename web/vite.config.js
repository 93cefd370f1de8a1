import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The build lands inside the Python package, so the server needs no Node at run time.
export default defineConfig({
  plugins: [react()],
  build: { outDir: '../server/web', emptyOutDir: true },
});
