// Loads planet's pages in Debian's headless Chromium at phone (375 px) and desktop (1280 px)
// widths, saves a screenshot of each, and fails on a console error, a resource the CSP
// blocked, a failed request, or a horizontal scrollbar at phone width.
//
// Usage: node browser_check.cjs BASE_URL OUT_DIR PATH...   (BASE_URL must be loopback)
// playwright-core is resolved from PLAYWRIGHT_DIR (scripts/test.sh installs it there).

const path = require("path");
const { chromium } = require(path.join(process.env.PLAYWRIGHT_DIR || ".", "node_modules", "playwright-core"));

const [base, outDir, ...pages] = process.argv.slice(2);
if (!base || !base.startsWith("http://127.0.0.1:")) {
  console.error("usage: browser_check.cjs http://127.0.0.1:PORT OUT_DIR PATH...");
  process.exit(2);
}

const widths = [
  { name: "phone", width: 375, height: 812 },
  { name: "desktop", width: 1280, height: 900 },
];

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const problems = [];
  for (const size of widths) {
    const context = await browser.newContext({ viewport: { width: size.width, height: size.height } });
    for (const page_path of pages) {
      const page = await context.newPage();
      const where = `${page_path} at ${size.width}px`;
      page.on("console", (message) => {
        if (message.type() === "error") problems.push(`${where}: console error: ${message.text()}`);
      });
      page.on("pageerror", (error) => problems.push(`${where}: page error: ${error.message}`));
      page.on("requestfailed", (request) => problems.push(`${where}: request failed: ${request.url()} ${request.failure() && request.failure().errorText}`));
      const response = await page.goto(base + page_path, { waitUntil: "load" });
      if (!response || response.status() !== 200) problems.push(`${where}: HTTP ${response && response.status()}`);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      if (size.name === "phone" && overflow > 0) problems.push(`${where}: horizontal scrollbar (${overflow}px too wide)`);
      const file = path.join(outDir, `${page_path.replace(/[^a-z0-9]+/gi, "_") || "index"}-${size.name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      console.log(`checked ${where}: screenshot ${file}`);
      await page.close();
    }
    await context.close();
  }
  await browser.close();
  for (const problem of problems) console.log(`PROBLEM ${problem}`);
  console.log(problems.length === 0 ? "browser: no problems" : `browser: ${problems.length} problems`);
  process.exit(problems.length === 0 ? 0 : 1);
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
