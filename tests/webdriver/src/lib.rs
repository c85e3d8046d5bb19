//! A small W3C WebDriver client over reqwest (the protocol is plain JSON over
//! HTTP), and the harness that starts `tauri-driver` for the real console binary.
//! Only what the end-to-end tests use: sessions, CSS lookups, clicks, typing,
//! text, scripts in the page, screenshots.

use base64::Engine;
use serde_json::{Value, json};
use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// `tauri-driver` on a free port pair; stopped with SIGTERM on drop so that
/// WebKitWebDriver goes with it.
pub struct TauriDriver {
    child: Child,
    pub port: u16,
    /// Where the driver's and the app's stderr go (the app inherits it): the
    /// tests scan it for secrets.
    pub log: PathBuf,
}

/// How many times the driver is started afresh (new ports) when it does not
/// become ready: on a busy machine the native driver once died at start, its
/// port taken by one of the tests' own outgoing connections.
const DRIVER_ATTEMPTS: u32 = 3;

impl TauriDriver {
    pub async fn start() -> TauriDriver {
        for attempt in 1..=DRIVER_ATTEMPTS {
            let driver = Self::spawn();
            if driver.ready(Duration::from_secs(20)).await {
                return driver;
            }
            eprintln!(
                "webdriver: tauri-driver on {} not ready (attempt {attempt}); restarting on new ports",
                driver.port
            );
            drop(driver);
        }
        panic!("tauri-driver did not become ready in {DRIVER_ATTEMPTS} attempts");
    }

    /// Starts the driver on two ports the kernel just handed out as free (both
    /// held while choosing, so neither is the other nor in use), not `port + 1`.
    fn spawn() -> TauriDriver {
        let (port, native) = {
            let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let b = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            (
                a.local_addr().unwrap().port(),
                b.local_addr().unwrap().port(),
            )
        };
        let bin = std::env::var("TAURI_DRIVER").unwrap_or_else(|_| "tauri-driver".into());
        let log = std::env::temp_dir().join(format!("gatehouse-wd-{port}.log"));
        let log_file = std::fs::File::create(&log).expect("the driver's log file");
        let child = Command::new(bin)
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("tauri-driver on PATH (cargo install tauri-driver --locked)");
        // Constructed at once, so that a failure from here on still stops it.
        TauriDriver { child, port, log }
    }

    /// Whether the driver answers `GET /status` with `ready: true` within
    /// `patience` (it listens before the native driver behind it is up).
    async fn ready(&self, patience: Duration) -> bool {
        let deadline = Instant::now() + patience;
        let http = reqwest::Client::new();
        while Instant::now() < deadline {
            let status = http
                .get(format!("http://127.0.0.1:{}/status", self.port))
                .timeout(Duration::from_secs(5))
                .send()
                .await;
            if let Ok(r) = status
                && let Ok(v) = r.json::<Value>().await
                && v["value"]["ready"].as_bool() == Some(true)
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    /// What the driver and the app wrote to stderr so far.
    pub fn log_text(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()).into_owned()
    }
}

/// How many times a new session is tried before the test gives up: a session
/// once failed to start on a cold, busy machine (`IncompleteMessage` from the
/// driver) while the same run passed alone.
const SESSION_ATTEMPTS: u32 = 5;

impl Drop for TauriDriver {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        // Shown after the run, as it was when the driver wrote to the terminal.
        eprint!("{}", self.log_text());
        let _ = std::fs::remove_file(&self.log);
    }
}

/// Every file under `dir` (recursively) as text, with its path; the OS
/// keychain's own files (`keyrings/`) are left out: they are the keychain.
pub fn files_as_text(dir: &std::path::Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "keyrings") {
                continue;
            }
            out.extend(files_as_text(&p));
        } else if let Ok(bytes) = std::fs::read(&p) {
            out.push((p, String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    out
}

/// The D-Bus name the console's single-instance plugin holds while it runs.
pub const SINGLE_INSTANCE_NAME: &str = "dev.gatehouse.console.SingleInstance";

/// Whether a console holds the single-instance name on this session bus
/// (`None` when the bus cannot be asked).
pub fn console_running() -> Option<bool> {
    let out = Command::new("dbus-send")
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
            &format!("string:{SINGLE_INSTANCE_NAME}"),
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).contains("boolean true"))
}

