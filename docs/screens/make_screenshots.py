"""README screenshots from `samla demo`: the phone in a room, the stage with a poll, the console.

    .venv/bin/python docs/screens/make_screenshots.py docs/screens

Runs the demo into a temporary SQLite file, serves it on a loopback port, and drives Debian's
Chromium (as the browser tests do)."""
import asyncio, os, re, subprocess, sys, tempfile, time
from pathlib import Path

import httpx
from playwright.async_api import async_playwright

ROOT = str(Path(__file__).resolve().parents[2])
OUT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "docs/screens")
WORK = tempfile.mkdtemp(prefix="samla-shots-")
PORT = 8131
BASE = f"http://127.0.0.1:{PORT}"
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-gpu"]

def main_env():
    env = dict(os.environ)
    env.update(DATABASE_URL=f"sqlite+aiosqlite:///{WORK}/samla.db", SECRET_KEY="readme-demo-secret-key-long")
    return env

async def run():
    env = main_env()
    out = subprocess.run([f"{ROOT}/.venv/bin/samla", "demo", "--base-url", BASE], env=env, cwd=WORK, capture_output=True, text=True, check=True).stdout
    blocks = {b.split(" (code")[0]: b for b in out.split("\n\n")}
    def link(title, kind):
        return re.search(rf"{kind}:\s+(\S+)", blocks[title]).group(1)
    server = subprocess.Popen([f"{ROOT}/.venv/bin/samla", "serve", "--port", str(PORT)], env=env, cwd=WORK)
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{BASE}/healthz").status_code == 200: break
            except httpx.HTTPError: pass
            time.sleep(0.2)
        strat_mod = link("Strategisk samverkan", "moderator")
        sid = re.search(r"/s/([^/]+)/moderate\?key=(\S+)", strat_mod)
        token = sid.group(2)
        info = httpx.get(f"{BASE}/api/v1/sessions/{sid.group(1)}", headers={"Authorization": f"Bearer {token}"}).json()
        poll = next(p for p in info["polls"] if p["status"] == "open")
        r = httpx.post(f"{BASE}/api/v1/sessions/{sid.group(1)}/stage", headers={"Authorization": f"Bearer {token}"}, json={"show": "poll", "id": poll["id"], "reveal_results": True})
        assert r.status_code == 200, r.text
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            lang = {"locale": "sv-SE", "extra_http_headers": {"Accept-Language": "sv"}}
            # The hall's screen.
            ctx = await browser.new_context(viewport={"width": 1920, "height": 1080}, **lang)
            page = await ctx.new_page()
            await page.goto(link("Strategisk samverkan", "stage"))
            await page.wait_for_timeout(1500)
            await page.screenshot(path=f"{OUT}/stage.png")
            # The console of the session with rooms open.
            ctx = await browser.new_context(viewport={"width": 1280, "height": 800}, **lang)
            page = await ctx.new_page()
            await page.goto(link("Gruppsamtal: att inleda samverkan", "moderator") + "#sec-rooms")
            await page.wait_for_timeout(1500)
            await page.screenshot(path=f"{OUT}/console.png")
            # A phone that joins the group talk and is placed in a room.
            ctx = await browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, device_scale_factor=2, **lang)
            page = await ctx.new_page()
            await page.goto(link("Gruppsamtal: att inleda samverkan", "join"))
            await page.locator("input[name=name]").fill("Ada")
            await page.locator("form button[type=submit]").last.click()
            await page.wait_for_timeout(1500)
            await page.screenshot(path=f"{OUT}/phone.png")
            await browser.close()
    finally:
        server.terminate(); server.wait()

asyncio.run(run())
