// A streaming answer is rendered a block at a time: finished blocks stay as they are, and what
// is on screen always matches rendering the whole text.
import { describe, expect, it } from "vitest";
import { MarkdownStream, renderMarkdown } from "./markdown";

const ANSWER = [
  "# Sales by region\n\n",
  "The **North** sold most. A formula: $x^2 + 1$.\n\n",
  "- one\n- two\n  continued\n\n",
  "```python\nimport pandas as pd\n\nframe = pd.read_csv('a.csv')\n```\n\n",
  "| region | units |\n|---|---|\n| North | 36 |\n\n",
  "> a quote\n\n",
  "Last line with a [link](https://example.com).",
].join("");

/** The text cut into pieces of `size` characters, as tokens arrive. */
function pieces(text: string, size: number): string[] {
  const out = [];
  for (let i = size; i < text.length + size; i += size) out.push(text.slice(0, i));
  return out;
}

const whole = (text: string) => {
  const host = document.createElement("div");
  host.append(renderMarkdown(text));
  return host.innerHTML;
};

describe("MarkdownStream", () => {
  it.each([1, 3, 17])("shows what rendering the whole text shows, %i characters at a time", (size) => {
    const root = document.createElement("div");
    const stream = new MarkdownStream(root);
    for (const text of pieces(ANSWER, size)) {
      stream.update(text);
      expect(root.innerHTML).toBe(whole(text));
    }
    expect(root.querySelector("table")).not.toBeNull();
    expect(root.querySelector(".cw-code")?.textContent).toContain("read_csv");
  });

  it("keeps finished blocks and re-renders only the last one", () => {
    const root = document.createElement("div");
    const stream = new MarkdownStream(root);
    stream.update("First paragraph.\n\nSecond");
    const first = root.querySelector("p");
    expect(first?.textContent).toBe("First paragraph.");
    for (const more of [" para", " paragraph", " paragraph goes on.\n\n- a\n- b"]) {
      stream.update(`First paragraph.\n\nSecond${more}`);
    }
    stream.update("First paragraph.\n\nSecond paragraph goes on.\n\n- a\n- b\n- c");
    // The same node: the finished paragraph was not rendered again.
    expect(root.querySelector("p")).toBe(first);
    expect(root.querySelectorAll("li")).toHaveLength(3);
  });

  it("starts again when the text is not a continuation", () => {
    const root = document.createElement("div");
    const stream = new MarkdownStream(root);
    stream.update("Old answer.\n\nMore");
    stream.update("A new **answer**");
    expect(root.innerHTML).toBe(whole("A new **answer**"));
    expect(root.textContent).not.toContain("Old");
  });

  it("sanitises every block as the whole text would be", () => {
    const root = document.createElement("div");
    const stream = new MarkdownStream(root);
    const text = 'Safe.\n\n<img src=x onerror="alert(1)">\n\n<script>alert(2)</script>\n\nEnd';
    for (const part of pieces(text, 5)) stream.update(part);
    expect(root.innerHTML).not.toContain("onerror");
    expect(root.querySelector("script")).toBeNull();
    expect(root.innerHTML).toBe(whole(text));
  });
});
