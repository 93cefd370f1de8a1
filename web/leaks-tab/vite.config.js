import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Built into the Python package; Locust serves it with --build-path (harness ui).
export default defineConfig({
  plugins: [react()],
  base: "./",
  build: { outDir: "../../harness/report/leaks_ui", emptyOutDir: true, chunkSizeWarningLimit: 4000 },
});
