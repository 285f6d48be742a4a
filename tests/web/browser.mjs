// Loads every screen of a running `pgq web` in headless chromium, checks
// what a user sees, requeues the held job with the page's own button, and
// saves a PNG of each screen. Run by tests/scripts/web_console.sh.
//   env: WEB_URL, WEB_USER, WEB_PASSWORD, HELD_JOB, XSS_JOB, OUT_DIR, CHROMIUM
import puppeteer from "puppeteer-core";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const base = env("WEB_URL");
const held = env("HELD_JOB");
const xss = env("XSS_JOB");
const out = env("OUT_DIR");

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
  console.log(`ok    ${message}`);
}

const browser = await puppeteer.launch({
  executablePath: env("CHROMIUM"),
  headless: true,
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
let alerted = false;
try {
  const page = await browser.newPage();
  page.on("dialog", async (dialog) => {
    alerted = true;
    await dialog.dismiss();
  });
  await page.setViewport({ width: 1280, height: 800 });
  await page.authenticate({ username: env("WEB_USER"), password: env("WEB_PASSWORD") });

  const visit = async (path, name) => {
    const response = await page.goto(base + path, { waitUntil: "load" });
    check(response.status() === 200, `${name}: ${path} answers 200`);
    await page.screenshot({ path: `${out}/web-${name}.png`, fullPage: true });
  };

  await visit("/", "overview");
  const backlog = await page.$$eval("#backlog tbody tr", (rows) => rows.length);
  check(backlog >= 2, `overview: backlog lists the entrypoints (${backlog})`);

  await visit("/jobs", "jobs");
  const ids = await page.$$eval("#jobs tbody tr td:first-child", (cells) =>
    cells.map((c) => c.textContent.trim()));
  check(ids.includes(held) && ids.includes(xss), "jobs: both jobs are listed");

  await visit(`/jobs/${xss}`, "job-escaped");
  const payload = await page.$eval("pre.payload", (e) => e.textContent);
  check(payload.includes("<script>alert(1)</script>"), "job: the payload shows as text");
  const scripts = await page.$$eval("script", (s) => s.length);
  check(scripts === 0 && !alerted, "job: the payload did not become a script");

  await visit("/failures", "failures");
  const groups = await page.$$eval("#failures tbody tr", (rows) => rows.map((r) => r.textContent));
  check(groups.some((g) => g.includes("web.flaky")), "failures: the held entrypoint is listed");

  await visit(`/jobs/${held}`, "job-held");
  check((await page.$("#requeue")) !== null, "job: a held job has a Requeue button");
  await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.click("#requeue button")]);
  check(page.url() === `${base}/jobs/${held}`, "requeue: redirected back to the job");
  const status = await page.$eval("body", (b) => b.textContent);
  check(!status.includes("Refused"), "requeue: accepted");
  await page.screenshot({ path: `${out}/web-job-requeued.png`, fullPage: true });
} finally {
  await browser.close();
}
