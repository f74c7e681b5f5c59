import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // jsdom, not happy-dom: DOMPurify under happy-dom strips everything.
    environment: "jsdom",
    include: ["js/**/*.test.ts"],
  },
});
