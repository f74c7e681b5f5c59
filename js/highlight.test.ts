// Code blocks in the languages of data work are highlighted, and say which language they are.
import { describe, expect, it } from "vitest";
import { renderMarkdown } from "./markdown";

function block(fence: string, code: string): HTMLElement {
  const host = document.createElement("div");
  host.append(renderMarkdown(`\`\`\`${fence}\n${code}\n\`\`\``));
  const found = host.querySelector<HTMLElement>(".cw-code");
  if (found === null) throw new Error("no code block");
  return found;
}

/** The text of every token span of a class, e.g. `hljs-keyword`. */
const tokens = (el: HTMLElement, scope: string) =>
  [...el.querySelectorAll(`.hljs-${scope}`)].map((span) => span.textContent);

describe("code highlighting", () => {
  it("highlights R", () => {
    const el = block("r", 'df <- read.csv("data.csv")\nif (nrow(df) > 0) print(TRUE)');
    expect(tokens(el, "string")).toContain('"data.csv"');
    expect(tokens(el, "keyword")).toContain("if");
    expect(tokens(el, "literal")).toContain("TRUE");
    expect(el.dataset.language).toBe("R");
  });

  it("highlights Julia, also fenced as jl", () => {
    for (const fence of ["julia", "jl"]) {
      const el = block(fence, 'function greet(name)\n    println("hi ", name)\nend');
      expect(tokens(el, "keyword")).toEqual(expect.arrayContaining(["function", "end"]));
      expect(tokens(el, "string")).toContain('"hi "');
      expect(el.dataset.language).toBe("Julia");
    }
  });

  it("highlights YAML, also fenced as yml", () => {
    for (const fence of ["yaml", "yml"]) {
      const el = block(fence, "name: demo\nreplicas: 3\nenabled: true");
      expect(tokens(el, "attr")).toEqual(["name:", "replicas:", "enabled:"]);
      expect(tokens(el, "number")).toContain("3");
      expect(el.dataset.language).toBe("YAML");
    }
  });

  it("highlights PostgreSQL under its usual names", () => {
    for (const fence of ["pgsql", "postgresql", "postgres", "psql"]) {
      const el = block(fence, "SELECT id::text FROM users WHERE name ILIKE 'a%' RETURNING id;");
      expect(tokens(el, "keyword"), fence).toEqual(expect.arrayContaining(["SELECT", "FROM", "ILIKE"]));
      expect(tokens(el, "string"), fence).toContain("'a%'");
      expect(el.dataset.language, fence).toBe("PostgreSQL");
    }
  });

  it("highlights the other SQL dialects as SQL", () => {
    const dialects = ["sql", "mysql", "sqlite", "duckdb", "bigquery", "tsql", "mssql", "snowflake"];
    for (const fence of dialects) {
      const el = block(fence, "SELECT name, COUNT(*) FROM users GROUP BY name LIMIT 10;");
      expect(tokens(el, "keyword"), fence).toEqual(expect.arrayContaining(["SELECT", "FROM", "GROUP"]));
      expect(tokens(el, "number"), fence).toContain("10");
      expect(el.dataset.language, fence).toBe("SQL");
    }
  });

  it("leaves unknown and plain blocks unlabelled and untouched", () => {
    for (const fence of ["", "text", "cobol-85"]) {
      const el = block(fence, "SELECT 1;");
      expect(el.querySelector("[class^='hljs-']"), fence).toBeNull();
      expect(el.dataset.language, fence).toBeUndefined();
      expect(el.querySelector("pre code")?.textContent).toBe("SELECT 1;");
    }
  });

  it("puts the Copy button before the code, in the strip above it", () => {
    const el = block("python", "x = 1");
    expect([...el.children].map((child) => child.tagName)).toEqual(["BUTTON", "PRE"]);
    expect(el.dataset.language).toBe("Python");
  });
});