/// Waits until the previous test's console has exited: a console still
/// running would take the new launch as its second instance (which hands over
/// and exits), and the session would find no window. A test that failed
/// before closing its window leaves its console running: after 10 s it is
/// ended (it is this run's own app), so one failure does not fail every test
/// after it.
async fn wait_for_no_running_console() {
    let start = Instant::now();
    let mut ended = false;
    while console_running() == Some(true) {
        if !ended && start.elapsed() > Duration::from_secs(10) {
            if let Ok(app) = std::env::var("GATEHOUSE_APP") {
                eprintln!("a console from an earlier test still runs: ending it");
                let _ = std::process::Command::new("pkill")
                    .args(["-KILL", "-f", &app])
                    .status();
            }
            ended = true;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "a console from an earlier test still runs"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One WebDriver session: the console window.
pub struct Window {
    http: reqwest::Client,
    base: String,
}

#[derive(Debug, Clone)]
pub struct Element(String);

impl Window {
    /// Launches `app` through the driver (capabilities: `tauri:options` only).
    pub async fn open(driver: &TauriDriver, app: &str) -> Window {
        wait_for_no_running_console().await;
        let http = reqwest::Client::new();
        let root = format!("http://127.0.0.1:{}", driver.port);
        let caps =
            json!({"capabilities": {"alwaysMatch": {"tauri:options": {"application": app}}}});
        let mut last = String::new();
        let mut id = None;
        for attempt in 1..=SESSION_ATTEMPTS {
            let r = http
                .post(format!("{root}/session"))
                .json(&caps)
                .send()
                .await;
            match r {
                Ok(r) => match r.json::<Value>().await {
                    Ok(v) => match v["value"]["sessionId"].as_str() {
                        Some(s) => {
                            id = Some(s.to_owned());
                            break;
                        }
                        None => last = format!("no session: {v}"),
                    },
                    Err(e) => last = format!("session json: {e}"),
                },
                Err(e) => last = format!("new session: {e}"),
            }
            eprintln!("webdriver: session attempt {attempt} failed ({last}); retrying");
            tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
        }
        let id = id.unwrap_or_else(|| panic!("{SESSION_ATTEMPTS} session attempts failed: {last}"));
        Window {
            http,
            base: format!("{root}/session/{id}"),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req
            .send()
            .await
            .expect("webdriver")
            .json()
            .await
            .expect("json");
        v["value"].clone()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        let v = self
            .post("/elements", json!({"using": "css selector", "value": css}))
            .await;
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT].as_str().map(|s| Element(s.into())))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits up to `secs` for at least one element matching `css` whose text
    /// satisfies `ok`; returns it.
    pub async fn wait_for(&self, css: &str, secs: u64, ok: impl Fn(&str) -> bool) -> Element {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut last = String::new();
        loop {
            for e in self.find_all(css).await {
                let t = self.text(&e).await;
                if ok(&t) {
                    return e;
                }
                last = t;
            }
            if Instant::now() > deadline {
                let shot = self.screenshot("timeout").await;
                panic!(
                    "no `{css}` as expected within {secs} s (last text: {last:?}; screenshot {shot:?})"
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn find_in(&self, parent: &Element, css: &str) -> Option<Element> {
        let v = self
            .post(
                &format!("/element/{}/element", parent.0),
                json!({"using": "css selector", "value": css}),
            )
            .await;
        v[ELEMENT].as_str().map(|s| Element(s.into()))
    }

    pub async fn count(&self, css: &str) -> usize {
        self.find_all(css).await.len()
    }

    /// Waits up to `secs` until exactly `n` elements match `css` (a list that
    /// reloads after a change shows the old rows for a moment).
    pub async fn wait_for_count(&self, css: &str, n: usize, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let now = self.count(css).await;
            if now == n {
                return;
            }
            if Instant::now() > deadline {
                let shot = self.screenshot("timeout").await;
                panic!("{now} `{css}`, not {n}, after {secs} s (screenshot {shot:?})");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn click(&self, e: &Element) {
        self.post(&format!("/element/{}/click", e.0), json!({}))
            .await;
    }

    /// Clicks the first `css` element whose text satisfies `pick`, again until
    /// `then` (another selector) shows text satisfying `ok`: a live list may
    /// re-render under the first click.
    pub async fn click_until(
        &self,
        css: &str,
        pick: impl Fn(&str) -> bool,
        then: &str,
        ok: impl Fn(&str) -> bool,
    ) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let e = self.wait_for(css, 30, &pick).await;
            // WebKitWebDriver does not hit a table row itself: click its first cell.
            let cell = self.find_in(&e, "td").await.unwrap_or(e);
            self.click(&cell).await;
            for _ in 0..10 {
                for t in self.find_all(then).await {
                    if ok(&self.text(&t).await) {
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert!(
                Instant::now() < deadline,
                "clicking `{css}` never showed `{then}`"
            );
        }
    }

    pub async fn click_css(&self, css: &str) {
        let e = self.wait_for(css, 15, |_| true).await;
        self.click(&e).await;
    }

    pub async fn type_into(&self, e: &Element, text: &str) {
        self.post(&format!("/element/{}/value", e.0), json!({"text": text}))
            .await;
    }

    /// The element's rendered text (`innerText`). WebDriver's own text command
    /// drops text clipped by `overflow: hidden`, which an ellipsis cell is.
    pub async fn text(&self, e: &Element) -> String {
        self.post(
            "/execute/sync",
            json!({"script": "return arguments[0].innerText", "args": [{ELEMENT: e.0}]}),
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    pub async fn attribute(&self, e: &Element, name: &str) -> Option<String> {
        self.call(
            reqwest::Method::GET,
            &format!("/element/{}/attribute/{name}", e.0),
            None,
        )
        .await
        .as_str()
        .map(str::to_owned)
    }

    /// Runs an async script in the page; it calls `done(result)` (the last argument).
    pub async fn run_async(&self, script: &str, args: Value) -> Value {
        self.post("/execute/async", json!({"script": script, "args": args}))
            .await
    }

    /// Saves a screenshot of the window (after two animation frames, so it is
    /// the current frame) to `$SCREENSHOT_DIR/webdriver-<name>.png`.
    pub async fn screenshot(&self, name: &str) -> Option<PathBuf> {
        let _ = self
            .run_async(
                "const done = arguments[arguments.length - 1]; requestAnimationFrame(() => requestAnimationFrame(() => done(true)));",
                json!([]),
            )
            .await;
        let b64 = self
            .call(reqwest::Method::GET, "/screenshot", None)
            .await
            .as_str()?
            .to_string();
        let png = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
        let dir = PathBuf::from(
            std::env::var("SCREENSHOT_DIR").unwrap_or_else(|_| "target/screenshots".into()),
        );
        std::fs::create_dir_all(&dir).ok()?;
        let path = dir.join(format!("webdriver-{name}.png"));
        std::fs::write(&path, png).ok()?;
        Some(path)
    }

    pub async fn close(self) {
        let _ = self.call(reqwest::Method::DELETE, "", None).await;
    }
}

/// The demo's JSON line the app writes when `GATEHOUSE_DEMO_INFO` is set.
pub async fn demo_info(path: &std::path::Path) -> demo::DemoInfo {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(bytes) = std::fs::read(path)
            && let Ok(info) = serde_json::from_slice(&bytes)
        {
            return info;
        }
        assert!(Instant::now() < deadline, "the app wrote no demo info");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
